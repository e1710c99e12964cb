package index_test

import (
	"context"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/multiformats/go-multihash"
)

// fileCount returns how many index files are stored under each of mhs.
func fileCount(t *testing.T, s store.IndexStore, mhs ...multihash.Multihash) int {
	t.Helper()
	n := 0
	for _, mh := range mhs {
		files, err := s.Files(context.Background(), mh)
		if err == nil {
			n += len(files)
		}
	}
	return n
}

func sum(t *testing.T, s string) multihash.Multihash {
	t.Helper()
	mh, err := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return mh
}

// With SkipStored a repeated Add writes nothing, a partial earlier write is
// completed, and a blob at another place is still written; without it a
// repeated Add writes every record again (what SkipStored is for).
func TestSkipStored(t *testing.T) {
	ctx := context.Background()
	packMh := sum(t, "pack")
	var blobs []index.PackedBlob
	var mhs []multihash.Multihash
	for i, s := range []string{"a", "b", "c"} {
		mh := sum(t, s)
		mhs = append(mhs, mh)
		blobs = append(blobs, index.PackedBlob{Multihash: mh, BlobLocation: store.BlobLocation{Pack: store.Location{Multihash: packMh}, Offset: uint64(100 * i), Length: 10}})
	}
	all := append([]multihash.Multihash{packMh}, mhs...)

	t.Run("without", func(t *testing.T) {
		s := memory.NewIndexStore()
		w := index.NewSingleLevelWriter(s)
		for range 2 {
			if err := w.Add(ctx, blobs, nil); err != nil {
				t.Fatal(err)
			}
		}
		if n := fileCount(t, s, all...); n != 8 {
			t.Fatalf("%d files, want 8 (4 records twice)", n)
		}
	})
	t.Run("repeated", func(t *testing.T) {
		s := memory.NewIndexStore()
		w := index.NewSingleLevelWriter(s, index.SkipStored())
		for range 2 {
			if err := w.Add(ctx, blobs, nil); err != nil {
				t.Fatal(err)
			}
		}
		if n := fileCount(t, s, all...); n != 4 {
			t.Fatalf("%d files, want 4", n)
		}
	})
	t.Run("partial", func(t *testing.T) {
		s := memory.NewIndexStore()
		// An earlier write stored the first blob's record only.
		if err := index.NewSingleLevelWriter(s).Add(ctx, blobs[:1], nil); err != nil {
			t.Fatal(err)
		}
		if err := index.NewSingleLevelWriter(s, index.SkipStored()).Add(ctx, blobs, nil); err != nil {
			t.Fatal(err)
		}
		// a, b and c once each, and the pack record the earlier write wrote.
		if n := fileCount(t, s, mhs...); n != 3 {
			t.Fatalf("%d blob files, want 3", n)
		}
		if n := fileCount(t, s, packMh); n != 1 {
			t.Fatalf("%d pack files, want 1", n)
		}
	})
	t.Run("elsewhere", func(t *testing.T) {
		s := memory.NewIndexStore()
		w := index.NewSingleLevelWriter(s, index.SkipStored())
		if err := w.Add(ctx, blobs, nil); err != nil {
			t.Fatal(err)
		}
		moved := blobs[0]
		moved.Offset = 999
		if err := w.Add(ctx, []index.PackedBlob{moved}, nil); err != nil {
			t.Fatal(err)
		}
		if n := fileCount(t, s, mhs[0]); n != 2 {
			t.Fatalf("%d files for a blob stored at two places, want 2", n)
		}
		// A CONTAINING record under a blob's multihash is not its BLOB record.
		s2 := memory.NewIndexStore()
		if err := index.NewMultipleLevelWriter(s2).Add(ctx, blobs, mhs[0]); err != nil {
			t.Fatal(err)
		}
		if err := index.NewSingleLevelWriter(s2, index.SkipStored()).Add(ctx, blobs, nil); err != nil {
			t.Fatal(err)
		}
		if n := fileCount(t, s2, mhs[0]); n != 2 {
			t.Fatalf("%d files under the root, want 2 (CONTAINING and BLOB)", n)
		}
	})
}
