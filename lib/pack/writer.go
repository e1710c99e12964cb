package pack

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/tempfile"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// DefaultMaxSize is the JavaScript Hash Stream CLI's default pack size
// limit, in bytes (127 MiB).
const DefaultMaxSize = 133169152

// Info describes one stored pack.
type Info struct {
	Multihash multihash.Multihash
	Size      int64
	Roots     []cid.Cid
	Blobs     []index.PackedBlob
}

// WriterOption configures a Writer.
type WriterOption func(*Writer)

// WithMaxSize sets the pack size limit (default DefaultMaxSize). A pack is
// closed when the next block would make it larger; the size counts a CAR
// header without roots, as the JavaScript CLI counts it. A block larger
// than the limit gets a pack of its own.
func WithMaxSize(n int64) WriterOption { return func(w *Writer) { w.maxSize = n } }

// WithTempDir sets the folder of the spool files (default os.TempDir()),
// used when the store does not spool itself (store.SpoolingPackStore).
// A spool file is locked while its writer lives; before its first spool a
// Writer removes the unlocked spool files (named hash-stream-pack-*) that
// writers killed before they could remove them left in the folder.
func WithTempDir(dir string) WriterOption { return func(w *Writer) { w.tempDir = dir } }

// WithWriterLimits sets the readers' limits the Writer holds the blocks
// to (default index.DefaultLimits(); a field 0 or less means its
// default): a block over the block limit, or the block with which the
// DAG's index would need a file over the index file cap (index.Tally, for
// a containing record under a sha2-256 root, as every DAG written here
// has), fails Add with an error wrapping index.ErrOverLimit, before that
// block is spooled. Packs stored before stay (a *LeftError names them):
// a DAG whose index overflows within its first pack stores nothing.
func WithWriterLimits(l index.Limits) WriterOption { return func(w *Writer) { w.limits = l } }

// Writer splits blocks into CAR packs and stores them. Only the last pack
// carries the root in its header. Use it from one goroutine: Add each block
// in order, then Close with the root.
type Writer struct {
	store   store.PackStore
	maxSize int64
	tempDir string
	limits  index.Limits
	tally   *index.Tally

	emptyHeader []byte // CAR header without roots
	spool       *os.File
	buf         *bufio.Writer
	sum         hash.Hash // of emptyHeader and the sections so far
	size        int64     // pack size with emptyHeader
	blobs       []index.PackedBlob
	packs       []Info // stored
	err         error
	swept       bool // stale spool files of tempDir removed

	// One pack is stored in the background while the next one spools, so
	// the store's write (and its fsync) overlaps with hashing.
	putting *pendingPut
}

type pendingPut struct {
	info Info
	done chan error
}

// NewWriter returns a Writer storing packs in s.
func NewWriter(s store.PackStore, opts ...WriterOption) (*Writer, error) {
	h, err := dag.CARHeader()
	if err != nil {
		return nil, err
	}
	w := &Writer{store: s, maxSize: DefaultMaxSize, emptyHeader: h, sum: sha256.New(), limits: index.DefaultLimits()}
	for _, o := range opts {
		o(w)
	}
	w.tally = index.NewTally(w.limits, sha256Len)
	if w.maxSize <= int64(len(h)) {
		return nil, fmt.Errorf("pack: max size %d is too small", w.maxSize)
	}
	return w, nil
}

// Add appends a block. It stores the current pack first when the block
// would not fit in it.
func (w *Writer) Add(ctx context.Context, c cid.Cid, data []byte) error {
	if w.err != nil {
		return w.err
	}
	head := dag.SectionHead(c, len(data))
	section := int64(len(head) + len(data))
	// The block is held to the limits before anything is done with it,
	// even storing the pack before it.
	newPack := w.spool == nil || len(w.blobs) > 0 && w.size+section > w.maxSize
	at := w.size
	if newPack {
		w.tally.Pack(sha256Len)
		at = int64(len(w.emptyHeader))
	}
	// The offset as it will be: after the header, which the last pack's
	// roots make longer (by less than maxRootsHeader). A larger offset
	// has as many digits or more, so the tally is never short.
	if err := w.tally.Blob(c.Hash(), uint64(at+int64(len(head))+maxRootsHeader), uint64(len(data))); err != nil {
		return w.fail(fmt.Errorf("pack: block %s: %w", c, err))
	}
	if newPack && w.spool != nil {
		if err := w.storePack(ctx, nil); err != nil {
			return w.fail(err)
		}
	}
	if w.spool == nil {
		if err := w.openSpool(); err != nil {
			return w.fail(err)
		}
	}
	// Offsets are relative to the end of the header until it is known.
	w.blobs = append(w.blobs, index.PackedBlob{Multihash: c.Hash(), BlobLocation: store.BlobLocation{Offset: uint64(w.size - int64(len(w.emptyHeader)) + int64(len(head))), Length: uint64(len(data))}})
	if _, err := w.buf.Write(head); err != nil {
		return w.fail(fmt.Errorf("pack: spool: %w", err))
	}
	if _, err := w.buf.Write(data); err != nil {
		return w.fail(fmt.Errorf("pack: spool: %w", err))
	}
	w.sum.Write(head)
	w.sum.Write(data)
	w.size += section
	return nil
}

// Close stores the last pack, with root in its header when defined, and
// returns every pack written, in order.
func (w *Writer) Close(ctx context.Context, root cid.Cid) ([]Info, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.spool != nil {
		var roots []cid.Cid
		if root.Defined() {
			roots = []cid.Cid{root}
		}
		if err := w.storePack(ctx, roots); err != nil {
			return nil, w.fail(err)
		}
	}
	if err := w.waitPut(); err != nil {
		return nil, w.fail(err)
	}
	w.err = errors.New("pack: writer closed")
	return w.packs, nil
}

// waitPut waits for the pack being stored in the background, if any.
func (w *Writer) waitPut() error {
	p := w.putting
	if p == nil {
		return nil
	}
	w.putting = nil
	if err := <-p.done; err != nil {
		return err
	}
	w.packs = append(w.packs, p.info)
	return nil
}

// Abort drops the pack being written. Packs already stored stay: see
// Stored.
func (w *Writer) Abort() {
	w.dropSpool()
	_ = w.waitPut()
	if w.err == nil {
		w.err = errors.New("pack: writer aborted")
	}
}

// Stored returns the packs stored so far, in order. After a failure (or
// Abort) these are the packs the write leaves behind: complete, and not
// indexed by it.
func (w *Writer) Stored() []Info {
	return w.packs
}

// fail ends the writer with err. Once packs were stored, the error is a
// *LeftError naming them.
func (w *Writer) fail(err error) error {
	w.dropSpool()
	_ = w.waitPut()
	err = leftBehind(err, w.packs, false)
	w.err = err
	return err
}

func (w *Writer) openSpool() error {
	f, err := w.createSpool()
	if err != nil {
		return err
	}
	w.spool = f
	if w.buf == nil {
		w.buf = bufio.NewWriterSize(f, 1<<20)
	} else {
		w.buf.Reset(f)
	}
	// The spool is the pack as it will be when it has no roots: the header
	// without roots, then the sections. Only a last pack with a root gets
	// another header (see storePack).
	w.buf.Write(w.emptyHeader)
	w.sum.Reset()
	w.sum.Write(w.emptyHeader)
	w.size = int64(len(w.emptyHeader))
	w.blobs = nil
	return nil
}

// createSpool creates a spool file: in the store when it can take the file
// as it is (no copy), else in the temporary folder.
func (w *Writer) createSpool() (*os.File, error) {
	if sps, ok := w.store.(store.SpoolingPackStore); ok {
		return sps.CreateSpool()
	}
	dir := w.tempDir
	if dir == "" {
		dir = os.TempDir()
	}
	if !w.swept {
		w.swept = true
		removeStaleSpools(dir)
	}
	f, err := tempfile.Create(dir, spoolPattern)
	if err != nil {
		return nil, fmt.Errorf("pack: spool: %w", err)
	}
	return f, nil
}

// maxRootsHeader bounds how much longer than the header without roots the
// last pack's header is, with its one root.
const maxRootsHeader = 128

// spoolPattern names the spool files a Writer makes in its temporary folder.
const spoolPattern = "hash-stream-pack-*"

// removeStaleSpools removes from dir the spool files of writers that were
// killed: those no live writer holds locked. It is best effort: a file it
// cannot remove (another user's) stays.
func removeStaleSpools(dir string) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return
	}
	defer root.Close()
	prefix, _, _ := strings.Cut(spoolPattern, "*")
	_, _, _ = tempfile.RemoveStale(root, ".", func(name string) bool { return strings.HasPrefix(name, prefix) })
}

func (w *Writer) dropSpool() {
	if w.spool != nil {
		w.spool.Close()
		os.Remove(w.spool.Name())
		w.spool = nil
	}
}

// storePack finishes the spooled pack, with a header naming roots, and
// starts storing it in the background once the previous pack is stored.
func (w *Writer) storePack(ctx context.Context, roots []cid.Cid) error {
	if err := w.buf.Flush(); err != nil {
		w.dropSpool()
		return fmt.Errorf("pack: spool: %w", err)
	}
	headerLen := int64(len(w.emptyHeader))
	size := w.size
	digest := w.sum.Sum(nil)
	if len(roots) > 0 {
		// The spool has the header without roots: write the pack again
		// with the roots' header, hashing it on the way.
		header, err := dag.CARHeader(roots...)
		if err != nil {
			w.dropSpool()
			return err
		}
		f, err := w.createSpool()
		if err != nil {
			w.dropSpool()
			return err
		}
		h := sha256.New()
		h.Write(header)
		_, err = f.Write(header)
		if err == nil {
			_, err = io.Copy(io.MultiWriter(f, h), io.NewSectionReader(w.spool, headerLen, size-headerLen))
		}
		w.dropSpool()
		w.spool = f
		if err != nil {
			w.dropSpool()
			return fmt.Errorf("pack: spool: %w", err)
		}
		digest = h.Sum(nil)
		size += int64(len(header)) - headerLen
		headerLen = int64(len(header))
	}
	mh, err := multihash.Encode(digest, multihash.SHA2_256)
	if err != nil {
		w.dropSpool()
		return err
	}
	info := Info{Multihash: mh, Size: size, Roots: roots, Blobs: w.blobs}
	for i := range info.Blobs {
		info.Blobs[i].Pack = store.Location{Multihash: mh}
		info.Blobs[i].Offset += uint64(headerLen)
	}
	w.blobs = nil
	if err := w.waitPut(); err != nil {
		w.dropSpool()
		return err
	}
	spool := w.spool
	w.spool = nil
	p := &pendingPut{info: info, done: make(chan error, 1)}
	w.putting = p
	go func() { p.done <- w.put(ctx, mh, spool, size) }()
	return nil
}

// put stores the spool file as the pack mh and disposes of the file.
func (w *Writer) put(ctx context.Context, mh multihash.Multihash, spool *os.File, size int64) error {
	if sps, ok := w.store.(store.SpoolingPackStore); ok {
		if err := sps.Adopt(ctx, mh, spool, size); err != nil {
			return fmt.Errorf("pack: store %s: %w", store.Key(mh), err)
		}
		return nil
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	if err := w.store.Put(ctx, mh, io.NewSectionReader(spool, 0, size), size); err != nil {
		return fmt.Errorf("pack: store %s: %w", store.Key(mh), err)
	}
	return nil
}
