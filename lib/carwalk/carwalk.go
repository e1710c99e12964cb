// Package carwalk walks a DAG in the order a CAR of it is written: depth
// first as the trustless gateway spec defines it, the root, then each
// child's subtree in link order. The gateway's CAR responses and
// `streamer dump` write their blocks through it, so both give the same
// bytes for the same DAG.
//
// The walk is iterative: an explicit stack holds the nodes on the path
// from the root, each with its links and one dag.Stream reading them,
// so memory is O(depth + links of the nodes on the path) and a DAG deeper
// than the maximum depth (DefaultMaxDepth, WithMaxDepth) ends the walk
// with an error wrapping ErrTooDeep instead of the process. The children
// of a node are read as one planned Stream (merged ranged reads, bounded
// read-ahead); a node's stream is closed as soon as its last block is
// taken, so open streams are at most the nodes on the path.
//
// Identity CIDs are never written as blocks (their data is in the CID);
// their links are walked like any other node's. Blocks of codecs that
// cannot link (raw, cbor, json, identity: dag.CanLink) are leaves,
// written and never decoded; a block of a codec package dag does not
// decode ends a walk with a *dag.CodecError only where its links are
// needed (All), and is written as a leaf where they are not (File,
// Shards).
package carwalk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/cache"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/multiformats/go-multihash"
)

// ErrTooDeep is returned (wrapped) by a walk that meets a block more than
// the maximum depth below the block it started from.
var ErrTooDeep = errors.New("DAG deeper than the walk's limit")

// DefaultMaxDepth is how many levels below its start a walk goes: 4096.
// UnixFS never comes near it (a balanced file of 174-link nodes holds 2^64
// bytes within 10 levels; a HAMT of sha2-256 keys and fanout 256 has at
// most 32 levels), so only linked lists (dag-cbor chains) meet it. A level
// costs a stack frame of a few hundred bytes plus its node's links, so
// the limit bounds a response's walk memory and its open streams.
const DefaultMaxDepth = 4096

// DefaultCacheBytes bounds the blocks a dups=y walk keeps to write again
// where the DAG repeats them, instead of reading them again: 16 MiB.
const DefaultCacheBytes = 16 << 20

// Option configures a Walker.
type Option func(*Walker)

// WithDups writes a block each time the DAG links it (CAR dups=y); by
// default each block is written once (dups=n).
func WithDups(dups bool) Option { return func(w *Walker) { w.dups = dups } }

// WithMaxDepth sets how many levels below its start a walk goes (at least
// 1; default DefaultMaxDepth).
func WithMaxDepth(n int) Option { return func(w *Walker) { w.maxDepth = max(n, 1) } }

// WithContaining sets the containing multihash the blocks are located
// through (see dag.Source).
func WithContaining(mh multihash.Multihash) Option {
	return func(w *Walker) { w.containing = mh }
}

// WithCheck makes the walk call check on every block before it is written
// (a denylist): an error ends the walk.
func WithCheck(check func(cid.Cid) error) Option { return func(w *Walker) { w.check = check } }

// WithStats counts the walk's reads into stats.
func WithStats(stats *dag.Stats) Option { return func(w *Walker) { w.stats = stats } }

// WithCacheBytes sets how many bytes of blocks a dups=y walk keeps to write
// again (default DefaultCacheBytes; 0: none).
func WithCacheBytes(n int64) Option { return func(w *Walker) { w.cacheBytes = n } }

// Walker writes the blocks of DAGs, in CAR order, to one output. It keeps
// what it wrote (dups=n) and recent blocks to repeat (dups=y) across its
// calls, so a response's path blocks, terminal and scope share them. Not
// safe for concurrent use.
type Walker struct {
	ctx        context.Context
	blocks     dag.Source
	emit       func(cid.Cid, []byte) error
	dups       bool
	maxDepth   int
	containing multihash.Multihash
	stats      *dag.Stats
	cacheBytes int64
	check      func(cid.Cid) error

	seen    map[string]bool // written blocks, with dups=n
	written int
	// again keeps, with dups=y, recent blocks to write again where the
	// DAG repeats them (identical files, a leaf linked many times) without
	// reading them again. Kept blocks are read-ahead: borrowed from the
	// response's budget when it has room, handed back when they leave.
	again *cache.Cache[string, keptBlock]
	acct  *budget.Account
}

// keptBlock is a block in Walker.again and what it is charged.
type keptBlock struct {
	data   []byte
	charge budget.Charge
}

// New returns a Walker reading through s (charging the budget of the
// response in ctx) and writing each block with emit, which must not keep
// the data after it returns.
func New(ctx context.Context, s dag.Source, emit func(c cid.Cid, data []byte) error, opts ...Option) *Walker {
	w := &Walker{ctx: ctx, blocks: s, emit: emit, maxDepth: DefaultMaxDepth, cacheBytes: DefaultCacheBytes, seen: make(map[string]bool)}
	for _, o := range opts {
		o(w)
	}
	if w.stats == nil {
		w.stats = new(dag.Stats)
	}
	if w.dups && w.cacheBytes > 0 {
		acct := budget.FromContext(ctx)
		w.acct = acct
		w.again = cache.New(w.cacheBytes, func(k string, v keptBlock) int64 { return int64(len(k) + len(v.data)) })
		w.again.OnEvict(func(_ string, v keptBlock) { acct.Release(v.charge) })
		// Kept blocks are read-ahead: a stalled response gives them back
		// (a repeat is then read again).
		acct.OnStall(w.again.Clear)
	}
	return w
}

// Written returns the number of blocks written so far.
func (w *Walker) Written() int { return w.written }

// Block writes one block already read (a path block, the root): nothing
// for an identity CID, nor with dups=n for a block written before.
func (w *Walker) Block(c cid.Cid, data []byte) error {
	if w.check != nil {
		if err := w.check(c); err != nil {
			return err
		}
	}
	if dag.IsIdentity(c) {
		return nil
	}
	if !w.dups {
		if w.seen[c.KeyString()] {
			return nil
		}
		w.seen[c.KeyString()] = true
	}
	w.written++
	return w.emit(c, data)
}

// All writes every block below c (written already with Block), depth
// first.
func (w *Walker) All(c cid.Cid, data []byte) error {
	return w.walk(c, data, 0, allLinks)
}

// File writes the blocks below the UnixFS file node c (written already)
// that hold its bytes from..to (inclusive).
func (w *Walker) File(c cid.Cid, data []byte, from, to int64) error {
	return w.walk(c, data, 0, func(c cid.Cid, data []byte, offset int64) ([]link, error) {
		return fileLinks(c, data, offset, from, to)
	})
}

// Shards writes the sub-shards below the UnixFS HAMT shard c (written
// already), not its entries.
func (w *Walker) Shards(c cid.Cid, data []byte) error {
	return w.walk(c, data, 0, shardLinks)
}

// link is a child to write: its CID, the byte offset in the file where its
// bytes start (File walks only) and whether its frame's stream reads it.
type link struct {
	cid    cid.Cid
	offset int64
	read   bool
}

// expandFunc returns the children of a written block, which starts at
// offset of its file in File walks.
type expandFunc func(c cid.Cid, data []byte, offset int64) ([]link, error)

// frame is a node on the walk's path: its children, the next one to
// write, and the stream reading those marked read.
type frame struct {
	links   []link
	next    int
	st      dag.Stream
	pending int // read links not yet taken from st
	closed  bool
}

func (f *frame) close() {
	if f.st != nil && !f.closed {
		f.closed = true
		f.st.Close()
	}
}

// walk writes the blocks below c in CAR order, without recursion.
func (w *Walker) walk(c cid.Cid, data []byte, offset int64, expand expandFunc) (err error) {
	kids, err := expand(c, data, offset)
	if err != nil {
		return err
	}
	var stack []*frame
	defer func() {
		for _, f := range stack {
			f.close()
		}
	}()
	push := func(kids []link) error {
		if len(kids) == 0 {
			return nil
		}
		if len(stack) >= w.maxDepth {
			return fmt.Errorf("%w: %s has blocks more than %d levels below it", ErrTooDeep, c, w.maxDepth)
		}
		stack = append(stack, w.plan(kids))
		return nil
	}
	if err := push(kids); err != nil {
		return err
	}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		if f.next == len(f.links) {
			f.close()
			stack[len(stack)-1] = nil
			stack = stack[:len(stack)-1]
			continue
		}
		l := f.links[f.next]
		f.next++
		b, release, err := w.take(f, l)
		if err != nil {
			return err
		}
		if release == nil {
			continue // written already (dups=n)
		}
		kids, err := w.visit(b, l.offset, expand, release)
		if err != nil {
			return err
		}
		if err := push(kids); err != nil {
			return err
		}
	}
	return nil
}

// plan makes the frame of a node's children and starts reading them: each
// distinct CID once, and none written before (dups=n) or kept (dups=y).
func (w *Walker) plan(kids []link) *frame {
	f := &frame{links: kids}
	want := make([]cid.Cid, 0, len(kids))
	queued := make(map[string]bool, len(kids))
	for i := range kids {
		k := kids[i].cid.KeyString()
		if queued[k] || (!w.dups && w.seen[k]) {
			continue // a repeat: written once (dups=n) or again from the block read (dups=y)
		}
		if w.again != nil {
			if _, ok := w.again.Peek(k); ok {
				continue
			}
		}
		queued[k] = true
		kids[i].read = true
		want = append(want, kids[i].cid)
	}
	if len(want) > 0 {
		f.st = w.blocks.Stream(w.ctx, want, w.containing, w.stats)
		f.pending = len(want)
	}
	return f
}

// take returns the block of l and the function that releases it, or a nil
// release when the block is not to be written (dups=n, written already).
func (w *Walker) take(f *frame, l link) (dag.Block, func(), error) {
	if !w.dups && w.seen[l.cid.KeyString()] {
		if l.read {
			b, err := w.next(f, l.cid)
			if err != nil {
				return b, nil, err
			}
			f.st.Recycle(b) // written inside an earlier sibling's DAG
		}
		return dag.Block{}, nil, nil
	}
	if l.read {
		b, err := w.next(f, l.cid)
		if err != nil {
			return b, nil, err
		}
		st := f.st
		return b, func() { st.Recycle(b) }, nil
	}
	if w.again != nil {
		if kept, ok := w.again.Get(l.cid.KeyString()); ok {
			return dag.Block{CID: l.cid, Data: kept.data}, func() {}, nil
		}
	}
	// A repeat whose first copy left the cache (or never fit in it): read
	// it again, on its own.
	st := w.blocks.Stream(w.ctx, []cid.Cid{l.cid}, w.containing, w.stats)
	b, err := st.Next()
	if err != nil {
		st.Close()
		return b, nil, streamEnded(err)
	}
	return b, func() { st.Recycle(b); st.Close() }, nil
}

// next takes the next block of f's stream, which must be c, and closes
// the stream after its last block.
func (w *Walker) next(f *frame, c cid.Cid) (dag.Block, error) {
	b, err := f.st.Next()
	if err != nil {
		return b, streamEnded(err)
	}
	if !b.CID.Equals(c) {
		f.st.Recycle(b)
		return dag.Block{}, fmt.Errorf("carwalk: stream gave %s where %s was due", b.CID, c)
	}
	if f.pending--; f.pending == 0 {
		f.close() // its buffers and goroutines are not needed while the walk is below
	}
	return b, nil
}

func streamEnded(err error) error {
	if err == io.EOF {
		return errors.New("carwalk: block stream ended early")
	}
	return err
}

// visit writes b, keeps it to repeat (dups=y, read blocks), releases it
// and returns its children.
func (w *Walker) visit(b dag.Block, offset int64, expand expandFunc, release func()) ([]link, error) {
	defer release()
	if err := w.Block(b.CID, b.Data); err != nil {
		return nil, err
	}
	if w.again != nil && b.Data != nil {
		if _, ok := w.again.Peek(b.CID.KeyString()); !ok {
			if charge, ok := w.acct.TryBorrow(int64(len(b.Data))); ok {
				w.again.Add(b.CID.KeyString(), keptBlock{bytes.Clone(b.Data), charge})
			}
		}
	}
	if !dag.CanLink(b.CID.Prefix().Codec) {
		return nil, nil
	}
	return expand(b.CID, b.Data, offset)
}

// allLinks returns every link of a block.
func allLinks(c cid.Cid, data []byte, _ int64) ([]link, error) {
	cids, err := dag.Links(c, data)
	if err != nil || len(cids) == 0 {
		return nil, err
	}
	links := make([]link, len(cids))
	for i, l := range cids {
		links[i].cid = l
	}
	return links, nil
}

// fileLinks returns the children of a UnixFS file node starting at offset
// of the file that hold some of its bytes from..to. Other blocks have
// none.
func fileLinks(c cid.Cid, raw []byte, offset, from, to int64) ([]link, error) {
	if c.Prefix().Codec != cid.DagProtobuf {
		return nil, nil
	}
	pb, ufs, err := dag.DecodeUnixFS(c, raw)
	if err != nil || ufs == nil {
		return nil, err
	}
	pos := offset
	if ufs.FieldData().Exists() {
		pos += int64(len(ufs.FieldData().Must().Bytes()))
	}
	sizes := ufs.FieldBlockSizes()
	var links []link
	i := int64(0)
	for it := pb.FieldLinks().Iterator(); !it.Done(); i++ {
		_, l := it.Next()
		if i >= sizes.Length() {
			return nil, fmt.Errorf("%w: %s: UnixFS file node has more links than block sizes", dag.ErrDecode, c)
		}
		bs, _ := sizes.LookupByIndex(i)
		n, _ := bs.AsInt()
		if pos <= to && pos+n-1 >= from {
			links = append(links, link{cid: l.FieldHash().Link().(cidlink.Link).Cid, offset: pos})
		}
		pos += n
	}
	return links, nil
}

// shardLinks returns the sub-shards of a UnixFS HAMT shard (links whose
// name is the bucket index alone); a dag-pb node without UnixFS data, and
// a block of another codec, has none.
func shardLinks(c cid.Cid, raw []byte, _ int64) ([]link, error) {
	if c.Prefix().Codec != cid.DagProtobuf {
		return nil, nil
	}
	pb, ufs, err := dag.DecodeUnixFS(c, raw)
	if err != nil || ufs == nil {
		return nil, err
	}
	if !ufs.FieldFanout().Exists() {
		return nil, fmt.Errorf("%w: %s: HAMT shard without fanout", dag.ErrDecode, c)
	}
	padLen := len(fmt.Sprintf("%X", ufs.FieldFanout().Must().Int()-1))
	var links []link
	for it := pb.FieldLinks().Iterator(); !it.Done(); {
		_, l := it.Next()
		if l.FieldName().Exists() && len(l.FieldName().Must().String()) == padLen {
			links = append(links, link{cid: l.FieldHash().Link().(cidlink.Link).Cid})
		}
	}
	return links, nil
}
