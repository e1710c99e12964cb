package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/cache"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"
)

// DefaultCacheBytes is the size of the Set cache of a Reader made without
// WithCache. It holds the Set of the largest index file a store reads
// (store.DefaultMaxIndexFileBytes: a CONTAINING record of about 300,000
// blocks, some 36 MB as a Set) with room for many small ones.
const DefaultCacheBytes = 64 << 20

// DefaultReadTimeout bounds a read of the index files of one multihash.
// The read is shared by every caller that wants it and goes on when they
// leave, so it needs a bound of its own: a store that never answers would
// otherwise hold the multihash for good.
const DefaultReadTimeout = time.Minute

// DefaultDecodeBytes bounds the index file bytes a Reader decodes at once,
// whatever the number of multihashes being read: decoding takes about four
// times a file's size at its peak, so by default at most ~280 MB goes to
// decoding (a file at store.DefaultMaxIndexFileBytes decodes alone).
const DefaultDecodeBytes = 64 << 20

// Reader finds the records of a multihash in an index store.
//
// Set, which the streamer uses, reads the index files of a multihash once
// (concurrent callers share the read) and keeps the result in a
// size-bounded cache. An index file that cannot be read or decoded is
// skipped, with a warning, when another file of the multihash is usable;
// only when none is is it an error.
type Reader struct {
	store   store.IndexStore
	cache   *cache.Cache[string, *Set]
	log     *slog.Logger
	timeout time.Duration
	sets    singleflight.Group
	finds   singleflight.Group
	// decoding bounds the file bytes decoded at once (see
	// DefaultDecodeBytes); decodeMax is its size.
	decoding  *semaphore.Weighted
	decodeMax int64
}

// ReaderOption configures a Reader.
type ReaderOption func(*Reader)

// WithCache keeps Sets in c across calls (nil: no cache). Index files are
// immutable, so a cached Set stays true; a file added later under the same
// multihash (the same block stored again in another pack) is not seen until
// the Set is evicted, which only means one valid location is served instead
// of two. The default is a cache of DefaultCacheBytes of the Reader's own.
func WithCache(c *cache.Cache[string, *Set]) ReaderOption {
	return func(r *Reader) { r.cache = c }
}

// WithLogger sets the logger for skipped index files (default: discard).
func WithLogger(l *slog.Logger) ReaderOption {
	return func(r *Reader) { r.log = l }
}

// WithReadTimeout sets the bound of one shared read (default
// DefaultReadTimeout; 0 or less means the default).
func WithReadTimeout(d time.Duration) ReaderOption {
	return func(r *Reader) {
		if d > 0 {
			r.timeout = d
		}
	}
}

// WithDecodeBytes sets how many index file bytes are decoded at once
// (default DefaultDecodeBytes; 0 or less means the default). A larger file
// is decoded alone.
func WithDecodeBytes(n int64) ReaderOption {
	return func(r *Reader) {
		if n > 0 {
			r.decodeMax = n
		}
	}
}

// Cache holds decoded Sets by multihash, for Readers (WithCache).
type Cache = cache.Cache[string, *Set]

// NewCache returns a Set cache of about capacity bytes (as Set.Size counts
// them), for WithCache.
func NewCache(capacity int64) *Cache {
	return cache.New(capacity, func(k string, s *Set) int64 { return int64(len(k)) + s.Size() })
}

// NewReader returns a Reader over s.
func NewReader(s store.IndexStore, opts ...ReaderOption) *Reader {
	r := &Reader{store: s, cache: NewCache(DefaultCacheBytes), log: slog.New(slog.DiscardHandler), timeout: DefaultReadTimeout, decodeMax: DefaultDecodeBytes}
	for _, o := range opts {
		o(r)
	}
	r.decoding = semaphore.NewWeighted(r.decodeMax)
	return r
}

func identityError() error {
	return fmt.Errorf("%w for an identity multihash (its data is in the CID)", ErrNotFound)
}

// Set returns the Set of mh, from the cache or read once and cached. It
// returns an error wrapping ErrNotFound when no index file is stored for mh
// (or mh is an identity multihash: none is looked up), and an error naming
// the files when none of them is usable.
//
// Concurrent calls for one multihash share one read, which goes on when
// the caller that started it leaves (its result is cached for the next):
// a caller's ctx bounds only its own wait.
func (r *Reader) Set(ctx context.Context, mh multihash.Multihash) (*Set, error) {
	if dag.IsIdentityHash(mh) {
		return nil, identityError()
	}
	key := string(mh)
	if r.cache != nil {
		if s, ok := r.cache.Get(key); ok {
			return s, nil
		}
	}
	v, err := r.shared(ctx, &r.sets, key, func(ctx context.Context) (any, error) {
		if r.cache != nil {
			// A read that ended since the Get above left it here.
			if s, ok := r.cache.Peek(key); ok {
				return s, nil
			}
		}
		records, cacheable, err := r.read(ctx, mh)
		if err != nil {
			return nil, err
		}
		s := NewSet(records)
		if r.cache != nil && cacheable {
			r.cache.Add(key, s)
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Set), nil
}

// Cached returns the Set of mh when the cache holds it, without reading,
// marking it used or counting a hit or a miss.
func (r *Reader) Cached(mh multihash.Multihash) (*Set, bool) {
	if r.cache == nil {
		return nil, false
	}
	return r.cache.Peek(string(mh))
}

// Find returns the record set of mh: the records of every usable index
// file stored under it, merged (see Merge), read from the store on each
// call (concurrent calls share one read) for tools that show records;
// lookups go through Set. The records are shared: do not modify them. It
// returns an error wrapping ErrNotFound when none is stored, and one
// naming the files when none is usable.
func (r *Reader) Find(ctx context.Context, mh multihash.Multihash) ([]Record, error) {
	if dag.IsIdentityHash(mh) {
		return nil, identityError()
	}
	v, err := r.shared(ctx, &r.finds, string(mh), func(ctx context.Context) (any, error) {
		records, _, err := r.read(ctx, mh)
		return records, err
	})
	if err != nil {
		return nil, err
	}
	return v.([]Record), nil
}

// shared runs fn once for all concurrent callers with the same key, on a
// context that outlives any one caller (bounded by the read timeout), and
// waits for it as long as ctx lasts. A panic in fn (a decoder bug on
// hostile data) is its error: it would otherwise end the process from the
// goroutine DoChan starts.
func (r *Reader) shared(ctx context.Context, g *singleflight.Group, key string, fn func(context.Context) (any, error)) (any, error) {
	ch := g.DoChan(key, func() (v any, err error) {
		detached, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				v, err = nil, fmt.Errorf("index: reading %s failed: panic: %v", store.Key(multihash.Multihash(key)), p)
			}
		}()
		return fn(detached)
	})
	select {
	case res := <-ch:
		return res.Val, res.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// read reads and decodes the index files of mh. A file that cannot be read
// or decoded is skipped with a warning when another one is usable; the
// result is cacheable unless a file was skipped for a storage error, which
// may pass.
func (r *Reader) read(ctx context.Context, mh multihash.Multihash) (records []Record, cacheable bool, err error) {
	key := store.Key(mh)
	files, err := r.store.Files(ctx, mh)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, fmt.Errorf("%w for %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, false, fmt.Errorf("index: read %s: %w", key, err)
	}
	cacheable = true
	var bad []error
	for i := range files {
		f := &files[i]
		err := f.Err
		if err == nil {
			var rec Record
			if rec, err = r.decode(ctx, f.Data); err == nil {
				records = append(records, rec)
			} else {
				if ctx.Err() != nil {
					cacheable = false // not decoded in time: may pass
				}
				err = fmt.Errorf("index file %s: %w", f.Name, err)
			}
		} else if !errors.Is(err, store.ErrTooLarge) {
			cacheable = false
		}
		f.Data = nil // let the bytes go before the next file is decoded
		if err != nil {
			bad = append(bad, err)
		}
	}
	if len(records) == 0 {
		return nil, false, fmt.Errorf("index: no usable index file for %s: %w", key, errors.Join(bad...))
	}
	for _, err := range bad {
		r.log.WarnContext(ctx, "index file skipped", "multihash", key, "err", err.Error())
	}
	return Merge(records), cacheable, nil
}

// decode decodes one index file within the decoding bound.
func (r *Reader) decode(ctx context.Context, data []byte) (Record, error) {
	n := min(int64(len(data)), r.decodeMax)
	if err := r.decoding.Acquire(ctx, n); err != nil {
		return Record{}, fmt.Errorf("index: waiting to decode: %w", err)
	}
	defer r.decoding.Release(n)
	_, rec, err := decodeFile(data)
	return rec, err
}

// decodeFile is Decode; only this package's tests replace it.
var decodeFile = Decode

// FindIn returns the records of mh found below the records of containing
// (for instance the BLOB records of a block inside a DAG's CONTAINING
// record), followed by mh's own records, as the JavaScript reader does. It
// returns an error wrapping ErrNotFound when neither has any. An identity
// containing multihash is not looked up.
func (r *Reader) FindIn(ctx context.Context, mh, containing multihash.Multihash) ([]Record, error) {
	var found []Record
	if containing != nil && !dag.IsIdentityHash(containing) {
		parents, err := r.Find(ctx, containing)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		for i := range parents {
			found = appendMatching(found, parents[i].SubRecords, mh)
		}
	}
	own, err := r.Find(ctx, mh)
	if err != nil && (!errors.Is(err, ErrNotFound) || len(found) == 0) {
		return nil, err
	}
	return append(found, own...), nil
}

func appendMatching(dst, records []Record, mh multihash.Multihash) []Record {
	for _, rec := range records {
		if bytes.Equal(rec.Multihash, mh) {
			dst = append(dst, rec)
		}
		dst = appendMatching(dst, rec.SubRecords, mh)
	}
	return dst
}
