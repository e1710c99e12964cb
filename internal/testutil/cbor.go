package testutil

import (
	"bytes"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
)

// CBORLinks returns the dag-cbor encoding of a list of links: the
// smallest non-UnixFS node with children, for DAG walk tests.
func CBORLinks(links ...cid.Cid) ([]byte, error) {
	n, err := qp.BuildList(basicnode.Prototype.Any, int64(len(links)), func(la datamodel.ListAssembler) {
		for _, l := range links {
			qp.ListEntry(la, qp.Link(cidlink.Link{Cid: l}))
		}
	})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := dagcbor.Encode(n, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
