package streamer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/multicodec"
	basicnode "github.com/ipld/go-ipld-prime/node/basic"
	"github.com/ipld/go-ipld-prime/traversal"
	"github.com/multiformats/go-multihash"

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

// Walk visits the DAG below root depth first, parents before children and
// children in link order, calling fn with each verified block once (a block
// linked twice is visited the first time). The children of each node are
// read as one planned Stream, so a file of many leaves takes a few merged
// ranged reads. fn must not keep the data after it returns.
func (s *Streamer) Walk(ctx context.Context, root cid.Cid, containing multihash.Multihash, fn func(cid.Cid, []byte) error) error {
	data, err := s.Block(ctx, root.Hash(), containing)
	if err != nil {
		return err
	}
	seen := map[string]bool{root.KeyString(): true}
	if err := fn(root, data); err != nil {
		return err
	}
	var below func(c cid.Cid, data []byte) error
	below = func(c cid.Cid, data []byte) error {
		links, err := Links(c, data)
		if err != nil {
			return err
		}
		var want []cid.Cid
		for _, l := range links {
			if !seen[l.KeyString()] {
				seen[l.KeyString()] = true
				want = append(want, l)
			}
		}
		if len(want) == 0 {
			return nil
		}
		st := s.Stream(ctx, want, containing, nil)
		defer st.Close()
		for {
			b, err := st.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := fn(b.CID, b.Data); err != nil {
				return err
			}
			if err := below(b.CID, b.Data); err != nil {
				return err
			}
			st.Recycle(b)
		}
	}
	return below(root, data)
}
