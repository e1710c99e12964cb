package pack

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multihash"
)

// ErrInvalidCAR is returned (wrapped) by Import and Scan for input that is
// not a well-formed CAR whose blocks all match their CIDs.
var ErrInvalidCAR = errors.New("invalid CAR")

// DefaultMaxSectionBytes is the largest CAR section (CID and block data)
// Scan reads, as go-car bounds it: a bad length prefix cannot make it
// allocate more.
const DefaultMaxSectionBytes = int64(carv2.DefaultMaxAllowedSectionSize)

// BlockError is the error of a CAR block that Scan refuses: which block,
// where its section starts, its CID when the section header could be read,
// and why. It wraps ErrInvalidCAR, so callers that only tell a bad CAR from
// a failed read check that; a CAR over the readers' limits is one too
// (reading it again cannot help), and its error wraps index.ErrOverLimit.
type BlockError struct {
	Index  int     // the block's position in the CAR, from 0
	Offset int64   // the byte offset of its section (length prefix) in the file
	CID    cid.Cid // cid.Undef when the section header is unreadable
	Err    error
}

func (e *BlockError) Error() string {
	what := ErrInvalidCAR.Error()
	if errors.Is(e.Err, index.ErrOverLimit) {
		what = "CAR refused" // well formed, but not what readers read
	}
	if e.CID.Defined() {
		return fmt.Sprintf("%s: block %d (%s, section at byte %d): %v", what, e.Index, e.CID, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: block %d (section at byte %d): %v", what, e.Index, e.Offset, e.Err)
}

// Unwrap returns ErrInvalidCAR and the cause.
func (e *BlockError) Unwrap() []error { return []error{ErrInvalidCAR, e.Err} }

// ScanOption configures Scan.
type ScanOption func(*scanOptions)

type scanOptions struct {
	maxSection int64
	maxBlocks  int
	limits     index.Limits
}

// WithLimits sets the readers' limits Scan holds the CAR to (default
// index.DefaultLimits(); a field 0 or less means its default): a block
// longer than the block limit, or the block with which the CAR's index
// would need a file over the index file cap (see index.Tally: the
// containing record of the CAR's one root, or of a sha2-256 multihash given
// later), is a *BlockError wrapping index.ErrOverLimit. Memory stays
// bounded with it: the blob list grows no longer than one index file can
// hold (index.Limits.MaxBlobs).
func WithLimits(l index.Limits) ScanOption {
	return func(o *scanOptions) { o.limits = l }
}

// WithMaxSectionBytes bounds the size of one CAR section, CID and data
// (default DefaultMaxSectionBytes; 0 or less means the default). A larger
// section is a *BlockError, found before anything is allocated for it.
func WithMaxSectionBytes(n int64) ScanOption {
	return func(o *scanOptions) {
		if n > 0 {
			o.maxSection = n
		}
	}
}

// WithMaxBlocks bounds the number of blocks (default 0: no bound). The
// blob list Scan returns grows with it, and so do the index records made
// from it: a CAR of millions of tiny blocks is refused with a *BlockError
// at the first block over the bound.
func WithMaxBlocks(n int) ScanOption {
	return func(o *scanOptions) { o.maxBlocks = max(n, 0) }
}

// Import stores the CAR file r (CARv1 or CARv2) as one pack, as it is, and
// returns where each of its blocks is: the offset and length of the block
// data in the file. Every block is checked against its CID, and the CAR
// against the readers' limits (WithLimits), by Scan first; a bad file is
// reported with ErrInvalidCAR and nothing is stored.
func Import(ctx context.Context, s store.PackStore, r io.ReadSeeker, opts ...ScanOption) (Info, error) {
	info, err := Scan(r, opts...)
	if err != nil {
		return Info{}, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("pack: import: %w", err)
	}
	if err := s.Put(ctx, info.Multihash, r, info.Size); err != nil {
		return Info{}, fmt.Errorf("pack: store %s: %w", store.Key(info.Multihash), err)
	}
	return info, nil
}

// Scan reads a CAR file to its end, checks every block against its CID
// and the readers' limits (WithLimits), and returns the pack it makes: its
// multihash, size, roots and blobs. It streams: memory holds one block at
// a time (at most the section bound) besides the blob list, which the
// limits bound.
//
// A file that is not a valid CAR is an error wrapping ErrInvalidCAR (a
// *BlockError when a block is at fault). An error of r itself, such as a
// network read cut short, is returned as it is, never as ErrInvalidCAR:
// reading again may well succeed.
func Scan(r io.Reader, opts ...ScanOption) (Info, error) {
	o := scanOptions{maxSection: DefaultMaxSectionBytes, limits: index.DefaultLimits()}
	for _, opt := range opts {
		opt(&o)
	}
	h := sha256.New()
	src := &sourceReader{r: r}
	cr := &dag.Counter{R: io.TeeReader(src, h)}
	// readErr tells a failure of r from a malformed CAR.
	readErr := func() error {
		if src.err != nil {
			return fmt.Errorf("pack: read: %w", src.err)
		}
		return nil
	}
	br, err := carv2.NewBlockReader(cr, carv2.MaxAllowedSectionSize(uint64(o.maxSection)))
	if err != nil {
		if rerr := readErr(); rerr != nil {
			return Info{}, rerr
		}
		return Info{}, fmt.Errorf("%w: header: %v", ErrInvalidCAR, err)
	}
	info := Info{Roots: br.Roots}
	// The pack is named by a sha2-256 multihash, known at the end; the
	// containing record by the CAR's root, or a sha2-256 one given later.
	containingLen := sha256Len
	if len(br.Roots) == 1 {
		containingLen = len(br.Roots[0].Hash())
	}
	tally := index.NewTally(o.limits, containingLen)
	tally.Pack(sha256Len)
	var buf []byte
	for i := 0; ; i++ {
		start := cr.N
		bad := func(c cid.Cid, err error) error {
			if rerr := readErr(); rerr != nil {
				return rerr
			}
			return &BlockError{Index: i, Offset: start, CID: c, Err: err}
		}
		// NextReader leaves the data to us: its size is checked before
		// anything is allocated, and a mismatch names the CID.
		c, data, length, err := br.NextReader()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Info{}, bad(cid.Undef, err)
		}
		if o.maxBlocks > 0 && i >= o.maxBlocks {
			return Info{}, bad(c, fmt.Errorf("more than %d blocks", o.maxBlocks))
		}
		if int64(length) < 0 || int64(length)+int64(c.ByteLen()) > o.maxSection {
			return Info{}, bad(c, fmt.Errorf("section of %d bytes, over the %d-byte bound", length+uint64(c.ByteLen()), o.maxSection))
		}
		if err := o.limits.CheckBlock(length); err != nil {
			return Info{}, bad(c, err)
		}
		if uint64(cap(buf)) < length {
			buf = make([]byte, length)
		}
		buf = buf[:length]
		if _, err := io.ReadFull(data, buf); err != nil {
			return Info{}, bad(c, fmt.Errorf("block data: %w", err))
		}
		sum, err := c.Prefix().Sum(buf)
		if err != nil {
			return Info{}, bad(c, err)
		}
		if !sum.Equals(c) {
			return Info{}, bad(c, fmt.Errorf("data does not match the CID (its hash makes %s)", sum))
		}
		// The data ends where the reader is now.
		offset := uint64(cr.N) - length
		if err := tally.Blob(c.Hash(), offset, length); err != nil {
			return Info{}, bad(c, err)
		}
		info.Blobs = append(info.Blobs, index.PackedBlob{Multihash: c.Hash(), BlobLocation: store.BlobLocation{Offset: offset, Length: length}})
	}
	// A CARv2 may hold an index after its data: read the rest so the hash
	// covers the whole file.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return Info{}, fmt.Errorf("pack: read: %w", err)
	}
	if len(info.Blobs) == 0 {
		return Info{}, fmt.Errorf("%w: no blocks", ErrInvalidCAR)
	}
	mh, err := multihash.Encode(h.Sum(nil), multihash.SHA2_256)
	if err != nil {
		return Info{}, err
	}
	info.Multihash, info.Size = mh, cr.N
	for i := range info.Blobs {
		info.Blobs[i].Pack = store.Location{Multihash: mh}
	}
	return info, nil
}

// sha256Len is the length of a sha2-256 multihash (code, length, 32
// bytes), which names every pack.
const sha256Len = 2 + sha256.Size

// sourceReader keeps the first error of r other than io.EOF.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}
