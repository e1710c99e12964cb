// Package streamer turns index records into verified blocks: it finds where
// a block is, reads its bytes from the pack store and checks them against
// the block's multihash before handing them on. Nothing unverified leaves
// this package.
package streamer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/cache"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

var (
	// ErrNotFound is returned (wrapped) for a block the index does not know.
	ErrNotFound = errors.New("block not found")
	// ErrCorrupt is returned (wrapped) for bytes that do not hash to the
	// block's multihash.
	ErrCorrupt = errors.New("block failed verification")
	// ErrBadRecord is returned (wrapped) for an index record whose location
	// cannot be a block's: a length over the block size limit, or an
	// offset and length past the largest file offset.
	ErrBadRecord = errors.New("impossible index record")
	// ErrInternal is returned (wrapped) for a panic in the streamer's own
	// goroutines, which ends the stream instead of the process.
	ErrInternal = errors.New("internal error")
)

// DefaultMaxBlockBytes is the largest block the streamer reads: 4 MiB. The
// writers make leaves of 1 MiB and nodes of at most a few tens of KiB, and
// the IPFS network moves blocks of at most 2 MiB; an index record giving a
// larger length is refused before anything is allocated for it.
const DefaultMaxBlockBytes = 4 << 20

// WithMaxBlockBytes sets the largest block length an index record may give.
func WithMaxBlockBytes(n int64) Option { return func(s *Streamer) { s.maxBlock = n } }

// Location is where a blob's bytes are: Length bytes at Offset of Pack.
type Location struct {
	Pack   store.Location
	Offset uint64
	Length uint64
}

// Option configures a Streamer.
type Option func(*Streamer)

// DefaultLearnedBytes bounds the blob locations a Streamer remembers from
// CONTAINING records (about 150 bytes each).
const DefaultLearnedBytes = 32 << 20

// WithLearnedBytes bounds the memory of learned blob locations.
func WithLearnedBytes(n int64) Option {
	return func(s *Streamer) { s.learned = cache.New(n, locationSize) }
}

func locationSize(k string, l Location) int64 {
	return int64(len(k)+len(l.Pack.Multihash)+len(l.Pack.Path)) + 64
}

// WithLogger sets the logger for corruption and storage errors (default:
// discard).
func WithLogger(l *slog.Logger) Option { return func(s *Streamer) { s.log = l } }

// Streamer reads verified blocks through an index reader and a pack store.
// It remembers the blob locations it learns from CONTAINING records, so a
// block inside a DAG whose root it has resolved is found without a lookup
// of its own. Safe for concurrent use.
type Streamer struct {
	index *index.Reader
	packs store.PackStore
	log   *slog.Logger

	learned  *cache.Cache[string, Location]
	plan     PlannerConfig
	maxBlock int64

	// verify is Verify; only this package's benchmarks replace it, to
	// measure what verification costs.
	verify func(multihash.Multihash, []byte) error
}

// New returns a Streamer.
func New(idx *index.Reader, packs store.PackStore, opts ...Option) *Streamer {
	s := &Streamer{index: idx, packs: packs, log: slog.New(slog.DiscardHandler), plan: DefaultPlannerConfig(), maxBlock: DefaultMaxBlockBytes}
	s.learned = cache.New(DefaultLearnedBytes, locationSize)
	s.verify = Verify
	for _, o := range opts {
		o(s)
	}
	return s
}

// Locate returns where the blob mh is, looking first at what was learned
// from CONTAINING records, then at the records of containing (when not
// nil), then at mh's own records.
func (s *Streamer) Locate(ctx context.Context, mh, containing multihash.Multihash) (Location, error) {
	if loc, ok := s.lookupLearned(mh); ok {
		return loc, nil
	}
	records, err := s.index.FindIn(ctx, mh, containing)
	if errors.Is(err, index.ErrNotFound) {
		return Location{}, fmt.Errorf("%w: %s", ErrNotFound, store.Key(mh))
	}
	if err != nil {
		return Location{}, err
	}
	s.learn(records)
	var found *index.Record
	for i := range records {
		records[i].Blobs(func(r *index.Record) bool {
			if bytes.Equal(r.Multihash, mh) {
				found = r
				return false
			}
			return true
		})
		if found != nil {
			break
		}
	}
	if found == nil {
		return Location{}, fmt.Errorf("%w: %s has records but no blob record", ErrNotFound, store.Key(mh))
	}
	return Location{Pack: found.Location, Offset: found.Offset, Length: found.Length}, nil
}

// learn remembers the location of every blob below CONTAINING records.
func (s *Streamer) learn(records []index.Record) {
	for i := range records {
		if records[i].Type != index.Containing {
			continue
		}
		records[i].Blobs(func(r *index.Record) bool {
			if r.Type == index.Blob {
				s.learned.Add(string(r.Multihash), Location{Pack: r.Location, Offset: r.Offset, Length: r.Length})
			}
			return true
		})
	}
}

func (s *Streamer) lookupLearned(mh multihash.Multihash) (Location, bool) {
	return s.learned.Get(string(mh))
}

// Block returns the verified bytes of the blob mh. They are charged to the
// memory budget of the response in ctx (see package budget) until the
// response ends.
func (s *Streamer) Block(ctx context.Context, mh, containing multihash.Multihash) ([]byte, error) {
	if data, ok, err := Inline(mh); ok || err != nil {
		return data, err
	}
	loc, err := s.Locate(ctx, mh, containing)
	if err != nil {
		return nil, err
	}
	if err := s.checkLocation(mh, loc); err != nil {
		return nil, err
	}
	budget.FromContext(ctx).Take(int64(loc.Length))
	data, err := pack.ReadRange(ctx, s.packs, loc.Pack, loc.Offset, loc.Length)
	if err != nil {
		s.log.ErrorContext(ctx, "storage read failed", "multihash", store.Key(mh), "pack", loc.Pack.String(), "offset", loc.Offset, "length", loc.Length, "err", err)
		return nil, err
	}
	if err := Verify(mh, data); err != nil {
		s.log.ErrorContext(ctx, "corrupt block", "multihash", store.Key(mh), "pack", loc.Pack.String(), "offset", loc.Offset, "length", loc.Length)
		return nil, fmt.Errorf("%w (pack %s, offset %d)", err, loc.Pack, loc.Offset)
	}
	return data, nil
}

// checkLocation refuses a location no block can have, before its length
// sizes an allocation: index records are untrusted input.
func (s *Streamer) checkLocation(mh multihash.Multihash, loc Location) error {
	if loc.Length > uint64(s.maxBlock) {
		return fmt.Errorf("%w: %s: length %d is over the %d-byte block limit (pack %s)", ErrBadRecord, store.Key(mh), loc.Length, s.maxBlock, loc.Pack)
	}
	if loc.Offset > math.MaxInt64-loc.Length {
		return fmt.Errorf("%w: %s: offset %d + length %d is past the largest file offset (pack %s)", ErrBadRecord, store.Key(mh), loc.Offset, loc.Length, loc.Pack)
	}
	return nil
}

// recoverInto turns a panic in one of the streamer's goroutines (a bug, or
// a decoder meeting input it did not expect) into an error for the
// response it serves, handed to fail, and a log line, instead of the end
// of the process. Deferred at the top of each goroutine.
func (s *Streamer) recoverInto(ctx context.Context, where string, fail func(error)) {
	p := recover()
	if p == nil {
		return
	}
	err := fmt.Errorf("%w: streamer %s: panic: %v", ErrInternal, where, p)
	s.log.ErrorContext(ctx, "panic", "where", where, "err", err.Error(), "stack", string(debug.Stack()))
	fail(err)
}

// Inline returns the data of an identity multihash (ok true), which is
// stored in the multihash itself and needs no storage read.
func Inline(mh multihash.Multihash) (data []byte, ok bool, err error) {
	dec, err := multihash.Decode(mh)
	if err != nil {
		return nil, false, fmt.Errorf("streamer: bad multihash: %w", err)
	}
	if dec.Code != multihash.IDENTITY {
		return nil, false, nil
	}
	return dec.Digest, true, nil
}

// Verify checks that data hashes to mh with mh's own hash function.
func Verify(mh multihash.Multihash, data []byte) error {
	dec, err := multihash.Decode(mh)
	if err != nil {
		return fmt.Errorf("streamer: bad multihash: %w", err)
	}
	var ok bool
	if dec.Code == multihash.SHA2_256 && dec.Length == sha256.Size {
		sum := sha256.Sum256(data) // the common case, without allocation
		ok = bytes.Equal(sum[:], dec.Digest)
	} else {
		got, err := multihash.Sum(data, dec.Code, dec.Length)
		if err != nil {
			return fmt.Errorf("streamer: cannot verify %s: %w", store.Key(mh), err)
		}
		ok = bytes.Equal(got, mh)
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrCorrupt, store.Key(mh))
	}
	return nil
}
