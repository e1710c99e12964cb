package streamer

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

	// Codecs a DAG may be made of, registered for decoding.
	_ "github.com/ipld/go-ipld-prime/codec/dagcbor"
	_ "github.com/ipld/go-ipld-prime/codec/dagjson"
	_ "github.com/ipld/go-ipld-prime/codec/raw"
)

// ErrDecode is returned (wrapped) for a verified block that does not decode
// with its CID's codec.
var ErrDecode = errors.New("block does not decode as its codec")

// Links decodes a block with its CID's codec and returns its links in
// order. Raw blocks have none.
func Links(c cid.Cid, data []byte) ([]cid.Cid, error) {
	if c.Prefix().Codec == cid.Raw {
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
			return nil, fmt.Errorf("streamer: %s links to a non-CID link", c)
		}
		out = append(out, cl.Cid)
	}
	return out, nil
}

// Decode decodes a block with its CID's codec.
func Decode(c cid.Cid, data []byte) (datamodel.Node, error) {
	codec := c.Prefix().Codec
	proto := datamodel.NodePrototype(basicnode.Prototype.Any)
	if codec == cid.DagProtobuf {
		proto = dagpb.Type.PBNode
	}
	dec, err := multicodec.LookupDecoder(codec)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: unsupported codec 0x%x", ErrDecode, c, codec)
	}
	nb := proto.NewBuilder()
	if err := dec(nb, bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDecode, c, err)
	}
	return nb.Build(), nil
}
