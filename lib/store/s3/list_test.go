package s3_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/store/storetest"
)

func TestIndexLister(t *testing.T) {
	for _, prefix := range []string{"", "idx/"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			storetest.RunIndexLister(t, func(t *testing.T) store.IndexLister {
				return s3.NewIndexStore(server.Client(), server.NewBucket(t), s3.WithPrefix(prefix))
			})
		})
	}
	// Without conditional writes a taken timestamp name is found by a
	// HeadObject first.
	t.Run("unconditional", func(t *testing.T) {
		storetest.RunIndexLister(t, func(t *testing.T) store.IndexLister {
			return s3.NewIndexStore(server.Client(), server.NewBucket(t), s3.WithConditionalWrites(false))
		})
	})
}

func TestPackLister(t *testing.T) {
	for _, tc := range []struct{ prefix, ext string }{{"", ".car"}, {"packs/", ""}} {
		t.Run(fmt.Sprintf("prefix=%s,ext=%s", tc.prefix, tc.ext), func(t *testing.T) {
			storetest.RunPackLister(t, func(t *testing.T) (store.PackLister, storetest.WritePath) {
				client, bucket := server.Client(), server.NewBucket(t)
				return s3.NewPackStore(client, bucket, s3.WithPrefix(tc.prefix), s3.WithExtension(tc.ext)), func(t *testing.T, path string, data []byte) {
					putObject(t, client, bucket, tc.prefix+path+tc.ext, data)
				}
			})
		})
	}
}

// Keys that are not of the layout are listed as unexpected keys, never as
// entries; keys outside the prefix are not listed; folder markers are left
// out; PutNamed writes the doubled layout.
func TestListUnexpected(t *testing.T) {
	ctx := context.Background()
	client, bucket := server.Client(), server.NewBucket(t)
	idx := s3.NewIndexStore(client, bucket, s3.WithPrefix("idx/"))
	packs := s3.NewPackStore(client, bucket, s3.WithPrefix("packs/"))
	mh, sub := storetest.RandomMultihash(t), storetest.RandomMultihash(t)
	k, ks := store.Key(mh), store.Key(sub)
	if err := idx.PutNamed(ctx, mh, ks, []byte("sub")); err != nil {
		t.Fatal(err)
	}
	if err := idx.PutNamed(ctx, mh, "1700000000000", []byte("ts")); err != nil {
		t.Fatal(err)
	}
	pack := []byte("pack")
	pmh := storetest.Sum(t, pack)
	if err := packs.Put(ctx, pmh, strings.NewReader(string(pack)), int64(len(pack))); err != nil {
		t.Fatal(err)
	}
	pk := store.Key(pmh)
	// Each stray under keys of its own: versitygw keeps objects as files,
	// and a key cannot be both an object and a folder of others.
	key := func() string { return store.Key(storetest.RandomMultihash(t)) }
	k2, k3, k4 := key(), key(), key()
	strayIndex := []string{
		"idx/stray.txt",
		"idx/" + k + "/123",                      // not doubled
		"idx/" + k + "/" + ks + "/123",           // halves differ
		"idx/" + k2 + "/" + k2 + "/" + ks,        // a sub name not doubled
		"idx/" + k3 + "/" + k3 + "/" + ks + "/1", // halves differ
		"idx/" + k + "/" + k + "/name.json",
		"idx/" + k + "/" + k + "/1/2/3",
		"idx/" + k4 + "/" + k4 + "/" + ks + "/" + ks + "/" + ks, // too deep
	}
	strayPacks := []string{
		"packs/" + pk + ".car",              // the fs layout
		"packs/" + k2 + "/" + k2,            // no extension
		"packs/" + k3 + "/" + k3 + ".car/x", // deeper
		"packs/" + k4 + "/" + pk + ".car",   // halves differ
		"packs/dir/file.car",
	}
	for _, key := range append(append(strayIndex, strayPacks...), "other/"+k+"/"+k+"/1") {
		putObject(t, client, bucket, key, []byte("x"))
	}
	putObject(t, client, bucket, "idx/folder/", nil) // a folder marker
	got, bad := storetest.ListIndex(t, idx)
	if len(got) != 2 || got[k+"/"+ks].Size != 3 || got[k+"/1700000000000"].Size != 2 {
		t.Errorf("listed %v", got)
	}
	checkKeys(t, "index", bucket, bad, strayIndex)
	gotPacks, badPacks := storetest.ListPacks(t, packs)
	if len(gotPacks) != 1 || gotPacks[pk].Size != 4 {
		t.Errorf("listed %v", gotPacks)
	}
	checkKeys(t, "packs", bucket, badPacks, strayPacks)
	keys := server.Keys(t, bucket, "")
	for _, want := range []string{"idx/" + k + "/" + k + "/" + ks + "/" + ks, "idx/" + k + "/" + k + "/1700000000000"} {
		if !slices.Contains(keys, want) {
			t.Errorf("PutNamed did not write %s", want)
		}
	}
}

// checkKeys checks that the unexpected entries name exactly the keys.
func checkKeys[E store.IndexEntry | store.PackEntry](t *testing.T, what, bucket string, bad []E, keys []string) {
	t.Helper()
	var got, want []string
	for _, e := range bad {
		switch e := any(e).(type) {
		case store.IndexEntry:
			got = append(got, e.Key)
		case store.PackEntry:
			got = append(got, e.Key)
		}
	}
	for _, k := range keys {
		want = append(want, "s3://"+bucket+"/"+k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: unexpected keys\n got %q\nwant %q", what, got, want)
	}
}

// List reads every page: more index files and packs than one
// ListObjectsV2 page holds (1000).
func TestListPages(t *testing.T) {
	ctx := context.Background()
	client, bucket := server.Client(), server.NewBucket(t)
	idx := s3.NewIndexStore(client, bucket, s3.WithPrefix("i/"))
	packs := s3.NewPackStore(client, bucket, s3.WithPrefix("p/"))
	const n, workers = 1010, 16
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				data := fmt.Appendf(nil, "%d", i)
				mh := storetest.Sum(t, data)
				if err := idx.PutNamed(ctx, mh, "1", data); err != nil {
					t.Error(err)
					return
				}
				if err := packs.Put(ctx, mh, strings.NewReader(string(data)), int64(len(data))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, bad := storetest.ListIndex(t, idx)
	if len(got) != n || len(bad) != 0 {
		t.Errorf("listed %d index files (%d unexpected), want %d", len(got), len(bad), n)
	}
	gotPacks, badPacks := storetest.ListPacks(t, packs)
	if len(gotPacks) != n || len(badPacks) != 0 {
		t.Errorf("listed %d packs (%d unexpected), want %d", len(gotPacks), len(badPacks), n)
	}
}
