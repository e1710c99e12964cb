package index

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// Encode's direct writer gives the bytes of the DAG-JSON encoder for every
// record the writers make, and records it does not write (path
// locations, other writer types) still encode as before.
func TestEncodeMatchesIPLD(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	mh := func() multihash.Multihash { return randomMultihash(t, r, r.IntN(80)) }
	numbers := []uint64{0, 1, 9, 10, 99, 1 << 20, 133169152, math.MaxInt64, math.MaxUint64}
	num := func() uint64 {
		if r.IntN(2) == 0 {
			return numbers[r.IntN(len(numbers))]
		}
		return r.Uint64N(1 << r.IntN(63))
	}
	var record func(depth int, path bool) Record
	record = func(depth int, path bool) Record {
		rec := Record{Multihash: mh(), Type: Type(r.IntN(4)), Location: store.Location{Multihash: mh()}}
		if path && r.IntN(4) == 0 {
			rec.Location = store.Location{Path: []string{"a/b.car", `q"uo\te`, "<&>", "é\n"}[r.IntN(4)]}
		}
		if r.IntN(2) == 0 {
			rec.HasRange, rec.Offset, rec.Length = true, num(), num()
		}
		rec.SubRecords = []Record{}
		if depth < 3 {
			for range r.IntN(4) {
				rec.SubRecords = append(rec.SubRecords, record(depth+1, path))
			}
		}
		return rec
	}
	for i := range 300 {
		rec := record(0, i%2 == 1)
		for _, typ := range []string{TypeContaining, TypeBlob, `we"ird`} {
			got, err := Encode(typ, rec)
			if err != nil {
				t.Fatal(err)
			}
			want, err := encodeIPLD(typ, rec)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("record %d, type %q:\n got %s\nwant %s", i, typ, got, want)
			}
		}
	}
	// The writers' records take the direct path.
	if rec := record(0, false); !plainString(TypeContaining) || !locatedByMultihash(&rec, 0) {
		t.Fatal("a writer's record does not take the direct path")
	}
}

// encodeContaining writes, sized exactly, what Encode writes for the
// CONTAINING record of blobs, their packs interleaved or not.
func TestEncodeContaining(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	mh := func() multihash.Multihash { return randomMultihash(t, r, 8) }
	for round := range 100 {
		var packs []multihash.Multihash
		for range 1 + r.IntN(5) {
			packs = append(packs, mh())
		}
		var blobs []PackedBlob
		for i := range r.IntN(60) {
			p := packs[min(i/8, len(packs)-1)] // in pack order
			if round%2 == 1 {
				p = packs[r.IntN(len(packs))] // interleaved
			}
			blobs = append(blobs, PackedBlob{Multihash: mh(), BlobLocation: store.BlobLocation{Pack: store.Location{Multihash: p}, Offset: r.Uint64N(1 << r.IntN(40)), Length: r.Uint64N(1 << r.IntN(23))}})
		}
		root := mh()
		got, first := encodeContaining(root, blobs)
		records := PackRecords(blobs)
		want, err := Encode(TypeContaining, NewContaining(root, records))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d:\n got %s\nwant %s", round, got, want)
		}
		if len(got) != cap(got) {
			t.Errorf("round %d: %d bytes in a buffer of %d", round, len(got), cap(got))
		}
		if len(records) > 0 && !bytes.Equal(first, records[0].Multihash) || len(records) == 0 && first != nil {
			t.Errorf("round %d: first sub-record %x", round, first)
		}
	}
}

// randomMultihash returns the sha2-256, sha2-512 or identity multihash
// (picked by r) of n bytes from r.
func randomMultihash(t *testing.T, r *rand.Rand, n int) multihash.Multihash {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	codes := []uint64{multihash.SHA2_256, multihash.SHA2_512, multihash.IDENTITY}
	m, err := multihash.Sum(b, codes[r.IntN(len(codes))], -1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
