package pack_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/multiformats/go-multihash"
)

// The 1.1 GB vector of ../shared/interop/large: a two-level tree of
// 1024-link nodes in 9 packs. Generated here, never stored: the packs go to
// a store that only hashes them.
func TestWriteFileLargeVector(t *testing.T) {
	if testing.Short() {
		t.Skip("1.1 GB vector skipped in -short mode")
	}
	large := filepath.Join(testutil.Shared(t), "interop", "large")
	var exp struct {
		Size          int64  `json:"size"`
		ContainingCID string `json:"containing_cid"`
		Blocks        int    `json:"blocks"`
		IndexFile     struct {
			Path string `json:"path"`
		} `json:"index_file"`
		Packs []struct {
			Multihash string `json:"multihash"`
			Size      int64  `json:"size"`
			Blobs     int    `json:"blobs"`
		} `json:"packs"`
	}
	readJSON(t, filepath.Join(large, "expected.json"), &exp)
	wantIndex, err := os.ReadFile(filepath.Join(large, "containing-index-file"))
	if err != nil {
		t.Fatal(err)
	}

	packs := &hashingPackStore{}
	ctx := context.Background()
	root, infos, err := pack.WriteFile(ctx, packs, testutil.HashStreamReader("hash-stream interop large ", exp.Size), pack.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if root.String() != exp.ContainingCID {
		t.Fatalf("root %s, want %s", root, exp.ContainingCID)
	}
	if len(infos) != len(exp.Packs) {
		t.Fatalf("%d packs, want %d", len(infos), len(exp.Packs))
	}
	var blobs []index.PackedBlob
	for i, p := range infos {
		w := exp.Packs[i]
		if store.Key(p.Multihash) != w.Multihash || p.Size != w.Size || len(p.Blobs) != w.Blobs {
			t.Errorf("pack %d: %s %d bytes %d blobs, want %s %d %d", i, store.Key(p.Multihash), p.Size, len(p.Blobs), w.Multihash, w.Size, w.Blobs)
		}
		blobs = append(blobs, p.Blobs...)
	}
	if len(blobs) != exp.Blocks {
		t.Errorf("%d blocks, want %d", len(blobs), exp.Blocks)
	}
	if err := packs.check(); err != nil {
		t.Fatal(err)
	}

	idx := memory.NewIndexStore()
	if err := index.NewMultipleLevelWriter(idx).Add(ctx, blobs, root.Hash()); err != nil {
		t.Fatal(err)
	}
	files, err := idx.Files(ctx, root.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || filepath.Join("index", store.Key(root.Hash()), filepath.Base(files[0].Name)) != exp.IndexFile.Path {
		t.Fatalf("%d index files, first %q, want %s", len(files), files[0].Name, exp.IndexFile.Path)
	}
	if !bytes.Equal(files[0].Data, wantIndex) {
		t.Errorf("containing index file differs from the JS one (%d vs %d bytes)", len(files[0].Data), len(wantIndex))
	}
}

// hashingPackStore keeps only the size and a check of each pack's hash.
type hashingPackStore struct {
	mu   sync.Mutex
	errs []error
}

func (s *hashingPackStore) Put(_ context.Context, mh multihash.Multihash, r io.Reader, size int64) error {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return err
	}
	got, _ := multihash.Encode(h.Sum(nil), multihash.SHA2_256)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n != size || !bytes.Equal(got, mh) {
		s.errs = append(s.errs, fmt.Errorf("pack %s: %d bytes hashing to %s, want %d", store.Key(mh), n, store.Key(got), size))
	}
	return nil
}

func (s *hashingPackStore) GetRange(context.Context, store.Location, int64, int64) (io.ReadCloser, error) {
	return nil, store.ErrNotFound
}

func (s *hashingPackStore) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		return s.errs[0]
	}
	return nil
}
