package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// maxSingleLevelFile bounds the size of an index file that may hold a
// single-level record: such a record has no sub-records, so its file is a
// few hundred bytes. Larger files (CONTAINING records of the multiple-level
// writer, up to the store's cap) are not read as candidates.
const maxSingleLevelFile = 16 << 10

// SkipStored makes Add write only the records not stored yet: before each
// write it reads the index files of the record's multihash and skips the
// write when one of them is a single-level file ("index/blob@0.1") holding
// the same record (same multihash, type, pack, offset and length).
//
// A single-level record without sub-records is stored under a new
// timestamp name each time it is written, so writing the same blobs again
// (an ingest event delivered twice, a retry after a partial write) would
// add duplicates. With SkipStored a repeated Add adds nothing, at the cost
// of one listing (and small reads) per record. Two Adds running at the
// same moment may still both write a record: readers merge records, so a
// duplicate costs a little space and nothing else.
func SkipStored() SingleLevelOption {
	return func(w *SingleLevelWriter) { w.skipStored = true }
}

// hasSingleLevel reports whether a single-level index file of mh holds r.
// A file that cannot be read is an error (it may be the one that holds r),
// unless it is over the store's size cap, which no such file is.
func hasSingleLevel(ctx context.Context, s store.IndexStore, mh multihash.Multihash, r Record) (bool, error) {
	files, err := s.Files(ctx, mh)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index: read %s: %w", store.Key(mh), err)
	}
	for _, f := range files {
		if f.Err != nil {
			if errors.Is(f.Err, store.ErrTooLarge) {
				continue
			}
			return false, fmt.Errorf("index: read %s: %w", store.Key(mh), f.Err)
		}
		if len(f.Data) > maxSingleLevelFile {
			continue
		}
		typ, got, err := Decode(f.Data)
		if err != nil {
			continue // not a record this writer wrote
		}
		if typ == TypeBlob && sameRecord(got, r) {
			return true, nil
		}
	}
	return false, nil
}

// sameRecord reports whether two records without sub-records are equal.
func sameRecord(a, b Record) bool {
	return bytes.Equal(a.Multihash, b.Multihash) && a.Type == b.Type &&
		bytes.Equal(a.Location.Multihash, b.Location.Multihash) && a.Location.Path == b.Location.Path &&
		a.HasRange == b.HasRange && a.Offset == b.Offset && a.Length == b.Length &&
		len(a.SubRecords) == 0 && len(b.SubRecords) == 0
}
