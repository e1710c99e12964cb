package gateway

import (
	"errors"
	"fmt"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

// errLengthMismatch ends a CAR whose blocks do not add up to the
// Content-Length announced from its file node (block sizes that do not
// match the leaves): the response is cut, never ended short or long.
var errLengthMismatch = errors.New("gateway: the file's blocks do not match the sizes its node declares")

// carLength returns the exact size of the CAR serveCAR writes, when the
// blocks already read tell it before the first byte: header, path blocks
// and terminal, plus, for a UnixFS file whose node links only raw leaves,
// each leaf the scope (or entity-bytes slice) takes, at the size the node
// declares for it, once each unless dups. It mirrors carOut and carwalk;
// ok is false where the walk must read blocks to know more (deeper files,
// directories and HAMTs under dag-scope=all, dag-cbor DAGs).
func carLength(header []byte, path []loadedBlock, terminal cid.Cid, termData []byte, car CarParams) (n int64, ok bool) {
	n = int64(len(header))
	seen := make(map[string]bool)
	add := func(c cid.Cid, size int64) {
		if car.Dups || !seen[c.KeyString()] {
			seen[c.KeyString()] = true
			n += sectionLen(c, int(size))
		}
	}
	for _, b := range path {
		add(b.cid, int64(len(b.data)))
	}
	add(terminal, int64(len(termData)))
	if car.Scope == ScopeBlock {
		return n, true
	}
	switch terminal.Prefix().Codec {
	case cid.Raw:
		return n, true // no links
	case cid.DagProtobuf:
	default:
		if car.Scope == ScopeEntity {
			return n, true // the block alone
		}
		links, err := dag.Links(terminal, termData)
		return n, err == nil && len(links) == 0
	}
	pb, ufs, err := dag.DecodeUnixFS(terminal, termData)
	if err != nil {
		return 0, false
	}
	if pb.FieldLinks().Length() == 0 {
		return n, true // nothing below, whatever the scope
	}
	if ufs == nil {
		return n, car.Scope == ScopeEntity // a plain dag-pb node: entity is the node alone
	}
	switch ufs.FieldDataType().Int() {
	case data.Data_File, data.Data_Raw:
	case data.Data_HAMTShard:
		return 0, false // entity walks the shards, all the entries
	default:
		return n, car.Scope == ScopeEntity // a directory's entity is its node
	}
	// A file: the leaves its links name, all of them or those holding the
	// entity-bytes; each must be a raw leaf whose size the node declares.
	sizes := ufs.FieldBlockSizes()
	if sizes.Length() != pb.FieldLinks().Length() {
		return 0, false
	}
	from, to := int64(0), int64(-1) // all links
	ranged := car.Scope == ScopeEntity && car.EntityBytes != nil
	if ranged {
		if !ufs.FieldFileSize().Exists() {
			return 0, false
		}
		var some bool
		if from, to, some = car.EntityBytes.Resolve(ufs.FieldFileSize().Must().Int()); !some {
			return n, true // no byte asked for: the node alone
		}
	}
	pos := int64(0)
	if ufs.FieldData().Exists() {
		pos += int64(len(ufs.FieldData().Must().Bytes()))
	}
	i := int64(0)
	for it := pb.FieldLinks().Iterator(); !it.Done(); i++ {
		_, l := it.Next()
		bs, err := sizes.LookupByIndex(i)
		if err != nil {
			return 0, false
		}
		size, err := bs.AsInt()
		if err != nil || size < 0 || size > maxDeclaredLeaf {
			return 0, false
		}
		if !ranged || (pos <= to && pos+size-1 >= from) {
			c, ok := l.FieldHash().Link().(cidlink.Link)
			if !ok || c.Cid.Prefix().Codec != cid.Raw {
				return 0, false
			}
			add(c.Cid, size)
		}
		pos += size
	}
	return n, true
}

// maxDeclaredLeaf bounds a leaf size taken from a file node, so that a
// hostile node cannot make the sum overflow (a real leaf is far smaller;
// one that does not match its size cuts the response anyway).
const maxDeclaredLeaf = 1 << 40

// checkLength reports a CAR that did not come out at the length announced.
func (o *carOut) checkLength() error {
	if o.want >= 0 && o.n != o.want {
		return fmt.Errorf("%w: %d bytes written, %d announced", errLengthMismatch, o.n, o.want)
	}
	return nil
}

// fits reports whether n more bytes stay within the announced length.
func (o *carOut) fits(n int64) error {
	if o.want >= 0 && o.n+n > o.want {
		return fmt.Errorf("%w: more than the %d bytes announced", errLengthMismatch, o.want)
	}
	return nil
}
