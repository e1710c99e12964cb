package index

import (
	"slices"
	"sort"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// Set is the record set of one multihash in the form a Reader caches: the
// location of every blob below its records, sorted by multihash, made once
// when its files are read. A CONTAINING record of 300,000 blocks (a 63 MB
// file) takes about 27 MB here and answers a lookup in a binary search;
// its Record tree would take 65 MB and a scan. A Set is immutable and safe
// for concurrent use.
type Set struct {
	blobs      []blobEntry      // sorted by key, one per multihash
	locations  []store.Location // the distinct locations, by blobEntry.loc
	containing bool
	size       int64
}

// blobEntry is one blob of a Set, 40 bytes and its key.
type blobEntry struct {
	key            string // the blob's multihash bytes
	offset, length uint64
	loc            uint32 // index in Set.locations
	typ            uint8  // a Type
	hasRange       bool
}

// Sizes counted for a Set besides its keys and location bytes, measured
// with TestSetSize: an entry (and the rounding up of its key's
// allocation), a location, and the Set itself.
const (
	blobEntryBytes = 54
	locationBytes  = 40
	setBytes       = 96
)

// NewSet returns the Set of records: every BLOB and INLINE_BLOB record at
// any depth, the first one in stored order for a multihash that appears
// more than once.
func NewSet(records []Record) *Set {
	s := &Set{size: setBytes}
	n := 0
	for i := range records {
		s.containing = s.containing || records[i].Type == Containing
		records[i].Blobs(func(*Record) bool { n++; return true })
	}
	s.blobs = make([]blobEntry, 0, n)
	byMH := make(map[string]uint32)
	byPath := make(map[string]uint32)
	for i := range records {
		records[i].Blobs(func(r *Record) bool {
			e := blobEntry{key: string(r.Multihash), typ: uint8(r.Type), hasRange: r.HasRange, offset: r.Offset, length: r.Length}
			m, key := byMH, string(r.Location.Multihash)
			if r.Location.Multihash == nil {
				m, key = byPath, r.Location.Path
			}
			loc, ok := m[key]
			if !ok {
				loc = uint32(len(s.locations))
				m[key] = loc
				s.locations = append(s.locations, r.Location)
				s.size += locationBytes + int64(len(r.Location.Multihash)+len(r.Location.Path))
			}
			e.loc = loc
			s.blobs = append(s.blobs, e)
			return true
		})
	}
	// Stable: of equal keys, the first in stored order is kept.
	slices.SortStableFunc(s.blobs, func(a, b blobEntry) int { return strings.Compare(a.key, b.key) })
	s.blobs = slices.CompactFunc(s.blobs, func(a, b blobEntry) bool { return a.key == b.key })
	s.blobs = slices.Clip(s.blobs)
	s.locations = slices.Clip(s.locations)
	for i := range s.blobs {
		s.size += blobEntryBytes + int64(len(s.blobs[i].key))
	}
	return s
}

// Blob returns the BLOB (or INLINE_BLOB) record of mh in the set, without
// sub-records.
func (s *Set) Blob(mh multihash.Multihash) (Record, bool) {
	// string(mh) in a comparison does not allocate.
	i := sort.Search(len(s.blobs), func(i int) bool { return s.blobs[i].key >= string(mh) })
	if i == len(s.blobs) || s.blobs[i].key != string(mh) {
		return Record{}, false
	}
	e := &s.blobs[i]
	return Record{Multihash: mh, Type: Type(e.typ), Location: s.locations[e.loc], Offset: e.offset, Length: e.length, HasRange: e.hasRange}, true
}

// Containing reports whether the set holds a CONTAINING record: it is a
// DAG's, and its blobs are the DAG's blocks.
func (s *Set) Containing() bool { return s.containing }

// Len returns the number of blob multihashes in the set.
func (s *Set) Len() int { return len(s.blobs) }

// Size returns about how many bytes of memory the set holds, as a cache
// counts it.
func (s *Set) Size() int64 { return s.size }
