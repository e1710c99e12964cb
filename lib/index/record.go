// Package index reads and writes Hash Stream index records: for a block's
// multihash, which pack holds it and at which offset and length.
//
// Records are stored as DAG-JSON files in a store.IndexStore, byte for byte
// as the JavaScript Hash Stream writes them, by two writers:
// MultipleLevelWriter (type "index/containing@0.1": one CONTAINING record per
// DAG, whose sub-records are PACK records holding BLOB records) and
// SingleLevelWriter (type "index/blob@0.1": one BLOB record per block and one
// PACK record per pack, each stored under its own multihash).
package index

import (
	"bytes"
	"fmt"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// Type is the kind of an index record.
type Type int

// Record types, numbered as in the Hash Stream spec.
const (
	Blob       Type = 0 // a block at an offset and length of a pack
	Pack       Type = 1 // a pack, optionally with its blobs as sub-records
	Containing Type = 2 // a DAG root, with the packs holding its blocks
	InlineBlob Type = 3 // a block inlined in an identity multihash location
)

func (t Type) String() string {
	switch t {
	case Blob:
		return "BLOB"
	case Pack:
		return "PACK"
	case Containing:
		return "CONTAINING"
	case InlineBlob:
		return "INLINE_BLOB"
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// ErrNotFound is returned (wrapped) when no record exists for a multihash.
// It wraps store.ErrNotFound, so callers that only care whether something
// is missing check that one.
var ErrNotFound = fmt.Errorf("index: no record: %w", store.ErrNotFound)

// Record is one index record.
type Record struct {
	Multihash multihash.Multihash
	Type      Type
	Location  store.Location
	// Offset and Length locate a blob's bytes in its pack. HasRange says
	// whether they are present: the stored form omits them on PACK and
	// CONTAINING records.
	Offset     uint64
	Length     uint64
	HasRange   bool
	SubRecords []Record
}

// NewBlob returns a BLOB record for length bytes at offset of pack.
func NewBlob(mh, pack multihash.Multihash, offset, length uint64) Record {
	return Record{
		Multihash: mh,
		Type:      Blob,
		Location:  store.Location{Multihash: pack},
		Offset:    offset,
		Length:    length,
		HasRange:  true,
	}
}

// NewPack returns a PACK record located at itself, with optional blobs.
func NewPack(pack multihash.Multihash, blobs []Record) Record {
	if blobs == nil {
		blobs = []Record{}
	}
	return Record{Multihash: pack, Type: Pack, Location: store.Location{Multihash: pack}, SubRecords: blobs}
}

// NewContaining returns a CONTAINING record for a DAG root whose blocks are
// in the given PACK records.
func NewContaining(root multihash.Multihash, packs []Record) Record {
	return Record{Multihash: root, Type: Containing, Location: store.Location{Multihash: root}, SubRecords: packs}
}

// Blobs calls fn for every BLOB or INLINE_BLOB record in r and below it,
// depth first in stored order, until fn returns false.
func (r *Record) Blobs(fn func(*Record) bool) bool {
	if r.Type == Blob || r.Type == InlineBlob {
		if !fn(r) {
			return false
		}
	}
	for i := range r.SubRecords {
		if !r.SubRecords[i].Blobs(fn) {
			return false
		}
	}
	return true
}

// Merge joins records with equal multihash and type by concatenating their
// sub-records, keeping the order of first appearance. This is how the
// records of all files stored under one multihash form its record set.
func Merge(records []Record) []Record {
	var out []Record
next:
	for _, r := range records {
		for i := range out {
			if out[i].Type == r.Type && bytes.Equal(out[i].Multihash, r.Multihash) {
				out[i].SubRecords = append(out[i].SubRecords, r.SubRecords...)
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}
