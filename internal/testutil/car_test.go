package testutil

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// carv1 writes a CARv1 with root and the blocks of order, each with the
// bytes blocks gives (which may not match its CID).
func carv1(t *testing.T, root cid.Cid, blocks map[cid.Cid][]byte, order []cid.Cid) []byte {
	t.Helper()
	var b []byte
	ld := func(parts ...[]byte) {
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		b = binary.AppendUvarint(b, uint64(n))
		for _, p := range parts {
			b = append(b, p...)
		}
	}
	hdr := []byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0xd8, 0x2a}
	rb := append([]byte{0x00}, root.Bytes()...)
	hdr = append(hdr, 0x58, byte(len(rb)))
	hdr = append(hdr, rb...)
	hdr = append(hdr, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01)
	ld(hdr)
	for _, c := range order {
		ld(c.Bytes(), blocks[c])
	}
	return b
}

func TestReadCAR(t *testing.T) {
	mh, _ := multihash.Sum([]byte("hello"), multihash.SHA2_256, -1)
	c := cid.NewCidV1(cid.Raw, mh)
	good := carv1(t, c, map[cid.Cid][]byte{c: []byte("hello")}, []cid.Cid{c})
	roots, blocks := MustReadCAR(t, bytes.NewReader(good))
	if len(roots) != 1 || !roots[0].Equals(c) || len(blocks) != 1 || string(blocks[0].Data) != "hello" {
		t.Fatalf("roots %v, blocks %v", roots, blocks)
	}
	bad := carv1(t, c, map[cid.Cid][]byte{c: []byte("hellO")}, []cid.Cid{c})
	if _, _, err := ReadCAR(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "block 0") {
		t.Errorf("a block that does not match its CID: %v", err)
	}
	if _, _, err := ReadCAR(bytes.NewReader(good[:len(good)-2])); err == nil {
		t.Error("a cut CAR: no error")
	}
}
