package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/cache"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	dagpb "github.com/ipld/go-codec-dagpb"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/multiformats/go-multihash"
	"github.com/multiformats/go-varint"
)

// ErrTooLarge is returned (wrapped) when a CAR response reaches the cap set
// with WithMaxResponseBytes.
var ErrTooLarge = errors.New("response too large")

// serveCAR answers a CAR: the blocks that resolve the path, then the
// terminal's dag-scope, depth first, every block verified. The path and the
// terminal block are resolved before the status line, so a missing root or
// path answers 404; anything that fails later cuts the response.
func (h *Handler) serveCAR(ctx context.Context, w http.ResponseWriter, r *http.Request, req *Request, rl *requestLog) error {
	res := &resolver{ctx: ctx, blocks: h.blocks, containing: req.Root.Hash(), stats: &rl.stats}
	terminal, roots, err := res.resolve(req.Root, req.Segments)
	if err != nil {
		return err
	}
	pathBlocks := len(res.loaded)
	if pathBlocks > 0 && res.loaded[pathBlocks-1].cid.Equals(terminal) {
		// The path ended inside the last block it read (a dag-cbor or
		// dag-json field): that block is the terminal, which the scope
		// writes; as a path block too it would come twice with dups=y.
		pathBlocks--
	}
	termData, err := res.load(terminal)
	if err != nil {
		return err
	}
	header, err := pack.CARHeader(terminal)
	if err != nil {
		return err
	}
	before := int64(len(header)) // the header and the path blocks, as carOut counts them
	seen := make(map[string]bool)
	for _, b := range res.loaded[:pathBlocks] {
		if req.Car.Dups || !seen[b.cid.KeyString()] {
			seen[b.cid.KeyString()] = true
			before += sectionLen(b.cid, len(b.data))
		}
	}
	if err := h.checkSize(terminal, termData, req, before); err != nil {
		return err
	}
	SetHeaders(w.Header(), req, roots)
	if notModified(r, req.Etag()) {
		writeNotModified(w)
		return nil
	}
	// A length known now makes a cut body detectably short to any client
	// or cache, whatever the protocol.
	want, known := carLength(header, res.loaded[:pathBlocks], terminal, termData, req.Car)
	if known && (h.maxCARBytes <= 0 || want <= h.maxCARBytes) {
		w.Header().Set("Content-Length", strconv.FormatInt(want, 10))
	} else {
		want = -1
	}
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodHead {
		return nil
	}
	bw := newBodyWriter(w)
	acct := budget.FromContext(ctx)
	acct.Take(int64(bw.Size()))
	out := &carOut{w: bw, dups: req.Car.Dups, seen: make(map[string]bool), max: h.maxCARBytes, want: want}
	if err := out.raw(header); err != nil {
		return err
	}
	// The blocks the path went through (with HAMT shards), in load order.
	for _, b := range res.loaded[:pathBlocks] {
		if err := out.block(b.cid, b.data); err != nil {
			return err
		}
	}
	wk := &walker{ctx: ctx, blocks: h.blocks, out: out, containing: req.Root.Hash(), stats: &rl.stats}
	if req.Car.Dups {
		// Kept blocks are read-ahead: borrowed from the budget when it has
		// room, handed back when they leave the cache.
		wk.again = cache.New(dupsCacheBytes, func(k string, v keptBlock) int64 { return int64(len(k) + len(v.data)) })
		wk.again.OnEvict(func(_ string, v keptBlock) { acct.Release(v.charge) })
		wk.acct = acct
	}
	// The terminal block goes out at once: a cold client gets its first
	// bytes after the root's read, not after the reads of its children.
	// A terminal that does not decode is answered with its own status.
	if req.Car.Scope != ScopeBlock {
		if _, err := streamer.Links(terminal, termData); err != nil {
			return err
		}
	}
	if err := out.block(terminal, termData); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if err := wk.scope(terminal, termData, req.Car.Scope, req.Car.EntityBytes); err != nil {
		return err
	}
	if err := out.checkLength(); err != nil {
		return err
	}
	return bw.Flush()
}

// checkSize refuses, before the first byte, the CAR of a UnixFS file (or
// of the part entity-bytes asks for) that would be over the response cap.
// before is what the CAR holds ahead of the file node: header and path
// blocks. The size checked is what carOut will count: the file node, and
// the leaves holding the bytes asked for, whole and with their section
// framing, when the node links to raw leaves (files of up to Width chunks);
// a deeper file counts the bytes asked for of its inner nodes' subtrees,
// without framing. Other DAGs are cut at the cap while streaming.
func (h *Handler) checkSize(c cid.Cid, raw []byte, req *Request, before int64) error {
	if h.maxCARBytes <= 0 || req.Car.Scope == ScopeBlock || c.Prefix().Codec != cid.DagProtobuf {
		return nil
	}
	pb, ufs, err := decodeUnixFS(c, raw)
	if err != nil || ufs == nil || ufs.FieldDataType().Int() != data.Data_File || !ufs.FieldFileSize().Exists() {
		return nil
	}
	size := ufs.FieldFileSize().Must().Int()
	from, to := int64(0), size-1
	if eb := req.Car.EntityBytes; eb != nil && req.Car.Scope == ScopeEntity {
		var ok bool
		if from, to, ok = eb.Resolve(size); !ok {
			return nil
		}
	}
	n := before + sectionLen(c, len(raw)) + fileBytes(pb, ufs, from, to, req.Car.Dups)
	if n <= h.maxCARBytes {
		return nil
	}
	return &RequestError{Status: http.StatusRequestEntityTooLarge, Err: ErrTooLarge, Message: fmt.Sprintf(
		"the CAR of the %d bytes asked for would be at least %d bytes, over this gateway's %d-byte response limit: fetch the file in smaller parts with ?format=car&dag-scope=entity&entity-bytes=from:to, or block by block with ?format=raw", to-from+1, n, h.maxCARBytes)}
}

// fileBytes returns how many CAR bytes at least the children of a file
// node add for its bytes from..to: each raw leaf holding some of them as
// its whole section (once unless dups, as carOut writes it), the bytes
// asked for of any other child.
func fileBytes(pb dagpb.PBNode, ufs data.UnixFSData, from, to int64, dups bool) int64 {
	pos := int64(0)
	if ufs.FieldData().Exists() {
		pos += int64(len(ufs.FieldData().Must().Bytes()))
	}
	sizes := ufs.FieldBlockSizes()
	seen := make(map[string]bool)
	var n int64
	i := int64(0)
	for it := pb.FieldLinks().Iterator(); !it.Done() && i < sizes.Length(); i++ {
		_, l := it.Next()
		bs, _ := sizes.LookupByIndex(i)
		size, _ := bs.AsInt()
		if pos <= to && pos+size-1 >= from {
			c := l.FieldHash().Link().(cidlink.Link).Cid
			switch {
			case c.Prefix().Codec != cid.Raw:
				n += min(to, pos+size-1) - max(from, pos) + 1
			case dups || !seen[c.KeyString()]:
				seen[c.KeyString()] = true
				n += sectionLen(c, int(size))
			}
		}
		pos += size
	}
	return n
}

// sectionLen is the size of a CAR section: length prefix, CID, data.
func sectionLen(c cid.Cid, dataLen int) int64 {
	n := c.ByteLen() + dataLen
	return int64(varint.UvarintSize(uint64(n)) + n)
}

// carOut writes CAR sections, once each unless dups, up to max bytes, and
// exactly want bytes when want >= 0 (the Content-Length sent).
type carOut struct {
	w    io.Writer
	dups bool
	seen map[string]bool
	n    int64
	max  int64
	want int64
}

func (o *carOut) raw(p []byte) error {
	if o.max > 0 && o.n+int64(len(p)) > o.max {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, o.max)
	}
	if err := o.fits(int64(len(p))); err != nil {
		return err
	}
	o.n += int64(len(p))
	_, err := o.w.Write(p)
	return err
}

// block writes a block, or nothing when dups=n and it was written before.
func (o *carOut) block(c cid.Cid, data []byte) error {
	if !o.dups {
		if o.seen[c.KeyString()] {
			return nil
		}
		o.seen[c.KeyString()] = true
	}
	if o.max > 0 && o.n+sectionLen(c, len(data)) > o.max {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, o.max)
	}
	if err := o.fits(sectionLen(c, len(data))); err != nil {
		return err
	}
	cw := &counter{w: o.w}
	err := pack.WriteSection(cw, c, data)
	o.n += cw.n
	return err
}

func (o *carOut) written(c cid.Cid) bool { return !o.dups && o.seen[c.KeyString()] }

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// walker writes DAGs depth first. The children of each node are read as one
// planned stream (merged ranged reads, bounded read-ahead), so a level is
// fetched with few reads once its parent is known.
type walker struct {
	ctx        context.Context
	blocks     *streamer.Streamer
	out        *carOut
	containing multihash.Multihash
	stats      *streamer.Stats
	// again keeps, with dups=y, recent blocks to write again where the
	// DAG repeats them (identical files, say) without reading them again.
	again *cache.Cache[string, keptBlock]
	acct  *budget.Account
}

// keptBlock is a block in walker.again and what it is charged.
type keptBlock struct {
	data   []byte
	charge budget.Charge
}

// dupsCacheBytes bounds the blocks a dups=y response keeps to repeat.
const dupsCacheBytes = 16 << 20

// scope writes what the dag-scope adds below the terminal block c, which
// is written already.
func (wk *walker) scope(c cid.Cid, raw []byte, scope DagScope, eb *EntityBytes) error {
	switch scope {
	case ScopeBlock:
		return nil
	case ScopeAll:
		return wk.all(c, raw)
	}
	// ScopeEntity: a UnixFS file whole (or its entity-bytes), a HAMT
	// directory's shards; any other block alone.
	if c.Prefix().Codec != cid.DagProtobuf {
		return nil
	}
	pb, ufs, err := decodeUnixFS(c, raw)
	if err != nil || ufs == nil {
		return err
	}
	switch ufs.FieldDataType().Int() {
	case data.Data_File, data.Data_Raw:
		if eb == nil {
			return wk.all(c, raw)
		}
		if !ufs.FieldFileSize().Exists() {
			return fmt.Errorf("%w: %s: UnixFS file without a filesize", streamer.ErrDecode, c)
		}
		size := ufs.FieldFileSize().Must().Int()
		from, to, ok := eb.Resolve(size)
		if !ok {
			return nil
		}
		return wk.fileRange(pb, ufs, 0, from, to)
	case data.Data_HAMTShard:
		return wk.shards(pb, ufs)
	}
	return nil
}

// all writes every block below a written block.
func (wk *walker) all(c cid.Cid, raw []byte) error {
	links, err := streamer.Links(c, raw)
	if err != nil {
		return err
	}
	return wk.children(links, func(_ int, b streamer.Block) error { return wk.all(b.CID, b.Data) })
}

// children streams links, writes each block, and calls visit for each
// block that has links of its own, with the block's index in links.
func (wk *walker) children(links []cid.Cid, visit func(i int, b streamer.Block) error) error {
	type entry struct {
		i      int
		cid    cid.Cid
		data   []byte
		cached bool // data is from wk.again: no read needed
	}
	order := make([]entry, 0, len(links))
	want := make([]cid.Cid, 0, len(links))
	queued := make(map[string]bool)
	for i, l := range links {
		if !wk.out.dups && (wk.out.written(l) || queued[l.KeyString()]) {
			continue
		}
		queued[l.KeyString()] = true
		if wk.again != nil {
			if kept, ok := wk.again.Get(l.KeyString()); ok {
				order = append(order, entry{i: i, cid: l, data: kept.data, cached: true})
				continue
			}
		}
		order = append(order, entry{i: i, cid: l})
		want = append(want, l)
	}
	var st *streamer.Stream
	if len(want) > 0 {
		st = wk.blocks.Stream(wk.ctx, want, wk.containing, wk.stats)
		defer st.Close()
	}
	for _, e := range order {
		b := streamer.Block{CID: e.cid, Data: e.data}
		if !e.cached {
			var err error
			if b, err = st.Next(); err != nil {
				if err == io.EOF {
					err = errors.New("gateway: block stream ended early")
				}
				return err
			}
		}
		if wk.out.written(b.CID) {
			continue // written inside an earlier sibling's DAG
		}
		if err := wk.out.block(b.CID, b.Data); err != nil {
			return err
		}
		if b.CID.Prefix().Codec != cid.Raw {
			if err := visit(e.i, b); err != nil {
				return err
			}
		}
		if !e.cached {
			if wk.again != nil {
				if charge, ok := wk.acct.TryBorrow(int64(len(b.Data))); ok {
					wk.again.Add(b.CID.KeyString(), keptBlock{bytes.Clone(b.Data), charge})
				}
			}
			st.Recycle(b)
		}
	}
	return nil
}

// fileRange writes the blocks of a UnixFS file node (already written,
// starting at byte offset of the file) that hold bytes from..to.
func (wk *walker) fileRange(pb dagpb.PBNode, ufs data.UnixFSData, offset, from, to int64) error {
	pos := offset
	if ufs.FieldData().Exists() {
		pos += int64(len(ufs.FieldData().Must().Bytes()))
	}
	sizes := ufs.FieldBlockSizes()
	var links []cid.Cid
	var starts []int64
	i := int64(0)
	for it := pb.FieldLinks().Iterator(); !it.Done(); i++ {
		_, l := it.Next()
		if i >= sizes.Length() {
			return fmt.Errorf("gateway: file node has more links than block sizes")
		}
		bs, _ := sizes.LookupByIndex(i)
		n, _ := bs.AsInt()
		if pos <= to && pos+n-1 >= from {
			links = append(links, l.FieldHash().Link().(cidlink.Link).Cid)
			starts = append(starts, pos)
		}
		pos += n
	}
	return wk.children(links, func(k int, b streamer.Block) error {
		if b.CID.Prefix().Codec != cid.DagProtobuf {
			return nil
		}
		cpb, cufs, err := decodeUnixFS(b.CID, b.Data)
		if err != nil || cufs == nil {
			return err
		}
		return wk.fileRange(cpb, cufs, starts[k], from, to)
	})
}

// shards writes the sub-shards of a HAMT directory shard (not its entries).
func (wk *walker) shards(pb dagpb.PBNode, ufs data.UnixFSData) error {
	if !ufs.FieldFanout().Exists() {
		return fmt.Errorf("gateway: HAMT shard without fanout")
	}
	padLen := len(fmt.Sprintf("%X", ufs.FieldFanout().Must().Int()-1))
	var links []cid.Cid
	for it := pb.FieldLinks().Iterator(); !it.Done(); {
		_, l := it.Next()
		if l.FieldName().Exists() && len(l.FieldName().Must().String()) == padLen {
			links = append(links, l.FieldHash().Link().(cidlink.Link).Cid)
		}
	}
	return wk.children(links, func(_ int, b streamer.Block) error {
		cpb, cufs, err := decodeUnixFS(b.CID, b.Data)
		if err != nil || cufs == nil {
			return err
		}
		return wk.shards(cpb, cufs)
	})
}

// decodeUnixFS decodes a dag-pb block and its UnixFS data; ufs is nil for a
// dag-pb node without UnixFS data.
func decodeUnixFS(c cid.Cid, raw []byte) (dagpb.PBNode, data.UnixFSData, error) {
	n, err := streamer.Decode(c, raw)
	if err != nil {
		return nil, nil, err
	}
	pb, ok := n.(dagpb.PBNode)
	if !ok || !pb.FieldData().Exists() {
		return pb, nil, nil
	}
	ufs, err := data.DecodeUnixFSData(pb.FieldData().Must().Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: UnixFS data: %v", streamer.ErrDecode, c, err)
	}
	return pb, ufs, nil
}
