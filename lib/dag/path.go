package dag

import (
	"fmt"
	"strconv"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

// PathError says why a path cannot go on inside a dag-cbor or dag-json
// block: segment Segment (an index into the segments given to PathStep)
// names nothing there (NotFound), or cannot be applied to what it meets.
type PathError struct {
	Block    cid.Cid
	Segment  int
	NotFound bool
	Reason   string // e.g. `"x" is not a list index`, `cannot path into a string`
}

func (e *PathError) Error() string {
	return fmt.Sprintf("path segment %d in %s: %s", e.Segment, e.Block, e.Reason)
}

// PathStep walks segments inside the dag-cbor, dag-json, cbor or json
// block c (raw its verified bytes) until a link leaves it. It returns the
// link's CID, or c when the path ends inside the block, and the segments
// used. A segment that names nothing or cannot be applied is a *PathError;
// a block that does not decode wraps ErrDecode, one of a codec Decode does
// not know is a *CodecError. The gateway's resolver and the fetch client
// walk paths with it.
func PathStep(c cid.Cid, raw []byte, segments []string) (cid.Cid, int, error) {
	n, err := Decode(c, raw)
	if err != nil {
		return cid.Undef, 0, err
	}
	for i, seg := range segments {
		var next datamodel.Node
		switch n.Kind() {
		case datamodel.Kind_Map:
			next, err = n.LookupByString(seg)
		case datamodel.Kind_List:
			idx, perr := strconv.ParseInt(seg, 10, 64)
			if perr != nil {
				return cid.Undef, 0, &PathError{Block: c, Segment: i, Reason: fmt.Sprintf("%q is not a list index", seg)}
			}
			next, err = n.LookupByIndex(idx)
		default:
			return cid.Undef, 0, &PathError{Block: c, Segment: i, Reason: fmt.Sprintf("cannot path into a %s", n.Kind())}
		}
		if err != nil {
			return cid.Undef, 0, &PathError{Block: c, Segment: i, NotFound: true, Reason: fmt.Sprintf("no %q", seg)}
		}
		if next.Kind() == datamodel.Kind_Link {
			l, _ := next.AsLink()
			cl, ok := l.(cidlink.Link)
			if !ok {
				return cid.Undef, 0, fmt.Errorf("%w: %s: non-CID link", ErrDecode, c)
			}
			return cl.Cid, i + 1, nil
		}
		n = next
	}
	// The path ends inside the block: the block is the terminal entity.
	return c, len(segments), nil
}
