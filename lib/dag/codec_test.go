package dag_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

func codecCID(t *testing.T, codec uint64, data []byte) cid.Cid {
	t.Helper()
	mh, err := multihash.Sum(data, multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(codec, mh)
}

// Raw, cbor, json and identity blocks have no links, whatever their bytes:
// they are not decoded. dag-pb, dag-cbor, dag-json and unknown codecs may
// link.
func TestLinksOfLeafCodecs(t *testing.T) {
	junk := []byte{0xff, 0xfe, '{', 0x00}
	for _, codec := range []uint64{cid.Raw, 0x51, 0x0200, 0x00} {
		if dag.CanLink(codec) {
			t.Errorf("CanLink(0x%x)", codec)
		}
		c := codecCID(t, codec, junk)
		if links, err := dag.Links(c, junk); err != nil || links != nil {
			t.Errorf("codec 0x%x: %v, %v; want no links and no error", codec, links, err)
		}
	}
	for _, codec := range []uint64{cid.DagProtobuf, cid.DagCBOR, cid.DagJSON, 0x300000} {
		if !dag.CanLink(codec) {
			t.Errorf("!CanLink(0x%x)", codec)
		}
	}
}

// A codec no decoder is registered for is a *dag.CodecError naming
// it, not a block that does not decode; cbor and json decode (a path may
// go inside them).
func TestDecodeCodecs(t *testing.T) {
	data := []byte("bytes")
	c := codecCID(t, 0x300000, data)
	for name, fn := range map[string]func() error{
		"Links":    func() error { _, err := dag.Links(c, data); return err },
		"Decode":   func() error { _, err := dag.Decode(c, data); return err },
		"PathStep": func() error { _, _, err := dag.PathStep(c, data, []string{"a"}); return err },
	} {
		err := fn()
		var ce *dag.CodecError
		if !errors.As(err, &ce) || ce.Codec != 0x300000 || !ce.CID.Equals(c) || errors.Is(err, dag.ErrDecode) ||
			!strings.Contains(err.Error(), "unsupported codec 0x300000") {
			t.Errorf("%s: %v, want a *dag.CodecError saying unsupported codec 0x300000", name, err)
		}
	}
	for codec, doc := range map[uint64][]byte{0x51: {0xa1, 0x61, 0x61, 0x01}, 0x0200: []byte(`{"a":1}`)} {
		c := codecCID(t, codec, doc)
		next, used, err := dag.PathStep(c, doc, []string{"a"})
		if err != nil || !next.Equals(c) || used != 1 {
			t.Errorf("path inside a 0x%x block: %s, %d, %v", codec, next, used, err)
		}
	}
}
