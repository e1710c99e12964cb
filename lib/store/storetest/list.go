package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// NewIndexLister returns a new, empty index store for one test. It is
// called once per subtest; subtests run in parallel.
type NewIndexLister func(t *testing.T) store.IndexLister

// NewPackLister returns a new, empty pack store for one test and the
// WritePath of that store. It is called once per subtest; subtests run in
// parallel.
type NewPackLister func(t *testing.T) (store.PackLister, WritePath)

// RunIndexLister runs the conformance tests of store.IndexLister against
// stores made by newStore. The shapes of unexpected keys depend on the
// layout; each backend tests them itself.
func RunIndexLister(t *testing.T, newStore NewIndexLister) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.IndexLister)
	}{
		{"Empty", testListIndexEmpty},
		{"ListsWhatPutWrote", testListIndexAll},
		{"PutNamed", testListIndexPutNamed},
		{"BadName", testListIndexBadName},
		{"StopsOnError", testListIndexStops},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

// RunPackLister runs the conformance tests of store.PackLister against
// stores made by newStore.
func RunPackLister(t *testing.T, newStore NewPackLister) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.PackLister, write WritePath)
	}{
		{"Empty", testListPacksEmpty},
		{"ListsWhatPutWrote", testListPacksAll},
		{"PathIsUnexpected", testListPacksPath},
		{"StopsOnError", testListPacksStops},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, write := newStore(t)
			tc.run(t, s, write)
		})
	}
}

// ListIndex returns every entry s lists, keyed by "k(mh)/name", and the
// unexpected ones apart.
func ListIndex(t testing.TB, s store.IndexLister) (map[string]store.IndexEntry, []store.IndexEntry) {
	t.Helper()
	got := make(map[string]store.IndexEntry)
	var bad []store.IndexEntry
	err := s.List(context.Background(), func(e store.IndexEntry) error {
		if e.Err != nil {
			if !errors.Is(e.Err, store.ErrUnexpectedKey) || e.Key == "" || e.Multihash != nil {
				t.Errorf("entry %+v: want Key set and Err wrapping ErrUnexpectedKey", e)
			}
			bad = append(bad, e)
			return nil
		}
		k := store.Key(e.Multihash) + "/" + e.Name
		if _, dup := got[k]; dup {
			t.Errorf("%s listed twice", k)
		}
		got[k] = e
		return nil
	})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return got, bad
}

// ListPacks returns every pack s lists, keyed by k(mh), and the
// unexpected entries apart.
func ListPacks(t testing.TB, s store.PackLister) (map[string]store.PackEntry, []store.PackEntry) {
	t.Helper()
	got := make(map[string]store.PackEntry)
	var bad []store.PackEntry
	err := s.List(context.Background(), func(e store.PackEntry) error {
		if e.Err != nil {
			if !errors.Is(e.Err, store.ErrUnexpectedKey) || e.Key == "" || e.Multihash != nil {
				t.Errorf("entry %+v: want Key set and Err wrapping ErrUnexpectedKey", e)
			}
			bad = append(bad, e)
			return nil
		}
		k := store.Key(e.Multihash)
		if _, dup := got[k]; dup {
			t.Errorf("%s listed twice", k)
		}
		got[k] = e
		return nil
	})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return got, bad
}

func testListIndexEmpty(t *testing.T, s store.IndexLister) {
	got, bad := ListIndex(t, s)
	if len(got)+len(bad) != 0 {
		t.Errorf("an empty store lists %v %v", got, bad)
	}
}

func testListIndexAll(t *testing.T, s store.IndexLister) {
	ctx := context.Background()
	want := make(map[string][]byte)
	for i := range 5 {
		mh := RandomMultihash(t)
		sub := RandomMultihash(t)
		data := fmt.Appendf(nil, "sub %d", i)
		mustPutIndex(t, s, mh, sub, data)
		want[store.Key(mh)+"/"+store.Key(sub)] = data
		for j := range 2 {
			mustPutIndex(t, s, mh, nil, fmt.Appendf(nil, "ts %d %d", i, j))
		}
		for _, f := range mustFiles(t, s, mh) {
			if name := baseName(f.Name); name != store.Key(sub) {
				want[store.Key(mh)+"/"+name] = f.Data
			}
		}
	}
	got, bad := ListIndex(t, s)
	if len(bad) > 0 {
		t.Errorf("unexpected entries: %v", bad)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		t.Fatalf("listed\n%v\nwant\n%v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for k, e := range got {
		if e.Size != -1 && e.Size != int64(len(want[k])) {
			t.Errorf("%s: size %d, want %d", k, e.Size, len(want[k]))
		}
		data, err := s.Get(ctx, e.Multihash, e.Name)
		if err != nil || !bytes.Equal(data, want[k]) {
			t.Errorf("get %s: %q %v, want %q", k, data, err, want[k])
		}
	}
	if _, err := s.Get(ctx, RandomMultihash(t), "123"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get a missing file: %v, want ErrNotFound", err)
	}
}

func testListIndexPutNamed(t *testing.T, s store.IndexLister) {
	ctx := context.Background()
	mh, sub := RandomMultihash(t), RandomMultihash(t)
	ts := "1700000000123"
	for _, f := range []struct{ name, data string }{{ts, "ts"}, {store.Key(sub), "sub"}} {
		if err := s.PutNamed(ctx, mh, f.name, []byte(f.data)); err != nil {
			t.Fatalf("put %s: %v", f.name, err)
		}
	}
	// Files reads them as files Put would have written.
	files := mustFiles(t, s, mh)
	if len(files) != 2 || baseName(files[0].Name) != ts || string(files[0].Data) != "ts" ||
		baseName(files[1].Name) != store.Key(sub) || string(files[1].Data) != "sub" {
		t.Fatalf("files after PutNamed: %v", files)
	}
	// A taken timestamp name is never replaced; a sub name is.
	if err := s.PutNamed(ctx, mh, ts, []byte("other")); !errors.Is(err, store.ErrExist) {
		t.Errorf("put a taken timestamp name: %v, want ErrExist", err)
	}
	if err := s.PutNamed(ctx, mh, store.Key(sub), []byte("sub2")); err != nil {
		t.Errorf("replace a sub name: %v", err)
	}
	for name, want := range map[string]string{ts: "ts", store.Key(sub): "sub2"} {
		if data, err := s.Get(ctx, mh, name); err != nil || string(data) != want {
			t.Errorf("get %s: %q %v, want %q", name, data, err, want)
		}
	}
	got, _ := ListIndex(t, s)
	if len(got) != 2 {
		t.Errorf("listed %v, want the 2 files", got)
	}
}

func testListIndexBadName(t *testing.T, s store.IndexLister) {
	ctx := context.Background()
	mh := RandomMultihash(t)
	sub := RandomMultihash(t)
	for _, name := range []string{"", "../x", "a/b", ".tmp-1", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", store.Key(sub) + "x", "12345678901234567890"} {
		if err := s.PutNamed(ctx, mh, name, []byte("x")); !errors.Is(err, store.ErrUnexpectedKey) {
			t.Errorf("put name %q: %v, want ErrUnexpectedKey", name, err)
		}
		if _, err := s.Get(ctx, mh, name); err == nil {
			t.Errorf("get name %q: no error", name)
		}
	}
	if got, bad := ListIndex(t, s); len(got)+len(bad) != 0 {
		t.Errorf("bad names stored something: %v %v", got, bad)
	}
}

func testListIndexStops(t *testing.T, s store.IndexLister) {
	for range 3 {
		mustPutIndex(t, s, RandomMultihash(t), nil, []byte("x"))
	}
	checkStops(t, s.List)
}

func testListPacksEmpty(t *testing.T, s store.PackLister, _ WritePath) {
	got, bad := ListPacks(t, s)
	if len(got)+len(bad) != 0 {
		t.Errorf("an empty store lists %v %v", got, bad)
	}
	if _, err := s.Stat(context.Background(), RandomMultihash(t)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stat a missing pack: %v, want ErrNotFound", err)
	}
}

func testListPacksAll(t *testing.T, s store.PackLister, _ WritePath) {
	ctx := context.Background()
	want := make(map[string]int64)
	for _, n := range []int{0, 1, 1000, 70000} {
		data := RandomBytes(n)
		mh := Sum(t, data)
		if err := s.Put(ctx, mh, bytes.NewReader(data), int64(n)); err != nil {
			t.Fatal(err)
		}
		want[store.Key(mh)] = int64(n)
		if size, err := s.Stat(ctx, mh); err != nil || size != int64(n) {
			t.Errorf("stat: %d %v, want %d", size, err, n)
		}
	}
	got, bad := ListPacks(t, s)
	if len(bad) > 0 {
		t.Errorf("unexpected entries: %v", bad)
	}
	if len(got) != len(want) {
		t.Errorf("listed %d packs, want %d", len(got), len(want))
	}
	for k, size := range want {
		if e, ok := got[k]; !ok || e.Size != size {
			t.Errorf("pack %s: listed %+v, want size %d", k, e, size)
		}
	}
}

func testListPacksPath(t *testing.T, s store.PackLister, write WritePath) {
	data := []byte("a pack by path")
	mh := Sum(t, data)
	if err := s.Put(context.Background(), mh, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	write(t, "some/path", []byte("by path"))
	write(t, "file", []byte("by path"))
	got, bad := ListPacks(t, s)
	if len(got) != 1 || got[store.Key(mh)].Size != int64(len(data)) {
		t.Errorf("listed %v, want the one pack", got)
	}
	if len(bad) != 2 {
		t.Errorf("unexpected entries %v, want the 2 path-located packs", bad)
	}
}

func testListPacksStops(t *testing.T, s store.PackLister, _ WritePath) {
	for range 3 {
		data := RandomBytes(10)
		if err := s.Put(context.Background(), Sum(t, data), bytes.NewReader(data), 10); err != nil {
			t.Fatal(err)
		}
	}
	checkStops(t, s.List)
}

// checkStops checks that list (of a store holding entries) returns fn's
// first error as it is, calling fn no more, and fails on a canceled
// context.
func checkStops[E any](t *testing.T, list func(context.Context, func(E) error) error) {
	t.Helper()
	stop := errors.New("stop")
	calls := 0
	err := list(context.Background(), func(E) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("list: %v after %d calls, want fn's error after 1", err, calls)
	}
	if err := list(canceled(), func(E) error { return nil }); err == nil {
		t.Error("list with a canceled context: no error")
	}
}
