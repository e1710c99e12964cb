package testutil

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
)

// Block is a block read from a CAR.
type Block struct {
	CID  cid.Cid
	Data []byte
}

// ReadCAR reads a whole CARv1 from r, checking every block against its
// CID (here, whatever go-car's options). On an error it returns what it
// read before it.
func ReadCAR(r io.Reader) (roots []cid.Cid, blocks []Block, err error) {
	br, err := carv2.NewBlockReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("CAR header: %w", err)
	}
	if br.Version != 1 {
		return br.Roots, nil, fmt.Errorf("CAR version %d, want 1", br.Version)
	}
	for {
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			return br.Roots, blocks, nil
		}
		if err != nil {
			return br.Roots, blocks, fmt.Errorf("CAR block %d: %w", len(blocks), err)
		}
		if got, err := b.Cid().Prefix().Sum(b.RawData()); err != nil || !got.Equals(b.Cid()) {
			return br.Roots, blocks, fmt.Errorf("CAR block %d: %s does not match its CID (%v)", len(blocks), b.Cid(), err)
		}
		blocks = append(blocks, Block{b.Cid(), b.RawData()})
	}
}

// MustReadCAR is ReadCAR failing tb on an error.
func MustReadCAR(tb testing.TB, r io.Reader) (roots []cid.Cid, blocks []Block) {
	tb.Helper()
	roots, blocks, err := ReadCAR(r)
	if err != nil {
		tb.Fatalf("%v (after %d blocks)", err, len(blocks))
	}
	return roots, blocks
}
