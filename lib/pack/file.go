package pack

import (
	"context"
	"io"
	"io/fs"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"golang.org/x/sync/errgroup"
)

// pipelineDepth is how many blocks may wait between the UnixFS encoder and
// the pack writer: enough to keep both cores busy, small enough that memory
// stays flat (at most this many chunks in flight).
const pipelineDepth = 4

// WriteFile encodes r as a UnixFS file (see package unixfs, same layout as
// the JavaScript CLI), stores its blocks in packs and returns the root CID
// and the packs, in order. Encoding (hashing the leaves) and packing
// (hashing and writing the packs) run concurrently. A failed write leaves
// no partial pack behind; packs already stored stay (they are complete and
// content-addressed) and the error is then a *LeftError naming them.
func WriteFile(ctx context.Context, s store.PackStore, r io.Reader, opts ...WriterOption) (cid.Cid, []Info, error) {
	return writeDAG(ctx, s, func(emit unixfs.EmitFunc) (cid.Cid, error) {
		root, _, err := unixfs.BuildFile(r, emit)
		return root, err
	}, opts)
}

// WriteDirectory encodes the folder tree of fsys as a UnixFS directory
// (see unixfs.BuildDirectory: the IPIP-499 unixfs-v1-2025 layout, files
// as WriteFile encodes them), stores its blocks in packs and returns the
// root CID and the packs, in order, as WriteFile does. An entry that is
// not a regular file or a folder fails the write as a read error does
// (*unixfs.UnsupportedError, within a *LeftError when packs were stored
// before it): check the tree first with unixfs.Scan to store nothing then.
func WriteDirectory(ctx context.Context, s store.PackStore, fsys fs.FS, opts ...WriterOption) (cid.Cid, []Info, error) {
	return writeDAG(ctx, s, func(emit unixfs.EmitFunc) (cid.Cid, error) {
		return unixfs.BuildDirectory(fsys, emit)
	}, opts)
}

// writeDAG packs the blocks build emits, building and packing
// concurrently.
func writeDAG(ctx context.Context, s store.PackStore, build func(unixfs.EmitFunc) (cid.Cid, error), opts []WriterOption) (cid.Cid, []Info, error) {
	w, err := NewWriter(s, opts...)
	if err != nil {
		return cid.Undef, nil, err
	}
	type block struct {
		cid  cid.Cid
		data []byte
	}
	blocks := make(chan block, pipelineDepth)
	free := make(chan []byte, pipelineDepth+2)
	g, gctx := errgroup.WithContext(ctx)
	var root cid.Cid
	g.Go(func() error {
		defer close(blocks)
		var err error
		root, err = build(func(b unixfs.Block) error {
			// The encoder reuses its buffer: hand the writer a copy.
			var buf []byte
			select {
			case buf = <-free:
			default:
			}
			buf = append(buf[:0], b.Data...)
			select {
			case blocks <- block{b.CID, buf}:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
		return err
	})
	g.Go(func() error {
		for b := range blocks {
			if err := w.Add(ctx, b.cid, b.data); err != nil { // not gctx: a pack may still be storing after Wait
				return err
			}
			select {
			case free <- b.data:
			default:
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		w.Abort()
		return cid.Undef, nil, leftBehind(err, w.Stored(), false)
	}
	packs, err := w.Close(ctx, root)
	if err != nil {
		return cid.Undef, nil, err
	}
	return root, packs, nil
}

// AddToIndex indexes the blobs of packs, which must be stored already,
// with every writer in turn, under containing when not nil. Put the writer
// of containing records (index.MultipleLevelWriter) last: the containing
// record, which answers for the whole DAG, is then written only once every
// other record is. On failure the error is a *LeftError naming packs.
func AddToIndex(ctx context.Context, writers []index.Writer, packs []Info, containing multihash.Multihash) error {
	// The writers only read the blobs: one pack's are used as they are.
	var blobs []index.PackedBlob
	if len(packs) == 1 {
		blobs = packs[0].Blobs
	} else {
		n := 0
		for _, p := range packs {
			n += len(p.Blobs)
		}
		blobs = make([]index.PackedBlob, 0, n)
		for _, p := range packs {
			blobs = append(blobs, p.Blobs...)
		}
	}
	for _, w := range writers {
		if err := w.Add(ctx, blobs, containing); err != nil {
			return leftBehind(err, packs, true)
		}
	}
	return nil
}
