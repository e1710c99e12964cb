// Package streamer turns index records into verified blocks: it finds where
// a block is, reads its bytes from the pack store and checks them against
// the block's multihash before handing them on. Nothing unverified leaves
// this package.
package streamer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// errNotFound is what the streamer returns (wrapped) for a block the index
// does not know: dag.ErrNotFound, and store.ErrNotFound as index.ErrNotFound
// is.
var errNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string { return dag.ErrNotFound.Error() }

func (notFoundError) Is(target error) bool {
	return target == dag.ErrNotFound || target == store.ErrNotFound
}

// DefaultMaxBlockBytes is the largest block the streamer reads: 4 MiB. The
// writers make leaves of 1 MiB and nodes of at most a few tens of KiB, and
// the IPFS network moves blocks of at most 2 MiB; an index record giving a
// larger length is refused before anything is allocated for it.
const DefaultMaxBlockBytes = index.DefaultMaxBlockBytes

// WithMaxBlockBytes sets the largest block length an index record may give.
func WithMaxBlockBytes(n int64) Option { return func(s *Streamer) { s.maxBlock = n } }

// Option configures a Streamer.
type Option func(*Streamer)

// DefaultLearnedRoots is how many DAG roots a Streamer remembers having
// resolved, to find their blocks asked for without a containing CID.
const DefaultLearnedRoots = 256

// WithLearnedRoots sets how many DAG roots a Streamer remembers (0: none).
func WithLearnedRoots(n int) Option {
	return func(s *Streamer) { s.maxLearned = max(n, 0) }
}

// WithLogger sets the logger for corruption and storage errors (default:
// discard).
func WithLogger(l *slog.Logger) Option { return func(s *Streamer) { s.log = l } }

// Streamer reads verified blocks through an index reader and a pack store.
// It remembers the roots of the DAGs whose CONTAINING records it has read,
// so a block of such a DAG asked for on its own (by a block-by-block
// client) is found in the root's cached index Set, without a lookup of its
// own. Safe for concurrent use.
type Streamer struct {
	index *index.Reader
	packs store.PackStore
	log   *slog.Logger

	// learned holds the multihashes of DAG roots whose Sets hold a
	// CONTAINING record, most recently found first, at most maxLearned.
	learnedMu  sync.Mutex
	learned    []string
	maxLearned int
	plan       PlannerConfig
	maxBlock   int64

	// verify is Verify; only this package's benchmarks replace it, to
	// measure what verification costs.
	verify func(multihash.Multihash, []byte) error
}

// The Streamer is the dag.Source the gateway reads through.
var _ dag.Source = (*Streamer)(nil)

// New returns a Streamer.
func New(idx *index.Reader, packs store.PackStore, opts ...Option) *Streamer {
	s := &Streamer{index: idx, packs: packs, log: slog.New(slog.DiscardHandler), plan: DefaultPlannerConfig(), maxLearned: DefaultLearnedRoots, maxBlock: DefaultMaxBlockBytes}
	s.verify = dag.Verify
	for _, o := range opts {
		o(s)
	}
	return s
}

// Locate returns where the blob mh is, looking first in the index Set of
// containing (when not nil), then in mh's own Set if cached, in those of
// the DAG roots learned before, and last in mh's own Set read from the
// index. An identity containing multihash is not looked up. When containing's index cannot be read and mh is found nowhere else,
// the error is containing's, not a not-found.
func (s *Streamer) Locate(ctx context.Context, mh, containing multihash.Multihash) (store.BlobLocation, error) {
	return s.locate(ctx, mh, s.containingSet(ctx, containing, nil))
}

// containingSet is the Set of a containing multihash, looked up once for
// the many blocks located in it.
type containingSet struct {
	set *index.Set
	err error // reading it failed (not a not-found)
}

// A read that the index cache does not answer is counted in stats (nil:
// not counted) as a lookup.
func (s *Streamer) containingSet(ctx context.Context, containing multihash.Multihash, stats *dag.Stats) containingSet {
	if containing == nil || dag.IsIdentityHash(containing) {
		return containingSet{}
	}
	if _, cached := s.index.Cached(containing); !cached && stats != nil {
		stats.Lookups.Add(1)
	}
	set, err := s.index.Set(ctx, containing)
	if errors.Is(err, index.ErrNotFound) {
		err = nil
	}
	if set != nil && set.Containing() {
		s.learn(containing)
	}
	return containingSet{set: set, err: err}
}

func (s *Streamer) locate(ctx context.Context, mh multihash.Multihash, cs containingSet) (store.BlobLocation, error) {
	if loc, ok := s.locateCached(ctx, mh, cs); ok {
		return loc, nil
	}
	return s.lookup(ctx, mh, cs)
}

// lookup finds mh through the index, after locateCached did not: it reads
// mh's own Set (unless the index reader has it cached).
func (s *Streamer) lookup(ctx context.Context, mh multihash.Multihash, cs containingSet) (store.BlobLocation, error) {
	set, err := s.index.Set(ctx, mh)
	if err == nil {
		if set.Containing() {
			s.learn(mh)
		}
		if r, ok := set.Blob(mh); ok {
			return location(r), nil
		}
		err = fmt.Errorf("%w: %s has records but no blob record", errNotFound, store.Key(mh))
	} else if errors.Is(err, index.ErrNotFound) {
		err = fmt.Errorf("%w: %s", errNotFound, store.Key(mh))
	}
	if cs.err != nil && errors.Is(err, errNotFound) {
		return store.BlobLocation{}, cs.err
	}
	return store.BlobLocation{}, err
}

// locateCached finds mh without reading: in the containing Set, in mh's
// own Set when cached, then in the cached Sets of learned roots (the
// longest search, last).
func (s *Streamer) locateCached(ctx context.Context, mh multihash.Multihash, cs containingSet) (store.BlobLocation, bool) {
	if cs.set != nil {
		if r, ok := cs.set.Blob(mh); ok {
			return location(r), true
		}
	}
	if _, ok := s.index.Cached(mh); ok {
		// Set marks it used in the cache (a hit: it is cached).
		if set, err := s.index.Set(ctx, mh); err == nil {
			if r, ok := set.Blob(mh); ok {
				return location(r), true
			}
		}
	}
	root, r, ok := s.findLearned(mh)
	if !ok {
		return store.BlobLocation{}, false
	}
	_, _ = s.index.Set(ctx, root) // marks the root's Set used
	return location(r), true
}

// findLearned finds mh in the cached Set of a learned root.
func (s *Streamer) findLearned(mh multihash.Multihash) (multihash.Multihash, index.Record, bool) {
	s.learnedMu.Lock()
	defer s.learnedMu.Unlock()
	for i := 0; i < len(s.learned); {
		root := multihash.Multihash(s.learned[i])
		set, ok := s.index.Cached(root)
		if !ok {
			// Evicted from the index cache: reading it again for a block
			// that may not be in it would let any request cost a read.
			s.learned = slices.Delete(s.learned, i, i+1)
			continue
		}
		if r, ok := set.Blob(mh); ok {
			return root, r, true
		}
		i++
	}
	return nil, index.Record{}, false
}

// learn remembers root, a multihash whose Set holds a CONTAINING record.
func (s *Streamer) learn(root multihash.Multihash) {
	if s.maxLearned == 0 {
		return
	}
	s.learnedMu.Lock()
	defer s.learnedMu.Unlock()
	if i := slices.Index(s.learned, string(root)); i >= 0 {
		s.learned = slices.Delete(s.learned, i, i+1)
	} else if len(s.learned) == s.maxLearned {
		s.learned = s.learned[:len(s.learned)-1]
	}
	s.learned = slices.Insert(s.learned, 0, string(root))
}

func location(r index.Record) store.BlobLocation {
	return store.BlobLocation{Pack: r.Location, Offset: r.Offset, Length: r.Length}
}

// Block returns the verified bytes of the blob mh. They are charged to the
// memory budget of the response in ctx (see package budget) until the
// response ends.
func (s *Streamer) Block(ctx context.Context, mh, containing multihash.Multihash, stats *dag.Stats) ([]byte, error) {
	if stats == nil {
		stats = new(dag.Stats)
	}
	if data, ok, err := dag.Inline(mh); ok || err != nil {
		if err == nil {
			stats.Blocks.Add(1)
		}
		return data, err
	}
	cs := s.containingSet(ctx, containing, stats)
	loc, ok := s.locateCached(ctx, mh, cs)
	if !ok {
		stats.Lookups.Add(1)
		var err error
		if loc, err = s.lookup(ctx, mh, cs); err != nil {
			return nil, err
		}
	}
	if err := s.checkLocation(mh, loc); err != nil {
		return nil, err
	}
	budget.FromContext(ctx).Take(int64(loc.Length))
	data, err := store.ReadRange(ctx, s.packs, loc.Pack, loc.Offset, loc.Length)
	stats.Reads.Add(1)
	if err != nil {
		s.log.ErrorContext(ctx, "storage read failed", "multihash", store.Key(mh), "pack", loc.Pack.String(), "offset", loc.Offset, "length", loc.Length, "err", err)
		return nil, err
	}
	stats.ReadBytes.Add(int64(len(data)))
	if err := s.verify(mh, data); err != nil {
		s.log.ErrorContext(ctx, "corrupt block", "multihash", store.Key(mh), "pack", loc.Pack.String(), "offset", loc.Offset, "length", loc.Length)
		return nil, fmt.Errorf("%w (pack %s, offset %d)", err, loc.Pack, loc.Offset)
	}
	stats.Blocks.Add(1)
	return data, nil
}

// checkLocation refuses a location no block can have, before its length
// sizes an allocation: index records are untrusted input.
func (s *Streamer) checkLocation(mh multihash.Multihash, loc store.BlobLocation) error {
	if loc.Length > uint64(s.maxBlock) {
		return fmt.Errorf("%w: %s: length %d is over the %d-byte block limit (pack %s)", dag.ErrBadRecord, store.Key(mh), loc.Length, s.maxBlock, loc.Pack)
	}
	if loc.Offset > math.MaxInt64-loc.Length {
		return fmt.Errorf("%w: %s: offset %d + length %d is past the largest file offset (pack %s)", dag.ErrBadRecord, store.Key(mh), loc.Offset, loc.Length, loc.Pack)
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
	err := fmt.Errorf("%w: streamer %s: panic: %v", dag.ErrInternal, where, p)
	s.log.ErrorContext(ctx, "panic", "where", where, "err", err.Error(), "stack", string(debug.Stack()))
	fail(err)
}
