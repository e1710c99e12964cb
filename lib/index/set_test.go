package index_test

import (
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/multiformats/go-multihash"
)

// testMH returns a distinct sha2-256 multihash for i.
func testMH(i int) multihash.Multihash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(b[:])
	mh, err := multihash.Encode(sum[:], multihash.SHA2_256)
	if err != nil {
		panic(err)
	}
	return mh
}

// containingRecord returns a CONTAINING record of root over n blobs of
// 1000 bytes, in packs of perPack blobs.
func containingRecord(root multihash.Multihash, n, perPack int) index.Record {
	var packs []index.Record
	for p := 0; p*perPack < n; p++ {
		pack := testMH(-1 - p)
		var blobs []index.Record
		for i := p * perPack; i < min(n, (p+1)*perPack); i++ {
			blobs = append(blobs, index.NewBlob(testMH(i), pack, uint64(i-p*perPack)*1000, 1000))
		}
		packs = append(packs, index.NewPack(pack, blobs))
	}
	return index.NewContaining(root, packs)
}

func TestSetLookups(t *testing.T) {
	root := testMH(-1000)
	rec := containingRecord(root, 1000, 300)
	// A second record of blob 5 in another pack, later in stored order:
	// the first one wins.
	other := testMH(-2000)
	rec.SubRecords = append(rec.SubRecords, index.NewPack(other, []index.Record{index.NewBlob(testMH(5), other, 7, 1000)}))
	s := index.NewSet([]index.Record{rec})
	if !s.Containing() || s.Len() != 1000 {
		t.Fatalf("containing %v, len %d", s.Containing(), s.Len())
	}
	for i := range 1000 {
		r, ok := s.Blob(testMH(i))
		pack := testMH(-1 - i/300)
		if !ok || r.Type != index.Blob || !r.HasRange || r.Length != 1000 || r.Offset != uint64(i%300)*1000 || string(r.Location.Multihash) != string(pack) {
			t.Fatalf("blob %d: %+v %v", i, r, ok)
		}
	}
	for _, mh := range []multihash.Multihash{root, testMH(-1), testMH(1000)} {
		if _, ok := s.Blob(mh); ok {
			t.Errorf("%x: found, but no BLOB record has it", mh)
		}
	}
	// A single-level BLOB record: not a DAG's set.
	own := index.NewSet([]index.Record{index.NewBlob(testMH(1), testMH(-1), 3, 4)})
	if r, ok := own.Blob(testMH(1)); own.Containing() || !ok || r.Offset != 3 || r.Length != 4 {
		t.Errorf("own set: %+v %v, containing %v", r, ok, own.Containing())
	}
	if empty := index.NewSet([]index.Record{index.NewPack(testMH(-1), nil)}); empty.Len() != 0 {
		t.Errorf("a PACK record alone has %d blobs", empty.Len())
	}
}

// Set.Size, which the index cache counts, is within 25% of the heap a Set
// holds, for a large DAG's set and for many one-blob sets.
func TestSetSize(t *testing.T) {
	measure := func(build func() []*index.Set) (heap, counted int64) {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sets := build()
		runtime.GC()
		runtime.ReadMemStats(&after)
		for _, s := range sets {
			counted += s.Size()
		}
		runtime.KeepAlive(sets)
		return int64(after.HeapAlloc) - int64(before.HeapAlloc), counted
	}
	// Enough copies of each set to stand well above the noise of the heap.
	for _, n := range []int{9, 100, 2000, 5000, 30_000, 100_000, 300_000} {
		recs := []index.Record{containingRecord(testMH(-1000), n, 10_000)}
		copies := max(1, 100_000/n)
		heap, counted := measure(func() []*index.Set {
			sets := make([]*index.Set, copies)
			for i := range sets {
				sets[i] = index.NewSet(recs)
			}
			return sets
		})
		heap -= int64(copies) * 8 // the slice of pointers
		t.Logf("a set of %d blobs: heap %d bytes (%.0f a blob), counted %d", n, heap/int64(copies), float64(heap)/float64(n*copies), counted/int64(copies))
		if counted < heap*3/4 || counted > heap*5/4 {
			t.Errorf("a set of %d blobs: counted %d bytes, heap %d", n, counted/int64(copies), heap/int64(copies))
		}
		runtime.KeepAlive(recs)
	}
	const m = 10_000
	small := make([][]index.Record, m)
	for i := range small {
		small[i] = []index.Record{index.NewBlob(testMH(i), testMH(-1-i), 0, 1000)}
	}
	heap, counted := measure(func() []*index.Set {
		sets := make([]*index.Set, m)
		for i := range sets {
			sets[i] = index.NewSet(small[i])
		}
		return sets
	})
	heap -= m * 8 // the slice of pointers
	t.Logf("%d one-blob sets: heap %d bytes (%.0f a set), counted %d", m, heap, float64(heap)/m, counted)
	if counted < heap*3/4 || counted > heap*5/4 {
		t.Errorf("%d one-blob sets: counted %d bytes, heap %d", m, counted, heap)
	}
	runtime.KeepAlive(small)
}
