package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	carv2 "github.com/ipld/go-car/v2"
	dagpb "github.com/ipld/go-codec-dagpb"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"golang.org/x/sync/errgroup"
)

// maxFileDepth bounds how many levels below the root a file walk goes; a
// balanced UnixFS file of 174-link nodes holds 2^64 bytes within 10.
const maxFileDepth = 64

// Range is an inclusive byte range of a file.
type Range struct{ From, To int64 }

// Len returns the number of bytes in r.
func (r Range) Len() int64 { return r.To - r.From + 1 }

// File is the verified root of a UnixFS file.
type File struct {
	CID  cid.Cid
	Raw  []byte // the root block
	Size int64
	// kids are the root's children: their CIDs and the file offsets
	// where they start (a last entry holds the end); nil for a raw root
	// or a node holding its bytes inline.
	kids   []cid.Cid
	starts []int64
	leaf   []bool // the child is a leaf, as far as the root shows
}

// pbLeafOverhead bounds what a dag-pb leaf's encoding adds to its bytes
// (its link's Tsize minus its block size: UnixFS type, size and framing,
// about a dozen bytes); a node with links adds at least one link's ~40
// bytes per child. Above it, a child is taken as an inner node.
const pbLeafOverhead = 32

// Block fetches one block with ?format=raw and verifies it; an identity
// CID is answered from itself.
func (c *Client) Block(ctx context.Context, k cid.Cid) ([]byte, error) {
	if b, ok, err := dag.Inline(k.Hash()); err != nil || ok {
		return b, err
	}
	release, err := c.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var out []byte
	err = c.withRetry(ctx, c.nextGateway(), ipfsPath(k, "format=raw"), func(u string) error {
		body, err := c.get(ctx, u, acceptRaw)
		if err != nil {
			return err
		}
		defer body.Close()
		b, err := io.ReadAll(io.LimitReader(body, MaxBlockSize+1))
		if err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		if len(b) > MaxBlockSize {
			return fmt.Errorf("%s: %w: block over %d bytes", u, ErrTooLarge, MaxBlockSize)
		}
		if err := dag.Verify(k.Hash(), b); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		out = b
		return nil
	})
	return out, err
}

// Root fetches and verifies root and reads it as a UnixFS file; the error
// wraps ErrNotFile for anything else (a directory, another codec).
func (c *Client) Root(ctx context.Context, root cid.Cid) (*File, error) {
	raw, err := c.Block(ctx, root)
	if err != nil {
		return nil, err
	}
	return ParseFile(root, raw)
}

// ParseFile reads a verified root block as a UnixFS file.
func ParseFile(root cid.Cid, raw []byte) (*File, error) {
	f := &File{CID: root, Raw: raw}
	switch root.Prefix().Codec {
	case cid.Raw:
		f.Size = int64(len(raw))
		return f, nil
	case cid.DagProtobuf:
	default:
		return nil, fmt.Errorf("%w: %s has codec 0x%x", ErrNotFile, root, root.Prefix().Codec)
	}
	pb, ufs, err := dag.DecodeUnixFS(root, raw)
	if err != nil {
		return nil, err
	}
	if ufs == nil {
		return nil, fmt.Errorf("%w: %s is dag-pb without UnixFS data", ErrNotFile, root)
	}
	if t := ufs.FieldDataType().Int(); t != data.Data_File && t != data.Data_Raw {
		return nil, fmt.Errorf("%w: %s is a UnixFS %s", ErrNotFile, root, data.DataTypeNames[t])
	}
	pos := int64(0)
	if ufs.FieldData().Exists() {
		pos = int64(len(ufs.FieldData().Must().Bytes()))
	}
	err = fileLinks(root, pb, ufs, func(l dagpb.PBLink, n int64) error {
		kid := l.FieldHash().Link().(cidlink.Link).Cid
		// A leaf is at most a block: a slice then spans at most a slice
		// and a block, whatever a root claims.
		isLeaf := kid.Prefix().Codec == cid.Raw && n <= MaxBlockSize
		if kid.Prefix().Codec == cid.DagProtobuf && l.FieldTsize().Exists() {
			isLeaf = n <= MaxBlockSize && l.FieldTsize().Must().Int()-n <= pbLeafOverhead
		}
		if n > math.MaxInt64-pos {
			return fmt.Errorf("%w: %s holds more than 2^63 bytes", ErrMalformed, root)
		}
		f.kids = append(f.kids, kid)
		f.starts = append(f.starts, pos)
		f.leaf = append(f.leaf, isLeaf)
		pos += n
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.starts = append(f.starts, pos)
	if ufs.FieldFileSize().Exists() && ufs.FieldFileSize().Must().Int() != pos {
		return nil, fmt.Errorf("%w: %s says %d bytes, its data and block sizes add up to %d", ErrMalformed, root, ufs.FieldFileSize().Must().Int(), pos)
	}
	f.Size = pos
	return f, nil
}

// Slices returns the ranges a file is fetched in: boundaries at multiples
// of sliceSize, each moved back to the start of the root's child it falls
// in when that child is a leaf (a raw block, or a dag-pb node whose link's
// Tsize is its size plus a leaf's few bytes of encoding), so a leaf is
// never asked for twice; inside a deeper child (whose leaves the root does
// not show) the multiple stays as it is, which is leaf-aligned whenever
// sliceSize is a multiple of the leaf size. Computed from the root alone, they are the
// same for every fetch of the file. A file held in the root alone (raw, or
// without links) and an empty file have no slices.
func (f *File) Slices(sliceSize int64) []Range {
	var out []Range
	f.eachSlice(sliceSize, func(r Range) bool {
		out = append(out, r)
		return true
	})
	return out
}

// eachSlice calls fn with the ranges of Slices in order, until fn returns
// false, without holding them: a root may declare any size.
func (f *File) eachSlice(sliceSize int64, fn func(Range) bool) {
	if len(f.kids) == 0 || f.Size == 0 || sliceSize <= 0 {
		return
	}
	from := int64(0)
	k := 0 // the child holding the current multiple
	for m := sliceSize; m < f.Size; m += sliceSize {
		for k < len(f.kids)-1 && f.starts[k+1] <= m {
			k++
		}
		b := m
		if f.leaf[k] && f.starts[k] <= m {
			b = f.starts[k]
		}
		if b > from {
			if !fn(Range{from, b - 1}) {
				return
			}
			from = b
		}
		if m > math.MaxInt64-sliceSize {
			break
		}
	}
	fn(Range{from, f.Size - 1})
}

// hasSlices reports whether f is fetched in slices (else its root holds
// it).
func (f *File) hasSlices() bool { return len(f.kids) > 0 && f.Size > 0 }

// checkSize refuses a file over the client's max bytes.
func (c *Client) checkSize(f *File) error {
	if c.maxBytes > 0 && f.Size > c.maxBytes {
		return &LimitError{What: "bytes", Limit: c.maxBytes, Got: f.Size, Where: "the file " + f.CID.String()}
	}
	return nil
}

// sliceQuery is the query of a slice request: fixed order, so a slice is
// always the same URL.
func sliceQuery(r Range) string {
	return "format=car&dag-scope=entity&entity-bytes=" + strconv.FormatInt(r.From, 10) + ":" + strconv.FormatInt(r.To, 10)
}

// readCAR reads a CAR response into a map of verified blocks (by CID key),
// in the order received, refusing more than limit bytes.
func readCAR(body io.Reader, limit int64) (map[string][]byte, error) {
	cr := &countReader{r: body, left: limit}
	br, err := carv2.NewBlockReader(cr, carv2.MaxAllowedSectionSize(MaxBlockSize), carv2.WithTrustedCAR(true))
	if err != nil {
		return nil, fmt.Errorf("CAR header: %w", cr.or(err))
	}
	blocks := make(map[string][]byte)
	for {
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			return blocks, nil
		}
		if err != nil {
			return nil, fmt.Errorf("CAR: %w", cr.or(err))
		}
		if err := dag.Verify(b.Cid().Hash(), b.RawData()); err != nil {
			return nil, err
		}
		blocks[b.Cid().KeyString()] = b.RawData()
	}
}

// countReader fails a read past its limit.
type countReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *countReader) Read(p []byte) (int, error) {
	if c.left <= 0 { // at the limit: over it only if more follows
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.over = true
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// or returns ErrTooLarge when the limit was hit, err otherwise.
func (c *countReader) or(err error) error {
	if c.over {
		return ErrTooLarge
	}
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF // a header or section cut short
	}
	return err
}

// fetchSlice fetches slice i (range r) and returns its verified blocks,
// after checking they hold every block the range needs.
func (c *Client) fetchSlice(ctx context.Context, f *File, i int, r Range) (map[string][]byte, error) {
	var blocks map[string][]byte
	// A slice holds its range, at most one leaf more at each end, and the
	// inner nodes above them.
	limit := r.Len() + 2*MaxBlockSize + 1<<20
	err := c.withRetry(ctx, i, ipfsPath(f.CID, sliceQuery(r)), func(u string) error {
		body, err := c.get(ctx, u, acceptCAR)
		if err != nil {
			return err
		}
		defer body.Close()
		bs, err := readCAR(body, limit)
		if err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		bs[f.CID.KeyString()] = f.Raw
		// Check the slice is complete before anything is written.
		if err := walkFile(bs, f.CID, f.Raw, 0, f.Size, r, 0, nil, nil); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		blocks = bs
		return nil
	})
	return blocks, err
}

// walkFile walks the file node c (raw its block, at file offset start,
// size bytes of file as its parent says) depth first, visiting only the
// children holding bytes of r: onBlock gets every block visited (in CAR
// order), onBytes the bytes of r each leaf or node data holds, at their
// file offset. Blocks come from blocks (verified) or identity CIDs.
func walkFile(blocks map[string][]byte, c cid.Cid, raw []byte, start, size int64, r Range, depth int,
	onBlock func(cid.Cid, []byte) error, onBytes func(off int64, b []byte) error) error {
	if depth > maxFileDepth {
		return fmt.Errorf("%w: deeper than %d levels", ErrMalformed, maxFileDepth)
	}
	if onBlock != nil {
		if err := onBlock(c, raw); err != nil {
			return err
		}
	}
	emit := func(off int64, b []byte) error {
		lo, hi := max(off, r.From), min(off+int64(len(b))-1, r.To)
		if lo > hi || onBytes == nil {
			return nil
		}
		return onBytes(lo, b[lo-off:hi-off+1])
	}
	switch c.Prefix().Codec {
	case cid.Raw:
		if int64(len(raw)) != size {
			return fmt.Errorf("%w: leaf %s is %d bytes, its parent says %d", ErrMalformed, c, len(raw), size)
		}
		return emit(start, raw)
	case cid.DagProtobuf:
	default:
		return fmt.Errorf("%w: %s in a file has codec 0x%x", ErrMalformed, c, c.Prefix().Codec)
	}
	pb, ufs, err := dag.DecodeUnixFS(c, raw)
	if err != nil {
		return err
	}
	if ufs == nil {
		return fmt.Errorf("%w: %s is dag-pb without UnixFS data", ErrMalformed, c)
	}
	if t := ufs.FieldDataType().Int(); t != data.Data_File && t != data.Data_Raw {
		return fmt.Errorf("%w: %s in a file is a UnixFS %s", ErrMalformed, c, data.DataTypeNames[t])
	}
	pos := start
	if ufs.FieldData().Exists() {
		d := ufs.FieldData().Must().Bytes()
		if err := emit(pos, d); err != nil {
			return err
		}
		pos += int64(len(d))
	}
	err = fileLinks(c, pb, ufs, func(l dagpb.PBLink, n int64) error {
		if n > math.MaxInt64-pos {
			return fmt.Errorf("%w: %s holds more than 2^63 bytes", ErrMalformed, c)
		}
		if pos <= r.To && pos+n-1 >= r.From {
			kid := l.FieldHash().Link().(cidlink.Link).Cid
			kraw, err := lookup(blocks, kid)
			if err != nil {
				return err
			}
			if err := walkFile(blocks, kid, kraw, pos, n, r, depth+1, onBlock, onBytes); err != nil {
				return err
			}
		}
		pos += n
		return nil
	})
	if err != nil {
		return err
	}
	if pos-start != size {
		return fmt.Errorf("%w: %s holds %d bytes, its parent says %d", ErrMalformed, c, pos-start, size)
	}
	return nil
}

// fileLinks calls fn with each link of the UnixFS file node c and the size
// of the bytes below it, in order, after checking that the node has a
// block size for each link; a negative size is malformed.
func fileLinks(c cid.Cid, pb dagpb.PBNode, ufs data.UnixFSData, fn func(l dagpb.PBLink, size int64) error) error {
	sizes := ufs.FieldBlockSizes()
	if pb.FieldLinks().Length() != sizes.Length() {
		return fmt.Errorf("%w: %s has %d links and %d block sizes", ErrMalformed, c, pb.FieldLinks().Length(), sizes.Length())
	}
	i := int64(0)
	for it := pb.FieldLinks().Iterator(); !it.Done(); i++ {
		_, l := it.Next()
		bs, _ := sizes.LookupByIndex(i)
		n, _ := bs.AsInt()
		if n < 0 {
			return fmt.Errorf("%w: %s has a negative block size", ErrMalformed, c)
		}
		if err := fn(l, n); err != nil {
			return err
		}
	}
	return nil
}

// lookup returns the block of c from blocks or from an identity CID.
func lookup(blocks map[string][]byte, c cid.Cid) ([]byte, error) {
	if b, ok, err := dag.Inline(c.Hash()); err != nil || ok {
		return b, err
	}
	b, ok := blocks[c.KeyString()]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrIncomplete, c)
	}
	return b, nil
}

// FetchFile fetches the UnixFS file root into the file out: slices in
// parallel into a temporary file in out's folder, renamed to out once
// every byte is written and verified. On error nothing is left at out
// (nor the temporary file).
func (c *Client) FetchFile(ctx context.Context, root cid.Cid, out string) error {
	f, err := c.Root(ctx, root)
	if err != nil {
		return err
	}
	if err := c.checkSize(f); err != nil {
		return err
	}
	return atomicFile(out, func(tmp *os.File) error { return c.fill(ctx, f, tmp) })
}

// fill writes the bytes of f into dst, slices in parallel.
func (c *Client) fill(ctx context.Context, f *File, dst *os.File) error {
	if err := dst.Truncate(f.Size); err != nil {
		return err
	}
	if !f.hasSlices() { // the root holds the file
		if f.Size == 0 {
			return nil
		}
		err := walkFile(nil, f.CID, f.Raw, 0, f.Size, Range{0, f.Size - 1}, 0, nil, func(off int64, b []byte) error {
			_, err := dst.WriteAt(b, off)
			return err
		})
		if err == nil && c.progress != nil {
			c.progress(f.Size, f.Size)
		}
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.parallel)
	i := 0
	f.eachSlice(c.sliceSize, func(r Range) bool {
		if gctx.Err() != nil {
			return false
		}
		n := i
		g.Go(func() error { return c.fillSlice(gctx, f, n, r, dst) })
		i++
		return true
	})
	return g.Wait()
}

// fillSlice fetches slice i (range r) of f and writes its bytes into dst.
func (c *Client) fillSlice(ctx context.Context, f *File, i int, r Range, dst *os.File) error {
	release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	blocks, err := c.fetchSlice(ctx, f, i, r)
	if err != nil {
		return err
	}
	var wrote int64
	err = walkFile(blocks, f.CID, f.Raw, 0, f.Size, r, 0, nil, func(off int64, b []byte) error {
		wrote += int64(len(b))
		_, err := dst.WriteAt(b, off)
		return err
	})
	if err != nil {
		return err
	}
	if wrote != r.Len() { // ParseFile and walkFile check sizes: a bug if hit
		return fmt.Errorf("fetch: slice %d:%d wrote %d bytes", r.From, r.To, wrote)
	}
	if c.progress != nil {
		c.progress(wrote, f.Size)
	}
	return nil
}

// atomicFile runs fill on a new file in a part next to out, then renames
// it to out; on any error it removes the part and what it holds.
func atomicFile(out string, fill func(*os.File) error) (err error) {
	p, err := newPart(out)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			p.remove()
		}
	}()
	name := filepath.Join(p.dir, filepath.Base(out))
	tmp, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(name, 0o644); err != nil {
		return err
	}
	if err := os.Rename(name, out); err != nil {
		return err
	}
	os.Remove(p.dir) // empty now
	p.unlock()
	return nil
}
