package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/hash-stream/hash-stream-aws/lib/cache"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// Reader finds the records of a multihash in an index store.
type Reader struct {
	store store.IndexStore
	cache *cache.Cache[string, []Record]
}

// ReaderOption configures a Reader.
type ReaderOption func(*Reader)

// WithCache keeps record sets in c across calls. Index files are immutable,
// so a cached set stays true; a file added later under the same multihash
// (the same block stored again in another pack) is not seen until the set
// is evicted, which only means one valid location is served instead of two.
func WithCache(c *cache.Cache[string, []Record]) ReaderOption {
	return func(r *Reader) { r.cache = c }
}

// NewCache returns a record-set cache of about capacity bytes (counted as
// the size of the index files the sets were read from), for WithCache.
func NewCache(capacity int64) *cache.Cache[string, []Record] {
	return cache.New(capacity, func(k string, recs []Record) int64 { return int64(len(k)) + recordsSize(recs) })
}

func recordsSize(recs []Record) int64 {
	var n int64
	for i := range recs {
		// About the DAG-JSON size of a record, without encoding it.
		n += 200 + 2*int64(len(recs[i].Multihash)) + recordsSize(recs[i].SubRecords)
	}
	return n
}

// NewReader returns a Reader over s.
func NewReader(s store.IndexStore, opts ...ReaderOption) *Reader {
	r := &Reader{store: s}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Find returns the record set of mh: the records of every index file stored
// under it, merged (see Merge). It returns an error wrapping ErrNotFound
// when none is stored, and one naming the file when a file does not decode.
func (r *Reader) Find(ctx context.Context, mh multihash.Multihash) ([]Record, error) {
	if r.cache != nil {
		if recs, ok := r.cache.Get(string(mh)); ok {
			return recs, nil
		}
	}
	files, err := r.store.Files(ctx, mh)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w for %s", ErrNotFound, store.Key(mh))
	}
	if err != nil {
		return nil, fmt.Errorf("index: read %s: %w", store.Key(mh), err)
	}
	records := make([]Record, 0, len(files))
	for _, f := range files {
		_, rec, err := Decode(f.Data)
		if err != nil {
			return nil, fmt.Errorf("index file %s/%s: %w", store.Key(mh), f.Name, err)
		}
		records = append(records, rec)
	}
	records = Merge(records)
	if r.cache != nil {
		r.cache.Add(string(mh), records)
	}
	return records, nil
}

// FindIn returns the records of mh found below the records of containing
// (for instance the BLOB records of a block inside a DAG's CONTAINING
// record), followed by mh's own records, as the JavaScript reader does. It
// returns an error wrapping ErrNotFound when neither has any.
func (r *Reader) FindIn(ctx context.Context, mh, containing multihash.Multihash) ([]Record, error) {
	var found []Record
	if containing != nil {
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
