package index

import (
	"slices"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// Set is the record set of one multihash in the form a Reader caches: the
// location of every blob below its records, by multihash, made once when
// its files are read. A CONTAINING record of 300,000 blocks (a 63 MB file)
// takes about 35 MB here and answers a lookup in a map; its Record tree
// would take 65 MB and a scan. A Set is immutable and safe for concurrent
// use.
type Set struct {
	// The blobs by multihash bytes: in a map, or when they are few (the
	// set of a block's own BLOB record) in a slice searched in order,
	// which takes a fifth of the memory.
	blobs      map[string]blobEntry
	few        []keyedEntry
	locations  []store.Location // the distinct locations, by blobEntry.loc
	containing bool
	size       int64
}

// maxFew is the largest number of blobs a Set keeps in a slice.
const maxFew = 8

type keyedEntry struct {
	key string
	blobEntry
}

// blobEntry is one blob of a Set: 24 bytes.
type blobEntry struct {
	offset, length uint64
	loc            uint32 // index in Set.locations
	typ            uint8  // a Type
	hasRange       bool
}

// Sizes counted for a Set besides its keys and location bytes, measured
// with TestSetSize: an entry of the few slice, a location, and the Set
// itself. The map is counted by mapBytes.
const (
	fewEntryBytes = 40
	locationBytes = 40
	setBytes      = 96
)

// mapBytes is about the memory of a map[string]blobEntry made for n > 8
// entries, as Go lays it out: a directory of tables of at most 1024 slots,
// each a power of two, in groups of 8 (a control word and 8 slots of 40
// bytes), filled to at most 7/8. TestSetSize checks the figure.
func mapBytes(n int) int64 {
	target := n * 8 / 7
	tables := 1
	for tables*1024 < target {
		tables *= 2
	}
	slots := 8
	for slots*tables < target {
		slots *= 2
	}
	return int64(tables) * (allocBytes(int64(slots)/8*(8+8*40)) + 64)
}

// allocBytes is about the memory of an allocation of n bytes, rounded up
// as Go's allocator does: to whole pages above 32 KiB, to size classes
// (here steps of an eighth to a sixteenth) below.
func allocBytes(n int64) int64 {
	if n > 32<<10 {
		return (n + 8191) &^ 8191
	}
	step := int64(16)
	for step*16 < n {
		step *= 2
	}
	return (n + step - 1) / step * step
}

// NewSet returns the Set of records: every BLOB and INLINE_BLOB record at
// any depth, the first one in stored order for a multihash that appears
// more than once.
func NewSet(records []Record) *Set {
	s := &Set{size: setBytes}
	n, keyLen := 0, 0
	for i := range records {
		s.containing = s.containing || records[i].Type == Containing
		records[i].Blobs(func(r *Record) bool { n, keyLen = n+1, keyLen+len(r.Multihash); return true })
	}
	// The keys are substrings of one string: one allocation, not one a
	// blob, and one object for the garbage collector to mark.
	var arena strings.Builder
	arena.Grow(keyLen)
	for i := range records {
		records[i].Blobs(func(r *Record) bool { arena.Write(r.Multihash); return true })
	}
	keys := arena.String()
	s.size += allocBytes(int64(keyLen))
	if n > maxFew {
		s.blobs = make(map[string]blobEntry, n)
		s.size += mapBytes(n)
	} else {
		s.few = make([]keyedEntry, 0, n)
		s.size += int64(n) * fewEntryBytes
	}
	byMH := make(map[string]uint32)
	byPath := make(map[string]uint32)
	for i := range records {
		records[i].Blobs(func(r *Record) bool {
			key := keys[:len(r.Multihash)]
			keys = keys[len(r.Multihash):]
			if _, dup := s.find(key); dup {
				return true // the first one stays
			}
			var loc uint32
			var ok bool
			if r.Location.Multihash != nil {
				loc, ok = byMH[string(r.Location.Multihash)]
			} else {
				loc, ok = byPath[r.Location.Path]
			}
			if !ok {
				loc = uint32(len(s.locations))
				if r.Location.Multihash != nil {
					byMH[string(r.Location.Multihash)] = loc
				} else {
					byPath[r.Location.Path] = loc
				}
				s.locations = append(s.locations, r.Location)
				s.size += locationBytes + int64(len(r.Location.Multihash)+len(r.Location.Path))
			}
			e := blobEntry{offset: r.Offset, length: r.Length, loc: loc, typ: uint8(r.Type), hasRange: r.HasRange}
			if s.blobs != nil {
				s.blobs[key] = e
			} else {
				s.few = append(s.few, keyedEntry{key, e})
			}
			return true
		})
	}
	s.locations = slices.Clip(s.locations)
	return s
}

// Blob returns the BLOB (or INLINE_BLOB) record of mh in the set, without
// sub-records.
func (s *Set) Blob(mh multihash.Multihash) (Record, bool) {
	var e blobEntry
	var ok bool
	if s.blobs != nil {
		e, ok = s.blobs[string(mh)] // no allocation for the key
	} else {
		for i := range s.few {
			if s.few[i].key == string(mh) {
				e, ok = s.few[i].blobEntry, true
				break
			}
		}
	}
	if !ok {
		return Record{}, false
	}
	return Record{Multihash: mh, Type: Type(e.typ), Location: s.locations[e.loc], Offset: e.offset, Length: e.length, HasRange: e.hasRange}, true
}

// find looks key up, for NewSet.
func (s *Set) find(key string) (blobEntry, bool) {
	if s.blobs != nil {
		e, ok := s.blobs[key]
		return e, ok
	}
	for i := range s.few {
		if s.few[i].key == key {
			return s.few[i].blobEntry, true
		}
	}
	return blobEntry{}, false
}

// Containing reports whether the set holds a CONTAINING record: it is a
// DAG's, and its blobs are the DAG's blocks.
func (s *Set) Containing() bool { return s.containing }

// Len returns the number of blob multihashes in the set.
func (s *Set) Len() int { return len(s.blobs) + len(s.few) }

// Size returns about how many bytes of memory the set holds, as a cache
// counts it.
func (s *Set) Size() int64 { return s.size }
