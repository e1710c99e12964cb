package fs_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/storetest"
)

func TestIndexLister(t *testing.T) {
	storetest.RunIndexLister(t, func(t *testing.T) store.IndexLister {
		return fs.NewIndexStore(filepath.Join(t.TempDir(), "index"), fs.WithSync(false))
	})
}

func TestPackLister(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, ext string
		opts              []fs.Option
	}{
		{name: "default", ext: ".car"},
		{name: "prefix", prefix: "pre-", ext: ".car", opts: []fs.Option{fs.WithPrefix("pre-")}},
		{name: "subfolder no ext", prefix: "packs/x/", opts: []fs.Option{fs.WithPrefix("packs/x/"), fs.WithExtension("")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.RunPackLister(t, func(t *testing.T) (store.PackLister, storetest.WritePath) {
				dir := filepath.Join(t.TempDir(), "pack")
				return fs.NewPackStore(dir, append(tc.opts, fs.WithSync(false))...), func(t *testing.T, p string, data []byte) {
					writeFile(t, filepath.Join(dir, filepath.FromSlash(tc.prefix+p+tc.ext)), data)
				}
			})
		})
	}
}

// Files and folders that are not of the layout are listed as unexpected
// keys, never as entries; temporary files of writes in progress are left
// out; a store folder that does not exist lists nothing.
func TestListUnexpected(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	idx := fs.NewIndexStore(filepath.Join(dir, "index"))
	packs := fs.NewPackStore(filepath.Join(dir, "pack"))
	if got, bad := storetest.ListIndex(t, idx); len(got)+len(bad) != 0 {
		t.Fatalf("missing folder: %v %v", got, bad)
	}
	if got, bad := storetest.ListPacks(t, packs); len(got)+len(bad) != 0 {
		t.Fatalf("missing folder: %v %v", got, bad)
	}
	mh, sub := storetest.RandomMultihash(t), storetest.RandomMultihash(t)
	if err := idx.Put(ctx, mh, sub, []byte("good")); err != nil {
		t.Fatal(err)
	}
	k := store.Key(mh)
	for _, name := range []string{
		"stray.txt",   // a file at the top
		"notakey/123", // a folder that is not k(mh)
		"bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/1", // a CID, but not k(mh) as written
		k + "/name.json",             // neither k(sub) nor a timestamp
		k + "/nested/123",            // a folder inside a key
		k + "/.tmp-0123456789abcdef", // a write in progress: left out
		".tmp-0123456789abcdef",      // idem
	} {
		writeFile(t, filepath.Join(dir, "index", filepath.FromSlash(name)), []byte("x"))
	}
	got, bad := storetest.ListIndex(t, idx)
	if len(got) != 1 || got[k+"/"+store.Key(sub)].Size != 4 {
		t.Errorf("listed %v, want the one file", got)
	}
	var keys []string
	for _, e := range bad {
		keys = append(keys, e.Key)
	}
	slices.Sort(keys)
	want := []string{k + "/name.json", k + "/nested", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "notakey", "stray.txt"}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("unexpected keys\n got %q\nwant %q", keys, want)
	}
}
