package streamer_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/multiformats/go-multihash"
)

func testMH(i int) multihash.Multihash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(b[:])
	mh, _ := multihash.Encode(sum[:], multihash.SHA2_256)
	return mh
}

// lookups counts index lookups.
type lookups struct {
	store.IndexStore
	n atomic.Int64
}

func (l *lookups) Files(ctx context.Context, mh multihash.Multihash) ([]store.IndexFile, error) {
	l.n.Add(1)
	return l.IndexStore.Files(ctx, mh)
}

// writeDAG writes a CONTAINING record of root over blobs children, in pack p,
// and returns the children.
func writeDAG(t *testing.T, s store.IndexStore, root multihash.Multihash, first, n int) []multihash.Multihash {
	t.Helper()
	var blobs []index.PackedBlob
	var children []multihash.Multihash
	pack := testMH(-1)
	blobs = append(blobs, index.PackedBlob{Multihash: root, BlobLocation: store.BlobLocation{Pack: store.Location{Multihash: pack}, Offset: 0, Length: 10}})
	for i := range n {
		mh := testMH(first + i)
		children = append(children, mh)
		blobs = append(blobs, index.PackedBlob{Multihash: mh, BlobLocation: store.BlobLocation{Pack: store.Location{Multihash: pack}, Offset: uint64(10 + i*10), Length: 10}})
	}
	if err := index.NewMultipleLevelWriter(s).Add(context.Background(), blobs, root); err != nil {
		t.Fatal(err)
	}
	return children
}

// A block asked for alone after its DAG's root is found in the root's
// cached Set, without a lookup; at most WithLearnedRoots roots are
// remembered, and a root whose Set left the index cache is forgotten
// (reading it again for any unknown block would let a client make the
// server read).
func TestLearnedRoots(t *testing.T) {
	ctx := context.Background()
	idx := &lookups{IndexStore: memory.NewIndexStore()}
	roots := []multihash.Multihash{testMH(-100), testMH(-200), testMH(-300)}
	var children [][]multihash.Multihash
	for i, r := range roots {
		children = append(children, writeDAG(t, idx.IndexStore, r, 1000*i, 5))
	}
	s := streamer.New(index.NewReader(idx), memory.NewPackStore(), streamer.WithLearnedRoots(2))
	for _, r := range roots {
		if _, err := s.Locate(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	before := idx.n.Load()
	for i := 1; i < 3; i++ {
		loc, err := s.Locate(ctx, children[i][4], nil)
		if err != nil || loc.Offset != 50 {
			t.Errorf("child of root %d: %+v %v", i, loc, err)
		}
	}
	if got := idx.n.Load() - before; got != 0 {
		t.Errorf("%d lookups for children of learned roots, want 0", got)
	}
	// The first root was pushed out by the two after it: its child is
	// looked up on its own, and has no record of its own.
	if _, err := s.Locate(ctx, children[0][0], nil); !errors.Is(err, dag.ErrNotFound) {
		t.Errorf("child of a forgotten root: %v, want ErrNotFound", err)
	}
	// With its root as the containing CID, it is found.
	if loc, err := s.Locate(ctx, children[0][0], roots[0]); err != nil || loc.Offset != 10 {
		t.Errorf("child with its containing CID: %+v %v", loc, err)
	}

	// A tiny index cache: the root's Set is not kept, so it is not learned
	// from either.
	small := streamer.New(index.NewReader(idx, index.WithCache(index.NewCache(100))), memory.NewPackStore())
	if _, err := small.Locate(ctx, roots[1], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := small.Locate(ctx, children[1][0], nil); !errors.Is(err, dag.ErrNotFound) {
		t.Errorf("child of a root not in the cache: %v, want ErrNotFound", err)
	}
}

// When the containing CID's index cannot be read, a block with a record
// of its own is still found; one without is the containing CID's error,
// not a not-found.
func TestLocateContainingUnreadable(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewIndexStore()
	root, own, other := testMH(-100), testMH(1), testMH(2)
	if err := mem.Put(ctx, root, testMH(-1), []byte("{garbage")); err != nil {
		t.Fatal(err)
	}
	if err := index.NewSingleLevelWriter(mem).Add(ctx, []index.PackedBlob{{Multihash: own, BlobLocation: store.BlobLocation{Pack: store.Location{Multihash: testMH(-1)}, Offset: 7, Length: 3}}}, nil); err != nil {
		t.Fatal(err)
	}
	s := streamer.New(index.NewReader(mem), memory.NewPackStore())
	if loc, err := s.Locate(ctx, own, root); err != nil || loc.Offset != 7 {
		t.Errorf("block with its own record: %+v %v", loc, err)
	}
	_, err := s.Locate(ctx, other, root)
	if err == nil || errors.Is(err, dag.ErrNotFound) || errors.Is(err, index.ErrNotFound) {
		t.Errorf("block found nowhere: %v, want the containing CID's error", err)
	}
	if _, err := s.Locate(ctx, other, nil); !errors.Is(err, dag.ErrNotFound) {
		t.Errorf("block found nowhere, no containing CID: %v, want ErrNotFound", err)
	}
}

// A block the index does not know is both dag.ErrNotFound and
// store.ErrNotFound (so the gateway maps it to 404 either way); a pack the
// store does not hold is store.ErrNotFound only.
func TestNotFoundWrapsStore(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewIndexStore()
	s := streamer.New(index.NewReader(mem), memory.NewPackStore())
	if _, err := s.Locate(ctx, testMH(50), nil); !errors.Is(err, dag.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Locate of an unknown block: %v", err)
	}
	if _, err := s.Block(ctx, testMH(50), nil, nil); !errors.Is(err, dag.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Block of an unknown block: %v", err)
	}
	known := testMH(51)
	if err := index.NewSingleLevelWriter(mem).Add(ctx, []index.PackedBlob{{Multihash: known, BlobLocation: store.BlobLocation{Pack: store.Location{Multihash: testMH(-1)}, Offset: 0, Length: 3}}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Block(ctx, known, nil, nil); !errors.Is(err, store.ErrNotFound) || errors.Is(err, dag.ErrNotFound) {
		t.Errorf("Block whose pack is missing: %v, want store.ErrNotFound only", err)
	}
}
