package dag_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	basicnode "github.com/ipld/go-ipld-prime/node/basic"
	"github.com/multiformats/go-multihash"
)

func TestPathStep(t *testing.T) {
	leafMH, _ := multihash.Sum([]byte("leaf"), multihash.SHA2_256, -1)
	leaf := cid.NewCidV1(cid.Raw, leafMH)
	n, err := qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "a", qp.Map(2, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "list", qp.List(2, func(la datamodel.ListAssembler) {
				qp.ListEntry(la, qp.Int(7))
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: leaf}))
			}))
			qp.MapEntry(ma, "s", qp.String("text"))
		}))
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dagcbor.Encode(n, &buf); err != nil {
		t.Fatal(err)
	}
	mh, _ := multihash.Sum(buf.Bytes(), multihash.SHA2_256, -1)
	c := cid.NewCidV1(cid.DagCBOR, mh)

	next, used, err := dag.PathStep(c, buf.Bytes(), []string{"a", "list", "1", "rest"})
	if err != nil || !next.Equals(leaf) || used != 3 {
		t.Fatalf("through the link: %s, %d, %v", next, used, err)
	}
	next, used, err = dag.PathStep(c, buf.Bytes(), []string{"a", "list", "0"})
	if err != nil || !next.Equals(c) || used != 3 {
		t.Fatalf("ending inside the block: %s, %d, %v", next, used, err)
	}
	for _, tc := range []struct {
		segs     []string
		segment  int
		notFound bool
	}{
		{[]string{"a", "nope"}, 1, true},
		{[]string{"a", "list", "x"}, 2, false},
		{[]string{"a", "list", "9"}, 2, true},
		{[]string{"a", "s", "deeper"}, 2, false},
	} {
		_, _, err := dag.PathStep(c, buf.Bytes(), tc.segs)
		var pe *dag.PathError
		if !errors.As(err, &pe) || pe.Segment != tc.segment || pe.NotFound != tc.notFound || !pe.Block.Equals(c) {
			t.Errorf("%v: %v (%+v)", tc.segs, err, pe)
		}
	}
	if _, _, err := dag.PathStep(c, []byte{0xff}, []string{"a"}); !errors.Is(err, dag.ErrDecode) {
		t.Errorf("undecodable block: %v", err)
	}
}
