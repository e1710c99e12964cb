package fs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/storetest"
	"github.com/multiformats/go-multihash"
)

func TestIndexStore(t *testing.T) {
	storetest.RunIndexStore(t, func(t *testing.T, maxFile int64) store.IndexStore {
		return fs.NewIndexStore(filepath.Join(t.TempDir(), "index"), fs.WithMaxIndexFileBytes(maxFile))
	})
}

func TestPackStore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix string
		ext    string
		opts   []fs.Option
	}{
		{name: "default", ext: ".car"},
		{name: "prefix", prefix: "pre-", ext: ".car", opts: []fs.Option{fs.WithPrefix("pre-")}},
		{name: "subfolder no ext", prefix: "packs/x/", ext: "", opts: []fs.Option{fs.WithPrefix("packs/x/"), fs.WithExtension("")}},
		{name: "ext", ext: ".bin", opts: []fs.Option{fs.WithExtension(".bin")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.RunPackStore(t, func(t *testing.T) (store.PackStore, storetest.WritePath) {
				dir := filepath.Join(t.TempDir(), "pack")
				return fs.NewPackStore(dir, tc.opts...), func(t *testing.T, p string, data []byte) {
					writeFile(t, filepath.Join(dir, filepath.FromSlash(tc.prefix+p+tc.ext)), data)
				}
			})
		})
	}
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// listFiles returns the slash-separated names of all files under dir.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return names
}

func TestIndexLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := fs.NewIndexStore(dir)
	mh, sub := storetest.RandomMultihash(t), storetest.RandomMultihash(t)
	if err := s.Put(ctx, mh, sub, []byte("sub")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, mh, nil, []byte("ts")); err != nil {
		t.Fatal(err)
	}
	got := listFiles(t, dir)
	key := store.Key(mh)
	if len(got) != 2 || got[1] != key+"/"+store.Key(sub) || !regexp.MustCompile(`^`+key+`/\d{13}$`).MatchString(got[0]) {
		t.Fatalf("files %q, want %s/<13 digits> and %s/%s", got, key, key, store.Key(sub))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, key, store.Key(sub))); string(b) != "sub" {
		t.Errorf("sub file holds %q", b)
	}
}

func TestIndexSkipsTempFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := fs.NewIndexStore(dir)
	mh := storetest.RandomMultihash(t)
	key := store.Key(mh)
	writeFile(t, filepath.Join(dir, key, ".tmp-0123456789abcdef"), []byte("half a fi"))
	if err := os.Mkdir(filepath.Join(dir, key, "subfolder"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Files(ctx, mh); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("folder with only a temp file: got %v, want ErrNotFound", err)
	}
	if err := s.Put(ctx, mh, nil, []byte("whole")); err != nil {
		t.Fatal(err)
	}
	files, err := s.Files(ctx, mh)
	if err != nil || len(files) != 1 || string(files[0].Data) != "whole" {
		t.Fatalf("got %v, %v; want the one whole file", files, err)
	}
}

func TestMissingFolder(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nothing here")
	if _, err := fs.NewIndexStore(dir).Files(ctx, storetest.RandomMultihash(t)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("index: got %v, want ErrNotFound", err)
	}
	if _, err := fs.NewPackStore(dir).GetRange(ctx, store.Location{Multihash: storetest.RandomMultihash(t)}, 0, -1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pack: got %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reading made the folder: %v", err)
	}
}

func TestPackLayout(t *testing.T) {
	ctx := context.Background()
	data := []byte("a pack")
	mh := storetest.Sum(t, data)
	for _, tc := range []struct {
		opts []fs.Option
		want string
	}{
		{nil, store.Key(mh) + ".car"},
		{[]fs.Option{fs.WithPrefix("p/"), fs.WithExtension("")}, "p/" + store.Key(mh)},
		{[]fs.Option{fs.WithPrefix("x-"), fs.WithExtension(".pack")}, "x-" + store.Key(mh) + ".pack"},
	} {
		dir := t.TempDir()
		if err := fs.NewPackStore(dir, tc.opts...).Put(ctx, mh, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if got := listFiles(t, dir); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("files %q, want %q", got, tc.want)
		}
	}
}

func TestFailedPutLeavesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := fs.NewPackStore(dir)
	data := storetest.RandomBytes(100)
	for _, size := range []int64{99, 101} {
		if err := s.Put(ctx, storetest.Sum(t, data), bytes.NewReader(data), size); !errors.Is(err, store.ErrSizeMismatch) {
			t.Errorf("size %d: got %v, want ErrSizeMismatch", size, err)
		}
	}
	if got := listFiles(t, dir); len(got) != 0 {
		t.Fatalf("left behind: %q", got)
	}
}

func TestNoEscape(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	secret := filepath.Join(base, "secret")
	writeFile(t, secret, []byte("secret"))
	dir := filepath.Join(base, "store")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(base, filepath.Join(dir, "up")); err != nil {
		t.Fatal(err)
	}
	s := fs.NewPackStore(dir, fs.WithExtension(""))
	for _, p := range []string{"link", "up/secret", "../secret"} {
		rc, err := s.GetRange(ctx, store.Location{Path: p}, 0, -1)
		if err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			t.Errorf("path %q read %q from outside the store", p, b)
		} else if errors.Is(err, store.ErrNotFound) {
			t.Errorf("path %q: got %v, want an error other than ErrNotFound", p, err)
		}
	}
	// A prefix may not lead out either.
	bad := fs.NewPackStore(dir, fs.WithPrefix("../"), fs.WithExtension(""))
	if _, err := bad.GetRange(ctx, store.Location{Path: "secret"}, 0, -1); !errors.Is(err, store.ErrInvalidPath) {
		t.Errorf("prefix ../: got %v, want ErrInvalidPath", err)
	}
	data := []byte("x")
	if err := bad.Put(ctx, storetest.Sum(t, data), bytes.NewReader(data), 1); !errors.Is(err, store.ErrInvalidPath) {
		t.Errorf("put with prefix ../: got %v, want ErrInvalidPath", err)
	}
}

// interopDir is where the stores written by the JavaScript CLI live: next to
// the repository, in shared/interop.
const interopDir = "../../../../shared/interop"

// TestInteropStore reads the FS stores written by the JavaScript CLI.
func TestInteropStore(t *testing.T) {
	var expected struct {
		Files map[string]json.RawMessage `json:"files"`
	}
	raw, err := os.ReadFile(filepath.Join(interopDir, "expected.json"))
	if err != nil {
		t.Skipf("no interop fixtures: %v", err)
	}
	_ = json.Unmarshal(raw, &expected)
	ctx := context.Background()

	// Every index folder holds at least one file, named as the layout says.
	idx := fs.NewIndexStore(filepath.Join(interopDir, "js-fs-store", "index"))
	entries, err := os.ReadDir(filepath.Join(interopDir, "js-fs-store", "index"))
	if err != nil || len(entries) == 0 {
		t.Fatalf("index folder: %v", err)
	}
	name := regexp.MustCompile(`^(\d{13}|bafkrei[a-z2-7]{52})$`)
	for _, e := range entries {
		mh, err := store.ParseKey(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		files, err := idx.Files(ctx, mh)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		for _, f := range files {
			dir, base, _ := strings.Cut(f.Name, "/")
			if dir != e.Name() || !name.MatchString(base) {
				t.Errorf("file %q", f.Name)
			}
			if !bytes.HasPrefix(f.Data, []byte(`{"data":{`)) {
				t.Errorf("file %q: %.40q", f.Name, f.Data)
			}
		}
	}

	// Every pack hashes to its name, read whole and in ranges.
	packs := fs.NewPackStore(filepath.Join(interopDir, "js-fs-store", "pack"))
	entries, err = os.ReadDir(filepath.Join(interopDir, "js-fs-store", "pack"))
	if err != nil || len(entries) == 0 {
		t.Fatalf("pack folder: %v", err)
	}
	for _, e := range entries {
		mh, err := store.ParseKey(strings.TrimSuffix(e.Name(), ".car"))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		for off := int64(0); ; off += 1 << 20 {
			rc, err := packs.GetRange(ctx, store.Location{Multihash: mh}, off, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(h, rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if n < 1<<20 {
				break
			}
		}
		if !bytes.Equal(h.Sum(nil), mh[len(mh)-32:]) {
			t.Errorf("pack %s does not hash to its name", e.Name())
		}
	}
}

// An index file over the size cap is refused from its size, before it is
// read: a sparse file of 1 TiB answers at once.
func TestIndexFileOverCapNotRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := fs.NewIndexStore(dir)
	mh := storetest.RandomMultihash(t)
	if err := s.Put(ctx, mh, storetest.RandomMultihash(t), []byte("good")); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, store.Key(mh), "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 40); err != nil {
		t.Skipf("no sparse files here: %v", err)
	}
	f.Close()
	files, err := s.Files(ctx, mh)
	if err != nil {
		t.Fatal(err)
	}
	var good, big int
	for _, f := range files {
		switch {
		case f.Err == nil && string(f.Data) == "good":
			good++
		case errors.Is(f.Err, store.ErrTooLarge) && strings.Contains(f.Err.Error(), store.Key(mh)+"/huge") && strings.Contains(f.Err.Error(), "1099511627776 bytes"):
			big++
		default:
			t.Errorf("file %s: %d bytes, err %v", f.Name, len(f.Data), f.Err)
		}
	}
	if good != 1 || big != 1 {
		t.Errorf("got %d good and %d refused files, want 1 and 1", good, big)
	}
}

// A key too long to be a file name (a client's CID with a long digest) is
// not stored: not found, not a storage error.
func TestIndexKeyTooLong(t *testing.T) {
	mh, err := multihash.Encode(make([]byte, 400), multihash.SHA2_256)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.NewIndexStore(dir).Files(context.Background(), mh); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}

// One list of options configures both stores, each taking its own: the
// prefix and extension go to the pack store, the index file cap to the
// index store.
func TestSharedOptions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := []fs.Option{fs.WithPrefix("p/"), fs.WithExtension(".pack"), fs.WithSync(false), fs.WithMaxIndexFileBytes(10)}
	packs := fs.NewPackStore(filepath.Join(dir, "pack"), opts...)
	idx := fs.NewIndexStore(filepath.Join(dir, "index"), opts...)
	data := []byte("some pack bytes")
	mh := storetest.Sum(t, data)
	if err := packs.Put(ctx, mh, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pack", "p", store.Key(mh)+".pack")); err != nil {
		t.Errorf("pack not under the prefix with the extension: %v", err)
	}
	if err := idx.Put(ctx, mh, nil, data); err != nil {
		t.Fatal(err)
	}
	files, err := idx.Files(ctx, mh)
	if err != nil || len(files) != 1 || !errors.Is(files[0].Err, store.ErrTooLarge) {
		t.Errorf("index file over the 10-byte cap: %+v %v", files, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index", store.Key(mh))); err != nil {
		t.Errorf("index folder took the pack prefix: %v", err)
	}
}
