package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// NewIndexStore returns a new, empty index store for one test, with a size
// cap of maxFileBytes per index file (0: the backend's default). It is
// called once per subtest; subtests run in parallel.
type NewIndexStore func(t *testing.T, maxFileBytes int64) store.IndexStore

// RunIndexStore runs the index store conformance tests against stores made
// by newStore.
func RunIndexStore(t *testing.T, newStore NewIndexStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.IndexStore)
	}{
		{"Missing", testIndexMissing},
		{"SubNamed", testIndexSubNamed},
		{"SubReplaces", testIndexSubReplaces},
		{"TimestampNamed", testIndexTimestampNamed},
		{"Merge", testIndexMerge},
		{"SameMillisecond", testIndexSameMillisecond},
		{"Isolation", testIndexIsolation},
		{"EmptyFile", testIndexEmptyFile},
		{"DataCopied", testIndexDataCopied},
		{"ConcurrentPuts", testIndexConcurrentPuts},
		{"Canceled", testIndexCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t, 0))
		})
	}
	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		testIndexTooLarge(t, newStore(t, tooLargeCap))
	})
}

// baseName returns the last slash-separated segment of name.
func baseName(name string) string {
	return name[strings.LastIndex(name, "/")+1:]
}

func mustPutIndex(t *testing.T, s store.IndexStore, mh, sub multihash.Multihash, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), mh, sub, data); err != nil {
		t.Fatalf("put: %v", err)
	}
}

func mustFiles(t *testing.T, s store.IndexStore, mh multihash.Multihash) []store.IndexFile {
	t.Helper()
	files, err := s.Files(context.Background(), mh)
	if err != nil {
		t.Fatalf("files %s: %v", store.Key(mh), err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Fatalf("file names not sorted and unique: %q", names)
	}
	for _, f := range files {
		if f.Err != nil {
			t.Fatalf("file %s: %v", f.Name, f.Err)
		}
	}
	return files
}

// sortedData returns the data of files, sorted.
func sortedData(files []store.IndexFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, string(f.Data))
	}
	slices.Sort(out)
	return out
}

func testIndexMissing(t *testing.T, s store.IndexStore) {
	_, err := s.Files(context.Background(), RandomMultihash(t))
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("files of a missing key: got %v, want ErrNotFound", err)
	}
}

func testIndexSubNamed(t *testing.T, s store.IndexStore) {
	mh, sub := RandomMultihash(t), RandomMultihash(t)
	mustPutIndex(t, s, mh, sub, []byte(`{"a":1}`))
	files := mustFiles(t, s, mh)
	if len(files) != 1 {
		t.Fatalf("got %d files, want 1", len(files))
	}
	if got := baseName(files[0].Name); got != store.Key(sub) {
		t.Errorf("file name %q, want it to end in %s", files[0].Name, store.Key(sub))
	}
	if string(files[0].Data) != `{"a":1}` {
		t.Errorf("data %q", files[0].Data)
	}
}

func testIndexSubReplaces(t *testing.T, s store.IndexStore) {
	mh, sub := RandomMultihash(t), RandomMultihash(t)
	mustPutIndex(t, s, mh, sub, []byte("first"))
	mustPutIndex(t, s, mh, sub, []byte("second"))
	files := mustFiles(t, s, mh)
	if len(files) != 1 || string(files[0].Data) != "second" {
		t.Fatalf("got %v, want one file holding %q", files, "second")
	}
}

func testIndexTimestampNamed(t *testing.T, s store.IndexStore) {
	mh := RandomMultihash(t)
	before := time.Now().UnixMilli()
	mustPutIndex(t, s, mh, nil, []byte("ts"))
	after := time.Now().UnixMilli()
	files := mustFiles(t, s, mh)
	if len(files) != 1 {
		t.Fatalf("got %d files, want 1", len(files))
	}
	name := baseName(files[0].Name)
	ms, err := strconv.ParseInt(name, 10, 64)
	if err != nil || strconv.FormatInt(ms, 10) != name {
		t.Fatalf("file name %q is not a decimal timestamp", files[0].Name)
	}
	// Allow some slack for a bumped name or a clock that moved.
	if ms < before-1000 || ms > after+1000 {
		t.Errorf("timestamp %d not within [%d, %d]", ms, before, after)
	}
}

func testIndexMerge(t *testing.T, s store.IndexStore) {
	mh := RandomMultihash(t)
	sub1, sub2 := RandomMultihash(t), RandomMultihash(t)
	mustPutIndex(t, s, mh, sub1, []byte("sub1"))
	mustPutIndex(t, s, mh, nil, []byte("ts1"))
	mustPutIndex(t, s, mh, sub2, []byte("sub2"))
	mustPutIndex(t, s, mh, nil, []byte("ts2"))
	files := mustFiles(t, s, mh)
	got := sortedData(files)
	want := []string{"sub1", "sub2", "ts1", "ts2"}
	if !slices.Equal(got, want) {
		t.Fatalf("got data %q, want %q", got, want)
	}
	for _, f := range files {
		switch string(f.Data) {
		case "sub1":
			if baseName(f.Name) != store.Key(sub1) {
				t.Errorf("file %q holds sub1", f.Name)
			}
		case "sub2":
			if baseName(f.Name) != store.Key(sub2) {
				t.Errorf("file %q holds sub2", f.Name)
			}
		}
	}
}

func testIndexSameMillisecond(t *testing.T, s store.IndexStore) {
	// Puts this quick land in the same millisecond again and again; every
	// one must get its own file.
	mh := RandomMultihash(t)
	const n = 20
	var want []string
	for i := range n {
		data := fmt.Sprintf("file %02d", i)
		want = append(want, data)
		mustPutIndex(t, s, mh, nil, []byte(data))
	}
	if got := sortedData(mustFiles(t, s, mh)); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func testIndexIsolation(t *testing.T, s store.IndexStore) {
	mh1, mh2 := RandomMultihash(t), RandomMultihash(t)
	mustPutIndex(t, s, mh1, nil, []byte("one"))
	mustPutIndex(t, s, mh2, mh1, []byte("two"))
	if got := sortedData(mustFiles(t, s, mh1)); !slices.Equal(got, []string{"one"}) {
		t.Errorf("mh1: got %q", got)
	}
	if got := sortedData(mustFiles(t, s, mh2)); !slices.Equal(got, []string{"two"}) {
		t.Errorf("mh2: got %q", got)
	}
	// A sub-record's multihash is a file name, not a key of its own.
	if _, err := s.Files(context.Background(), RandomMultihash(t)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unrelated key: got %v, want ErrNotFound", err)
	}
}

func testIndexEmptyFile(t *testing.T, s store.IndexStore) {
	mh := RandomMultihash(t)
	mustPutIndex(t, s, mh, RandomMultihash(t), nil)
	files := mustFiles(t, s, mh)
	if len(files) != 1 || len(files[0].Data) != 0 {
		t.Fatalf("got %v, want one empty file", files)
	}
}

func testIndexDataCopied(t *testing.T, s store.IndexStore) {
	mh := RandomMultihash(t)
	data := []byte("original")
	mustPutIndex(t, s, mh, nil, data)
	copy(data, "mutated!")
	files := mustFiles(t, s, mh)
	if string(files[0].Data) != "original" {
		t.Fatalf("store kept the caller's slice: %q", files[0].Data)
	}
	copy(files[0].Data, "mutated!")
	if files = mustFiles(t, s, mh); string(files[0].Data) != "original" {
		t.Fatalf("store handed out its own slice: %q", files[0].Data)
	}
}

func testIndexConcurrentPuts(t *testing.T, s store.IndexStore) {
	shared := RandomMultihash(t)
	const workers, each = 8, 4
	own := make([]multihash.Multihash, workers)
	for i := range own {
		own[i] = RandomMultihash(t)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ctx := context.Background()
				data := fmt.Appendf(nil, "w%d-%d", w, i)
				errs <- s.Put(ctx, shared, nil, append(data, 't'))
				errs <- s.Put(ctx, shared, RandomMultihash(t), append(data, 's'))
				errs <- s.Put(ctx, own[w], nil, data)
			}
		})
	}
	// Read while others write: every answer is whole files or ErrNotFound.
	wg.Go(func() {
		for range 10 {
			files, err := s.Files(context.Background(), shared)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				errs <- err
			}
			for _, f := range files {
				if !bytes.HasPrefix(f.Data, []byte("w")) {
					errs <- fmt.Errorf("partial file %q: %q", f.Name, f.Data)
				}
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(mustFiles(t, s, shared)); got != workers*each*2 {
		t.Errorf("shared key: got %d files, want %d", got, workers*each*2)
	}
	for w := range workers {
		if got := len(mustFiles(t, s, own[w])); got != each {
			t.Errorf("worker %d: got %d files, want %d", w, got, each)
		}
	}
}

func testIndexCanceled(t *testing.T, s store.IndexStore) {
	mh := RandomMultihash(t)
	mustPutIndex(t, s, mh, nil, []byte("x"))
	ctx := canceled()
	if err := s.Put(ctx, mh, nil, []byte("y")); !errors.Is(err, context.Canceled) {
		t.Errorf("put: got %v, want context.Canceled", err)
	}
	if _, err := s.Files(ctx, mh); !errors.Is(err, context.Canceled) {
		t.Errorf("files: got %v, want context.Canceled", err)
	}
	if got := sortedData(mustFiles(t, s, mh)); !slices.Equal(got, []string{"x"}) {
		t.Errorf("after canceled put: got %q", got)
	}
}

// tooLargeCap is the size cap of the store testIndexTooLarge gets.
const tooLargeCap = 64

// A file over the size cap is returned with an error naming it and its
// size, beside the files within the cap, which are read as usual.
func testIndexTooLarge(t *testing.T, s store.IndexStore) {
	mh := RandomMultihash(t)
	sub1, sub2 := RandomMultihash(t), RandomMultihash(t)
	fits := bytes.Repeat([]byte("a"), tooLargeCap)
	over := bytes.Repeat([]byte("b"), tooLargeCap+1)
	mustPutIndex(t, s, mh, sub1, fits)
	mustPutIndex(t, s, mh, sub2, over)
	files, err := s.Files(context.Background(), mh)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("got %d files, want 2", len(files))
	}
	for _, f := range files {
		switch baseName(f.Name) {
		case store.Key(sub1):
			if f.Err != nil || !bytes.Equal(f.Data, fits) {
				t.Errorf("file at the cap: data %q, err %v", f.Data, f.Err)
			}
		case store.Key(sub2):
			if !errors.Is(f.Err, store.ErrTooLarge) || f.Data != nil {
				t.Fatalf("file over the cap: data %q, err %v; want no data and ErrTooLarge", f.Data, f.Err)
			}
			if msg := f.Err.Error(); !strings.Contains(msg, store.Key(sub2)) || !strings.Contains(msg, strconv.Itoa(tooLargeCap+1)) {
				t.Errorf("error %q does not name the file and its size", msg)
			}
		default:
			t.Errorf("unexpected file %q", f.Name)
		}
	}
	// Alone, it is still listed, with its error: the caller decides.
	mh2 := RandomMultihash(t)
	mustPutIndex(t, s, mh2, nil, over)
	files, err = s.Files(context.Background(), mh2)
	if err != nil || len(files) != 1 || !errors.Is(files[0].Err, store.ErrTooLarge) {
		t.Fatalf("only a file over the cap: got %v, %v", files, err)
	}
}
