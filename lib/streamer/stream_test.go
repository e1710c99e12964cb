package streamer_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
)

// loadRandom3m writes random-3m.bin (two packs) into a fresh fs store with
// the multiple-level writer only and returns the store folder and root.
func loadRandom3m(t *testing.T) (string, cid.Cid) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(filepath.Join(testutil.Shared(t), "interop", "originals", "random-3m.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	root, infos, err := pack.WriteFile(ctx, fs.NewPackStore(filepath.Join(dir, "pack")), f, pack.WithMaxSize(2200000), pack.WithTempDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := pack.AddToIndex(ctx, []index.Writer{index.NewMultipleLevelWriter(fs.NewIndexStore(filepath.Join(dir, "index")))}, infos, root.Hash()); err != nil {
		t.Fatal(err)
	}
	return dir, root
}

// random3mLeaves loads random-3m.bin (loadRandom3m) and returns a streamer
// over it, its root and the root's four leaves.
func random3mLeaves(t *testing.T) (*streamer.Streamer, cid.Cid, []cid.Cid) {
	t.Helper()
	dir, root := loadRandom3m(t)
	s := newStreamer(dir)
	rootData, err := s.Block(context.Background(), root.Hash(), root.Hash(), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := dag.Links(root, rootData)
	if err != nil || len(leaves) != 4 {
		t.Fatalf("links %v %v", leaves, err)
	}
	return s, root, leaves
}

func newStreamer(dir string) *streamer.Streamer {
	return streamer.New(index.NewReader(fs.NewIndexStore(filepath.Join(dir, "index"))), fs.NewPackStore(filepath.Join(dir, "pack")))
}

func TestStreamMergesReads(t *testing.T) {
	dir, root := loadRandom3m(t)
	s := newStreamer(dir)
	ctx := context.Background()
	rootData, err := s.Block(ctx, root.Hash(), root.Hash(), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := dag.Links(root, rootData)
	if err != nil || len(leaves) != 4 {
		t.Fatalf("links %v %v", leaves, err)
	}
	var stats dag.Stats
	st := s.Stream(ctx, append([]cid.Cid{root}, leaves...), root.Hash(), &stats)
	defer st.Close()
	var got []cid.Cid
	for {
		b, err := st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b.CID)
	}
	if len(got) != 5 || !got[0].Equals(root) || !got[4].Equals(leaves[3]) {
		t.Fatalf("blocks %v", got)
	}
	// root (pack 2), leaves 0-1 (pack 1), leaves 2-3 (pack 2): three reads.
	if n := stats.Reads.Load(); n != 3 {
		t.Errorf("%d ranged reads, want 3", n)
	}
}

func TestStreamCorruptBlock(t *testing.T) {
	dir, root := loadRandom3m(t)
	// Flip a byte inside leaf 2 (pack 2, data starts at byte 98).
	p := filepath.Join(dir, "pack", "bafkreicbhvdete76okplz43cah3zflzl7g3ngc2jhtbwtm7ly5twbtc2hi.car")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[5000] ^= 1
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := newStreamer(dir)
	ctx := context.Background()
	rootData, err := s.Block(ctx, root.Hash(), root.Hash(), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaves, _ := dag.Links(root, rootData)
	st := s.Stream(ctx, leaves, root.Hash(), nil)
	defer st.Close()
	n := 0
	for {
		_, err := st.Next()
		if errors.Is(err, dag.ErrCorrupt) {
			break
		}
		if err != nil {
			t.Fatalf("after %d blocks: %v, want ErrCorrupt", n, err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d good blocks before the corrupt one, want 2", n)
	}
}

// Closing a stream before reading it stops every read: no goroutine stays.
func TestStreamCloseEarly(t *testing.T) {
	dir, root := loadRandom3m(t)
	s := newStreamer(dir)
	ctx := context.Background()
	rootData, _ := s.Block(ctx, root.Hash(), root.Hash(), nil)
	leaves, _ := dag.Links(root, rootData)
	before := runtime.NumGoroutine()
	for range 20 {
		st := s.Stream(ctx, append(leaves, leaves...), root.Hash(), nil)
		if _, err := st.Next(); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	if !testutil.Eventually(func() bool { return runtime.NumGoroutine() <= before+1 }) {
		t.Errorf("%d goroutines left, had %d", runtime.NumGoroutine(), before)
	}
}
