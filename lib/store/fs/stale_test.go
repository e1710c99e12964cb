package fs_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/storetest"
)

// The first write of a PackStore, Put or CreateSpool, removes the
// temporary files that killed writers left (unlocked), and leaves alone
// those of live writers in other PackStores (locked), which then finish.
// The kill -9 of a real writer process is in cmd/hash-stream.
func TestFirstWriteRemovesStaleTemp(t *testing.T) {
	for _, write := range []string{"put", "spool"} {
		t.Run(write, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			opts := []fs.Option{fs.WithPrefix("p/"), fs.WithSync(false)}
			mkfile := func(name string, n int) {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, make([]byte, n), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// Live writers, in another PackStore (its first write swept
			// the folder before the killed writers' files are made).
			liveStore := fs.NewPackStore(dir, opts...)
			spool, err := liveStore.CreateSpool()
			if err != nil {
				t.Fatal(err)
			}
			spoolData := []byte("a spooled pack")
			if _, err := spool.Write(spoolData); err != nil {
				t.Fatal(err)
			}
			// A live Put, blocked on its reader half-way.
			putData := storetest.RandomBytes(1000)
			pr, pw := io.Pipe()
			putDone := make(chan error, 1)
			go func() {
				putDone <- liveStore.Put(ctx, storetest.Sum(t, putData), pr, int64(len(putData)))
			}()
			if _, err := pw.Write(putData[:500]); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return len(putTemps(t, filepath.Join(dir, "p"))) == 1 })
			livePut := putTemps(t, filepath.Join(dir, "p"))[0]

			// Left by killed writers: a spool and Put's temporary files.
			mkfile(".tmp-spool-1234567", 1<<20)
			mkfile(".tmp-0123456789abcdef", 10)
			mkfile("p/.tmp-fedcba9876543210", 100)
			// Not ours: stays.
			mkfile(".tmp-other", 1)
			mkfile("p/bafkreinotapack.car", 1)

			s := fs.NewPackStore(dir, opts...)
			data := []byte("a new pack")
			mh := storetest.Sum(t, data)
			switch write {
			case "put":
				if err := s.Put(ctx, mh, bytes.NewReader(data), int64(len(data))); err != nil {
					t.Fatal(err)
				}
			case "spool":
				f, err := s.CreateSpool()
				if err != nil {
					t.Fatal(err)
				}
				f.Write(data)
				if err := s.Adopt(ctx, mh, f, int64(len(data))); err != nil {
					t.Fatal(err)
				}
				// Readable by all, as a pack from Put is.
				fi, err := os.Stat(filepath.Join(dir, "p", store.Key(mh)+".car"))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o644 {
					t.Errorf("spooled pack file mode %v, want 0644", fi.Mode().Perm())
				}
			}
			got := listFiles(t, dir)
			want := []string{".tmp-other", filepath.Base(spool.Name()), "p/" + livePut, "p/" + store.Key(mh) + ".car", "p/bafkreinotapack.car"}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("files after the first write:\n got %q\nwant %q", got, want)
			}

			// The live writers finish.
			pw.Write(putData[500:])
			pw.Close()
			if err := <-putDone; err != nil {
				t.Errorf("live Put: %v", err)
			}
			spoolMH := storetest.Sum(t, spoolData)
			if err := liveStore.Adopt(ctx, spoolMH, spool, int64(len(spoolData))); err != nil {
				t.Errorf("live spool: %v", err)
			}
			for _, m := range [][]byte{putData, spoolData} {
				rc, err := s.GetRange(ctx, store.Location{Multihash: storetest.Sum(t, m)}, 0, -1)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				if !bytes.Equal(b, m) {
					t.Errorf("pack of a live writer differs")
				}
			}
			for _, name := range listFiles(t, dir) {
				if strings.HasPrefix(filepath.Base(name), ".tmp-") && name != ".tmp-other" {
					t.Errorf("%s left at the end", name)
				}
			}
		})
	}
}

// RemoveStaleTemp says what it removed; on a store folder that does not
// exist yet it removes nothing.
func TestRemoveStaleTemp(t *testing.T) {
	dir := t.TempDir()
	if removed, size, err := fs.NewPackStore(filepath.Join(dir, "none")).RemoveStaleTemp(); err != nil || len(removed) > 0 || size != 0 {
		t.Errorf("missing folder: %v %d %v", removed, size, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp-spool-42"), make([]byte, 42), 0o600); err != nil {
		t.Fatal(err)
	}
	removed, size, err := fs.NewPackStore(dir).RemoveStaleTemp()
	if err != nil || !slices.Equal(removed, []string{".tmp-spool-42"}) || size != 42 {
		t.Errorf("removed %v (%d bytes), %v; want .tmp-spool-42 (42 bytes)", removed, size, err)
	}
}

// putTemps lists the temporary files in dir.
func putTemps(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			names = append(names, e.Name())
		}
	}
	return names
}

// waitFor waits for cond (at most testutil.WaitTimeout).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	if !testutil.Eventually(cond) {
		t.Fatal("timed out")
	}
}
