package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/carwalk"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	dagpb "github.com/ipld/go-codec-dagpb"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

// ErrTooLarge is returned (wrapped) when a CAR response reaches the cap set
// with WithMaxResponseBytes.
var ErrTooLarge = errors.New("response too large")

// serveCAR answers a CAR: the blocks that resolve the path, then the
// terminal's dag-scope, depth first, every block verified. The path and the
// terminal block are resolved before the status line, so a missing root
// block answers 404 (a path that names nothing: serveMissingPath); anything
// that fails later cuts the response.
func (h *Handler) serveCAR(ctx context.Context, w http.ResponseWriter, r *http.Request, req *Request, rl *requestLog) error {
	res := &resolver{ctx: ctx, blocks: h.blocks, containing: req.Root.Hash(), stats: &rl.stats}
	terminal, roots, err := res.resolve(req.Root, req.Segments)
	var noPath *noPathError
	if errors.As(err, &noPath) {
		return h.serveMissingPath(w, r, req, res.loaded)
	}
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
	header, err := dag.CARHeader(terminal)
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
	if err := checkLinksDenied(ctx, terminal, termData, req.Car.Scope); err != nil {
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
	out := &carOut{w: bw, max: h.maxCARBytes, want: want}
	if err := out.raw(header); err != nil {
		return err
	}
	wk := carwalk.New(ctx, h.blocks, out.block, carwalk.WithDups(req.Car.Dups),
		carwalk.WithContaining(req.Root.Hash()), carwalk.WithStats(&rl.stats), carwalk.WithCheck(blockCheck(ctx)))
	// The blocks the path went through (with HAMT shards), in load order.
	for _, b := range res.loaded[:pathBlocks] {
		if err := wk.Block(b.cid, b.data); err != nil {
			return err
		}
	}
	// The terminal block goes out at once: a cold client gets its first
	// bytes after the root's read, not after the reads of its children.
	// A terminal the scope cannot read is answered with its own status.
	if err := checkTerminal(terminal, termData, req.Car.Scope); err != nil {
		return err
	}
	if err := wk.Block(terminal, termData); err != nil {
		return err
	}
	if err := flushBody(w, bw); err != nil {
		return err
	}
	if err := scope(wk, terminal, termData, req.Car.Scope, req.Car.EntityBytes); err != nil {
		// The sections written before the failure are whole: they go out
		// before the cut, so a client gets every block up to the missing
		// or bad one (and may resume from there), not only those that
		// filled a buffer.
		_ = flushBody(w, bw)
		return err
	}
	if err := out.checkLength(); err != nil {
		return err
	}
	return bw.Flush()
}

// flushBody sends what bw holds to the client now.
func flushBody(w http.ResponseWriter, bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return err
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// checkTerminal decodes, before the status line, what the dag-scope reads
// of the terminal block c: its links (all), its UnixFS data (entity, of a
// dag-pb block). A block of a codec that cannot link (raw, cbor, json,
// identity) is a leaf in every scope and is not decoded, and the entity of
// any block but dag-pb is the block alone: neither fails here, whatever
// the codec. A codec the gateway does not decode fails only where its
// links are needed (*dag.CodecError).
func checkTerminal(c cid.Cid, raw []byte, scope DagScope) error {
	switch {
	case scope == ScopeAll:
		_, err := dag.Links(c, raw)
		return err
	case scope == ScopeEntity && c.Prefix().Codec == cid.DagProtobuf:
		_, _, err := dag.DecodeUnixFS(c, raw)
		return err
	}
	return nil
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
	pb, ufs, err := dag.DecodeUnixFS(c, raw)
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
		"the CAR of the %d bytes asked for would be at least %d bytes, over this gateway's %d-byte response limit: use hash-stream fetch (parallel verified parts), or fetch the file in parts with ?format=car&dag-scope=entity&entity-bytes=from:to, or block by block with ?format=raw", to-from+1, n, h.maxCARBytes)}
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

// sectionLen is the size of a CAR section: length prefix, CID, data; 0
// for an identity CID, which the walker never writes as a block.
func sectionLen(c cid.Cid, dataLen int) int64 {
	if dag.IsIdentity(c) {
		return 0
	}
	return dag.SectionLen(c, dataLen)
}

// carOut writes CAR sections (those the walker hands it) up to max bytes,
// and exactly want bytes when want >= 0 (the Content-Length sent).
type carOut struct {
	w    io.Writer
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

// block writes a block's section.
func (o *carOut) block(c cid.Cid, data []byte) error {
	if o.max > 0 && o.n+sectionLen(c, len(data)) > o.max {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, o.max)
	}
	if err := o.fits(sectionLen(c, len(data))); err != nil {
		return err
	}
	cw := &dag.Counter{W: o.w}
	err := dag.WriteSection(cw, c, data)
	o.n += cw.N
	return err
}

// scope writes what the dag-scope adds below the terminal block c, which
// is written already.
func scope(wk *carwalk.Walker, c cid.Cid, raw []byte, scope DagScope, eb *EntityBytes) error {
	switch scope {
	case ScopeBlock:
		return nil
	case ScopeAll:
		return wk.All(c, raw)
	}
	// ScopeEntity: a UnixFS file whole (or its entity-bytes), a HAMT
	// directory's shards; any other block alone.
	if c.Prefix().Codec != cid.DagProtobuf {
		return nil
	}
	_, ufs, err := dag.DecodeUnixFS(c, raw)
	if err != nil || ufs == nil {
		return err
	}
	switch ufs.FieldDataType().Int() {
	case data.Data_File, data.Data_Raw:
		if eb == nil {
			return wk.All(c, raw)
		}
		if !ufs.FieldFileSize().Exists() {
			return fmt.Errorf("%w: %s: UnixFS file without a filesize", dag.ErrDecode, c)
		}
		size := ufs.FieldFileSize().Must().Int()
		from, to, ok := eb.Resolve(size)
		if !ok {
			return nil
		}
		return wk.File(c, raw, from, to)
	case data.Data_HAMTShard:
		return wk.Shards(c, raw)
	}
	return nil
}
