package dag

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/multicodec"
	basicnode "github.com/ipld/go-ipld-prime/node/basic"
	"github.com/ipld/go-ipld-prime/traversal"
	mc "github.com/multiformats/go-multicodec"

	// Codecs a DAG may be made of, registered for decoding (paths walk
	// inside cbor and json blocks as inside dag-cbor and dag-json ones).
	_ "github.com/ipld/go-ipld-prime/codec/cbor"
	_ "github.com/ipld/go-ipld-prime/codec/dagcbor"
	_ "github.com/ipld/go-ipld-prime/codec/dagjson"
	_ "github.com/ipld/go-ipld-prime/codec/json"
	_ "github.com/ipld/go-ipld-prime/codec/raw"
)

// ErrDecode is returned (wrapped) for a verified block that does not decode
// with its CID's codec.
var ErrDecode = errors.New("block does not decode as its codec")

// CanLink reports whether blocks of codec may carry links. Raw, cbor,
// json and identity blocks cannot: they are leaves of any DAG, whatever
// their bytes, and are never decoded to find links. Every other codec may,
// including those this package does not decode.
func CanLink(codec uint64) bool {
	switch codec {
	case cid.Raw, uint64(mc.Cbor), uint64(mc.Json), uint64(mc.Identity):
		return false
	}
	return true
}

// CodecError is returned for a block whose CID's codec this package does
// not decode (links or a path had to be read from it). It is not a corrupt
// block: the bytes match the CID, the codec is unknown here.
type CodecError struct {
	CID   cid.Cid
	Codec uint64
}

func (e *CodecError) Error() string {
	return fmt.Sprintf("dag: %s: unsupported codec 0x%x", e.CID, e.Codec)
}

// Links decodes a block with its CID's codec and returns its links in
// order. Blocks of codecs that cannot link (CanLink) have none and are
// not decoded; a codec this package does not decode is a *CodecError.
func Links(c cid.Cid, data []byte) ([]cid.Cid, error) {
	if !CanLink(c.Prefix().Codec) {
		return nil, nil
	}
	n, err := Decode(c, data)
	if err != nil {
		return nil, err
	}
	links, err := traversal.SelectLinks(n)
	if err != nil {
		return nil, fmt.Errorf("%w: links of %s: %v", ErrDecode, c, err)
	}
	out := make([]cid.Cid, 0, len(links))
	for _, l := range links {
		cl, ok := l.(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("dag: %s links to a non-CID link", c)
		}
		out = append(out, cl.Cid)
	}
	return out, nil
}

// Decode decodes a block with its CID's codec: dag-pb, dag-cbor, dag-json,
// cbor, json or raw. Any other codec is a *CodecError; bytes the codec
// does not read wrap ErrDecode.
func Decode(c cid.Cid, data []byte) (datamodel.Node, error) {
	codec := c.Prefix().Codec
	proto := datamodel.NodePrototype(basicnode.Prototype.Any)
	if codec == cid.DagProtobuf {
		proto = dagpb.Type.PBNode
	}
	dec, err := multicodec.LookupDecoder(codec)
	if err != nil {
		return nil, &CodecError{CID: c, Codec: codec}
	}
	nb := proto.NewBuilder()
	if err := dec(nb, bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDecode, c, err)
	}
	return nb.Build(), nil
}
