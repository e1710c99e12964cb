package index_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/multiformats/go-multihash"
)

// countingStore counts Files calls, and can hold them until released or
// fail some files as a storage error would.
type countingStore struct {
	store.IndexStore
	calls   atomic.Int64
	hold    chan struct{} // when not nil, Files waits for it to close
	failing string        // files whose name ends in it fail to read
	panics  bool
}

func (c *countingStore) Files(ctx context.Context, mh multihash.Multihash) ([]store.IndexFile, error) {
	c.calls.Add(1)
	if c.panics {
		panic("store bug")
	}
	if c.hold != nil {
		select {
		case <-c.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	files, err := c.IndexStore.Files(ctx, mh)
	for i := range files {
		if c.failing != "" && strings.HasSuffix(files[i].Name, c.failing) {
			files[i].Data, files[i].Err = nil, errors.New("read "+files[i].Name+": injected read failure")
		}
	}
	return files, err
}

func put(t *testing.T, s store.IndexStore, mh, sub multihash.Multihash, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), mh, sub, data); err != nil {
		t.Fatal(err)
	}
}

func encode(t *testing.T, r index.Record) []byte {
	t.Helper()
	data, err := index.Encode(index.TypeBlob, r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// joinedCtx counts the callers that have joined a shared read: Reader
// waits for the read with a select on its caller's Done, after the caller
// joined it, and calls Done nowhere before.
type joinedCtx struct {
	context.Context
	joined *atomic.Int64
}

func (c joinedCtx) Done() <-chan struct{} {
	c.joined.Add(1)
	return c.Context.Done()
}

// waitJoined waits until n callers have joined the read.
func waitJoined(t *testing.T, joined *atomic.Int64, n int64) {
	t.Helper()
	if !testutil.Eventually(func() bool { return joined.Load() >= n }) {
		t.Fatalf("%d of %d callers joined the read", joined.Load(), n)
	}
}

// logBuffer is a logger and what it wrote.
func logBuffer() (*slog.Logger, *testutil.Buffer) {
	var b testutil.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// Concurrent lookups of one multihash share one read, and the Set is
// cached: later lookups read nothing.
func TestSetReadOnce(t *testing.T) {
	mem := memory.NewIndexStore()
	mh, pack := testMH(1), testMH(-1)
	put(t, mem, mh, nil, encode(t, index.NewBlob(mh, pack, 10, 20)))
	cs := &countingStore{IndexStore: mem, hold: make(chan struct{})}
	r := index.NewReader(cs)
	const callers = 20
	var joined atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			s, err := r.Set(joinedCtx{context.Background(), &joined}, mh)
			if err == nil {
				if b, ok := s.Blob(mh); !ok || b.Offset != 10 {
					err = errors.New("blob not found in the set")
				}
			}
			errs <- err
		})
	}
	// Every caller joins the read before it ends.
	waitJoined(t, &joined, callers)
	close(cs.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := cs.calls.Load(); got != 1 {
		t.Errorf("%d concurrent lookups read the index %d times, want 1", callers, got)
	}
	if _, err := r.Set(context.Background(), mh); err != nil || cs.calls.Load() != 1 {
		t.Errorf("cached lookup: err %v, %d reads in all", err, cs.calls.Load())
	}
	if s, ok := r.Cached(mh); !ok || s.Len() != 1 {
		t.Errorf("Cached: %v %v", s, ok)
	}
	// Find reads every time, but shares a read too.
	if recs, err := r.Find(context.Background(), mh); err != nil || len(recs) != 1 || cs.calls.Load() != 2 {
		t.Errorf("Find: %v %v, %d reads", recs, err, cs.calls.Load())
	}
}

// A caller that leaves does not fail the others waiting on the same read,
// and the read it started still fills the cache.
func TestSetCallerLeaves(t *testing.T) {
	mem := memory.NewIndexStore()
	mh := testMH(1)
	put(t, mem, mh, nil, encode(t, index.NewBlob(mh, testMH(-1), 0, 1)))
	cs := &countingStore{IndexStore: mem, hold: make(chan struct{})}
	r := index.NewReader(cs)
	ctx, cancel := context.WithCancel(context.Background())
	var joined atomic.Int64
	first := make(chan error, 1)
	go func() {
		_, err := r.Set(joinedCtx{ctx, &joined}, mh)
		first <- err
	}()
	waitJoined(t, &joined, 1)
	second := make(chan error, 1)
	go func() {
		_, err := r.Set(joinedCtx{context.Background(), &joined}, mh)
		second <- err
	}()
	waitJoined(t, &joined, 2) // the second caller waits on the same read
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that left: %v, want context.Canceled", err)
	}
	close(cs.hold)
	if err := <-second; err != nil {
		t.Errorf("the caller that stayed: %v", err)
	}
	if _, ok := r.Cached(mh); !ok || cs.calls.Load() != 1 {
		t.Errorf("cached %v after %d reads, want cached after 1", ok, cs.calls.Load())
	}
}

// One bad index file does not hide the good one beside it: it is skipped
// with a warning naming it. With no good file the error names the bad
// ones and is not a not-found. A file skipped for a storage error (which
// may pass) leaves the set uncached.
func TestBadIndexFiles(t *testing.T) {
	mh, pack := testMH(1), testMH(-1)
	good := encode(t, index.NewBlob(mh, pack, 10, 20))
	for _, tc := range []struct {
		name      string
		bad       []byte
		withGood  bool
		failing   bool // the bad file fails to read instead
		maxFile   int64
		wantInErr string
		cacheable bool
	}{
		{name: "garbage beside good", bad: []byte("\x00garbage"), withGood: true, cacheable: true},
		{name: "truncated beside good", bad: good[:len(good)/2], withGood: true, cacheable: true},
		{name: "wrong shape beside good", bad: []byte(`{"data":{"type":0},"type":"index/blob@0.1"}`), withGood: true, cacheable: true},
		{name: "too large beside good", bad: bytes.Repeat([]byte(" "), 4096), withGood: true, maxFile: 1024, cacheable: true},
		{name: "unreadable beside good", bad: good, withGood: true, failing: true},
		{name: "only garbage", bad: []byte("{broken"), wantInErr: "invalid record"},
		{name: "only too large", bad: bytes.Repeat([]byte(" "), 4096), maxFile: 1024, wantInErr: "4096 bytes, over the 1024-byte cap"},
		{name: "only unreadable", bad: good, failing: true, wantInErr: "injected read failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewIndexStore(memory.WithMaxIndexFileBytes(tc.maxFile))
			badSub := testMH(-99)
			put(t, mem, mh, badSub, tc.bad)
			if tc.withGood {
				put(t, mem, mh, pack, good)
			}
			cs := &countingStore{IndexStore: mem}
			if tc.failing {
				cs.failing = store.Key(badSub)
			}
			log, logged := logBuffer()
			r := index.NewReader(cs, index.WithLogger(log))
			s, err := r.Set(context.Background(), mh)
			if !tc.withGood {
				if err == nil || errors.Is(err, index.ErrNotFound) || errors.Is(err, store.ErrNotFound) ||
					!strings.Contains(err.Error(), store.Key(badSub)) || !strings.Contains(err.Error(), tc.wantInErr) {
					t.Fatalf("got %v, want an error naming %s and %q", err, store.Key(badSub), tc.wantInErr)
				}
				if _, err := r.Find(context.Background(), mh); err == nil {
					t.Error("Find: no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, ok := s.Blob(mh); !ok || b.Offset != 10 || b.Length != 20 {
				t.Fatalf("blob %+v %v", b, ok)
			}
			if l := logged.String(); !strings.Contains(l, "index file skipped") || !strings.Contains(l, store.Key(badSub)) {
				t.Errorf("log %q does not warn about %s", l, store.Key(badSub))
			}
			if recs, err := r.Find(context.Background(), mh); err != nil || len(recs) != 1 {
				t.Errorf("Find: %v %v", recs, err)
			}
			if _, cached := r.Cached(mh); cached != tc.cacheable {
				t.Errorf("cached %v, want %v", cached, tc.cacheable)
			}
		})
	}
}

// Identity multihashes are never looked up, as a block or as a
// containing one.
func TestIdentityNotLookedUp(t *testing.T) {
	cs := &countingStore{IndexStore: memory.NewIndexStore()}
	r := index.NewReader(cs)
	id, err := multihash.Sum(bytes.Repeat([]byte("x"), 300), multihash.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	if !dag.IsIdentityHash(id) || dag.IsIdentityHash(testMH(1)) {
		t.Fatal("IsIdentity")
	}
	if _, err := r.Set(context.Background(), id); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("Set: %v", err)
	}
	if _, err := r.Find(context.Background(), id); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("Find: %v", err)
	}
	mh := testMH(1)
	put(t, cs.IndexStore, mh, nil, encode(t, index.NewBlob(mh, testMH(-1), 0, 1)))
	if recs, err := r.FindIn(context.Background(), mh, id); err != nil || len(recs) != 1 {
		t.Errorf("FindIn with an identity containing multihash: %v %v", recs, err)
	}
	if got := cs.calls.Load(); got != 1 {
		t.Errorf("%d index reads, want 1 (mh's own)", got)
	}
}

// A panic while reading (a bug meeting hostile data) is that lookup's
// error, not the end of the process.
func TestSetPanicIsAnError(t *testing.T) {
	r := index.NewReader(&countingStore{IndexStore: memory.NewIndexStore(), panics: true})
	if _, err := r.Set(context.Background(), testMH(1)); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("got %v, want an error about the panic", err)
	}
}

// A Set larger than the cache is served but not kept; the default cache
// keeps the Set of the largest file a store reads by default.
func TestCacheBound(t *testing.T) {
	mem := memory.NewIndexStore()
	root := testMH(-1000)
	data, err := index.Encode(index.TypeContaining, containingRecord(root, 2000, 1000))
	if err != nil {
		t.Fatal(err)
	}
	put(t, mem, root, testMH(-1), data)
	r := index.NewReader(mem, index.WithCache(index.NewCache(1000)))
	if s, err := r.Set(context.Background(), root); err != nil || s.Len() != 2000 {
		t.Fatalf("%v %v", s, err)
	}
	if _, ok := r.Cached(root); ok {
		t.Error("a set larger than the cache was kept")
	}
	// A file at the cap (about 210 bytes a blob) makes a Set that fits
	// the default cache with room to spare.
	n := int(float64(store.DefaultMaxIndexFileBytes) / (float64(len(data)) / 2000))
	big := index.NewSet([]index.Record{containingRecord(root, n, 10_000)})
	t.Logf("a %d-byte file holds %d blobs: a Set of %d bytes", store.DefaultMaxIndexFileBytes, n, big.Size())
	if big.Size() > index.DefaultCacheBytes*6/10 {
		t.Errorf("the Set of a %d-byte file (%d blobs) is %d bytes, too much of the %d-byte default cache",
			store.DefaultMaxIndexFileBytes, n, big.Size(), index.DefaultCacheBytes)
	}
}

// A shared read that the store never answers ends at the read timeout,
// whoever waits on it, and the next lookup reads again.
func TestSetReadTimeout(t *testing.T) {
	cs := &countingStore{IndexStore: memory.NewIndexStore(), hold: make(chan struct{})}
	r := index.NewReader(cs, index.WithReadTimeout(50*time.Millisecond))
	start := time.Now()
	_, err := r.Set(context.Background(), testMH(1))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if _, err := r.Set(context.Background(), testMH(1)); !errors.Is(err, context.DeadlineExceeded) || cs.calls.Load() != 2 {
		t.Errorf("second lookup: %v after %d reads, want a read of its own", err, cs.calls.Load())
	}
}

// A missing multihash is index.ErrNotFound, which wraps store.ErrNotFound;
// an index file that does not decode is neither.
func TestNotFoundWrapsStore(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewIndexStore()
	r := index.NewReader(mem)
	if !errors.Is(index.ErrNotFound, store.ErrNotFound) {
		t.Fatal("index.ErrNotFound does not wrap store.ErrNotFound")
	}
	if errors.Is(store.ErrNotFound, index.ErrNotFound) {
		t.Fatal("store.ErrNotFound is index.ErrNotFound")
	}
	for name, find := range map[string]func(multihash.Multihash) error{
		"Set":    func(mh multihash.Multihash) error { _, err := r.Set(ctx, mh); return err },
		"Find":   func(mh multihash.Multihash) error { _, err := r.Find(ctx, mh); return err },
		"FindIn": func(mh multihash.Multihash) error { _, err := r.FindIn(ctx, mh, testMH(-5)); return err },
	} {
		err := find(testMH(40))
		if !errors.Is(err, index.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of a missing multihash: %v, want index.ErrNotFound wrapping store.ErrNotFound", name, err)
		}
	}
	bad := testMH(41)
	put(t, mem, bad, testMH(-1), []byte("{garbage"))
	if _, err := r.Set(ctx, bad); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("undecodable index file: %v, want an error that is not a not-found", err)
	}
}

// The writers name packs by multihash: a blob whose pack is a path is
// refused, with nothing written.
func TestWritersRefusePathPacks(t *testing.T) {
	ctx := context.Background()
	s := memory.NewIndexStore()
	mh, _ := multihash.Sum([]byte("blob"), multihash.SHA2_256, -1)
	blobs := []index.PackedBlob{{Multihash: mh, BlobLocation: store.BlobLocation{Pack: store.Location{Path: "some/pack"}, Length: 1}}}
	for _, w := range []index.Writer{index.NewSingleLevelWriter(s), index.NewMultipleLevelWriter(s)} {
		if err := w.Add(ctx, blobs, mh); err == nil || !strings.Contains(err.Error(), "not named by a multihash") {
			t.Errorf("%T: %v", w, err)
		}
	}
	if _, err := s.Files(ctx, mh); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("something was written: %v", err)
	}
}
