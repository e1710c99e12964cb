package pack_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// scanCAR returns a CARv1 of n raw blocks of 100 bytes each (root: the
// first), the blocks' CIDs and the byte offset of each section.
func scanCAR(t *testing.T, n int) ([]byte, []cid.Cid, []int) {
	t.Helper()
	var cids []cid.Cid
	var blocks [][]byte
	for i := range n {
		data := bytes.Repeat([]byte{byte('a' + i)}, 100)
		mh, err := multihash.Sum(data, multihash.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		cids = append(cids, cid.NewCidV1(cid.Raw, mh))
		blocks = append(blocks, data)
	}
	head, err := dag.CARHeader(cids[0])
	if err != nil {
		t.Fatal(err)
	}
	var car bytes.Buffer
	car.Write(head)
	var offsets []int
	for i := range blocks {
		offsets = append(offsets, car.Len())
		if err := dag.WriteSection(&car, cids[i], blocks[i]); err != nil {
			t.Fatal(err)
		}
	}
	return car.Bytes(), cids, offsets
}

// Scan finds every block where it is and hashes the whole file.
func TestScan(t *testing.T) {
	car, cids, _ := scanCAR(t, 3)
	info, err := pack.Scan(bytes.NewReader(car))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(car)
	want, _ := multihash.Encode(sum[:], multihash.SHA2_256)
	if !bytes.Equal(info.Multihash, want) || info.Size != int64(len(car)) || len(info.Blobs) != 3 {
		t.Fatalf("info %+v", info)
	}
	for i, b := range info.Blobs {
		if !bytes.Equal(b.Multihash, cids[i].Hash()) || b.Length != 100 {
			t.Errorf("blob %d: %+v", i, b)
		}
		if got := car[b.Offset : b.Offset+b.Length]; !bytes.Equal(got, bytes.Repeat([]byte{byte('a' + i)}, 100)) {
			t.Errorf("blob %d: offset %d points at %q", i, b.Offset, got[:8])
		}
	}
}

// A refused CAR says which block, where and why; a failing reader is not
// a bad CAR.
func TestScanRefuses(t *testing.T) {
	car, cids, offsets := scanCAR(t, 3)
	flipped := bytes.Clone(car)
	flipped[offsets[1]+50] ^= 1 // inside block 1's data
	readFail := errors.New("connection reset")
	for _, tc := range []struct {
		name    string
		r       io.Reader
		opts    []pack.ScanOption
		invalid bool
		block   int // -1: no *BlockError
		cid     cid.Cid
		msg     string
	}{
		{"flipped byte", bytes.NewReader(flipped), nil, true, 1, cids[1], "does not match the CID"},
		{"truncated", bytes.NewReader(car[:len(car)-10]), nil, true, 2, cids[2], "block data"},
		{"section bound", bytes.NewReader(car), []pack.ScanOption{pack.WithMaxSectionBytes(120)}, true, 0, cids[0], "over the 120-byte bound"},
		{"block bound", bytes.NewReader(car), []pack.ScanOption{pack.WithMaxBlocks(2)}, true, 2, cids[2], "more than 2 blocks"},
		{"not a CAR", strings.NewReader("hello, world"), nil, true, -1, cid.Undef, "header"},
		{"reader fails", io.MultiReader(bytes.NewReader(car[:offsets[2]+5]), iotest.ErrReader(readFail)), nil, false, -1, cid.Undef, "connection reset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pack.Scan(tc.r, tc.opts...)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, pack.ErrInvalidCAR) != tc.invalid {
				t.Errorf("ErrInvalidCAR %v, want %v: %v", !tc.invalid, tc.invalid, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			var be *pack.BlockError
			if !errors.As(err, &be) {
				if tc.block >= 0 {
					t.Fatalf("not a *BlockError: %v", err)
				}
				return
			}
			if be.Index != tc.block || be.Offset != int64(offsets[tc.block]) || !be.CID.Equals(tc.cid) {
				t.Errorf("block %d at %d (%s), want %d at %d (%s)", be.Index, be.Offset, be.CID, tc.block, offsets[tc.block], tc.cid)
			}
			if !strings.Contains(err.Error(), tc.cid.String()) {
				t.Errorf("error %q does not name %s", err, tc.cid)
			}
		})
	}
}
