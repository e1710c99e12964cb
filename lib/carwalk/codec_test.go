package carwalk_test

import (
	"errors"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/carwalk"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// codecBlock is a block of codec holding data.
func codecBlock(t testing.TB, codec uint64, data string) block {
	t.Helper()
	mh, err := multihash.Sum([]byte(data), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return block{cid.NewCidV1(codec, mh), []byte(data)}
}

// Blocks of codecs that cannot link (cbor, json, raw, identity) are leaves
// of a walk, written and never decoded: bytes no decoder reads are fine.
// A block of a codec the streamer does not know is written, then ends the
// walk with a *dag.CodecError naming the codec, since its links are
// needed.
func TestWalkCodecs(t *testing.T) {
	cbor := codecBlock(t, 0x51, "\xa1\x01\x02")        // {1: 2}: no string key, refused by the IPLD decoder
	json := codecBlock(t, 0x0200, `{"a":1,"a":2}`)     // a repeated key, refused too
	jsonLink := codecBlock(t, 0x0200, `{"/":"bafkq"}`) // not a link in json
	raw := rawBlock(t, "raw")
	identity := codecBlock(t, 0x00, "identity-codec bytes")
	inner := cborBlock(t, multihash.SHA2_256, cbor.cid, json.cid)
	root := cborBlock(t, multihash.SHA2_256, cbor.cid, json.cid, jsonLink.cid, raw.cid, identity.cid, inner.cid)
	private := codecBlock(t, 0x300000, "a codec nobody decodes")
	withPrivate := cborBlock(t, multihash.SHA2_256, raw.cid, private.cid, json.cid)
	s, _ := newStore(t, root.cid, []block{cbor, json, jsonLink, raw, identity, inner, root, private, withPrivate})

	got, err := dump(t, s, root.cid)
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, got, root, cbor, json, jsonLink, raw, identity, inner)
	got, err = dump(t, s, root.cid, carwalk.WithDups(true))
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, got, root, cbor, json, jsonLink, raw, identity, inner, cbor, json)
	for _, leaf := range []block{cbor, json, jsonLink, raw, identity} {
		got, err := dump(t, s, leaf.cid)
		if err != nil {
			t.Fatalf("%s as the root: %v", leaf.cid, err)
		}
		checkOrder(t, got, leaf)
	}

	got, err = dump(t, s, withPrivate.cid)
	var ce *dag.CodecError
	if !errors.As(err, &ce) || ce.Codec != 0x300000 || !ce.CID.Equals(private.cid) || errors.Is(err, dag.ErrDecode) {
		t.Fatalf("walk through an unknown codec: %v, want a *dag.CodecError for 0x300000 (not ErrDecode)", err)
	}
	checkOrder(t, got, withPrivate, raw, private)
}
