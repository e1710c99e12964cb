package storecopy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/store/storetest"
	"github.com/hash-stream/hash-stream-aws/lib/storecopy"
)

func newMemory() storecopy.Stores {
	return storecopy.Stores{Index: memory.NewIndexStore(), Packs: memory.NewPackStore()}
}

func newFS(t *testing.T) storecopy.Stores {
	dir := t.TempDir()
	return storecopy.Stores{
		Index: fs.NewIndexStore(filepath.Join(dir, "index"), fs.WithSync(false)),
		Packs: fs.NewPackStore(filepath.Join(dir, "pack"), fs.WithSync(false)),
	}
}

// loaded returns memory stores holding testdata/ and a pack of 6 MiB
// (over the size read whole), with a record of a block in it (of 1 MiB: a
// record of the whole pack would give a block over the readers' limit,
// which a copy skips).
func loaded(t *testing.T) storecopy.Stores {
	t.Helper()
	ctx := context.Background()
	s := newMemory()
	if _, err := fixture.Load(ctx, s.Index, s.Packs); err != nil {
		t.Fatal(err)
	}
	big := storetest.RandomBytes(6 << 20)
	mh := storetest.Sum(t, big)
	if err := s.Packs.Put(ctx, mh, bytes.NewReader(big), int64(len(big))); err != nil {
		t.Fatal(err)
	}
	if err := index.NewSingleLevelWriter(s.Index).Add(ctx, []index.PackedBlob{{Multihash: mh, BlobLocation: store.BlobLocation{Pack: store.Location{Multihash: mh}, Length: 1 << 20}}}, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// contents returns every index file ("k(mh)/name" -> bytes) and every pack
// (k(mh) -> bytes) of s.
func contents(t *testing.T, s storecopy.Stores) (map[string]string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	files, bad := storetest.ListIndex(t, s.Index)
	packs, badPacks := storetest.ListPacks(t, s.Packs)
	if len(bad)+len(badPacks) > 0 {
		t.Fatalf("unexpected keys: %v %v", bad, badPacks)
	}
	idx := make(map[string]string)
	for k, e := range files {
		data, err := s.Index.Get(ctx, e.Multihash, e.Name)
		if err != nil {
			t.Fatal(err)
		}
		idx[k] = string(data)
	}
	pk := make(map[string]string)
	for k, e := range packs {
		rc, err := s.Packs.GetRange(ctx, store.Location{Multihash: e.Multihash}, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		pk[k] = string(data)
	}
	return idx, pk
}

func sameContents(t *testing.T, got, want storecopy.Stores) {
	t.Helper()
	gi, gp := contents(t, got)
	wi, wp := contents(t, want)
	if !maps.Equal(gi, wi) {
		t.Errorf("index files differ:\n got %q\nwant %q", slices.Sorted(maps.Keys(gi)), slices.Sorted(maps.Keys(wi)))
	}
	if !maps.Equal(gp, wp) {
		t.Errorf("packs differ:\n got %q\nwant %q", slices.Sorted(maps.Keys(gp)), slices.Sorted(maps.Keys(wp)))
	}
}

// A copy into an empty store copies everything, names and bytes alike,
// through another backend and back; a second copy skips everything and
// writes nothing.
func TestCopy(t *testing.T) {
	ctx := context.Background()
	src := loaded(t)
	srcIdx, srcPacks := contents(t, src)
	var srcBytes int64
	for _, p := range srcPacks {
		srcBytes += int64(len(p))
	}
	for _, tc := range []struct {
		name string
		via  func(t *testing.T) storecopy.Stores
	}{
		{"memory", func(*testing.T) storecopy.Stores { return newMemory() }},
		{"fs", newFS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mid, dst := tc.via(t), newMemory()
			var last storecopy.Progress
			var phases []storecopy.Phase
			res, err := storecopy.Copy(ctx, mid, src, storecopy.WithProgress(func(p storecopy.Progress) {
				if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
					phases = append(phases, p.Phase)
				}
				last = p
			}))
			if err != nil {
				t.Fatal(err)
			}
			want := storecopy.Count{Copied: len(srcPacks), Bytes: srcBytes}
			if res.Packs != want || res.Index.Copied != len(srcIdx) || res.Index.Skipped+res.Index.Failed+res.Index.Invalid != 0 {
				t.Errorf("result %+v, want %d packs (%d bytes) and %d index files copied", res, len(srcPacks), srcBytes, len(srcIdx))
			}
			if !slices.Equal(phases, []storecopy.Phase{storecopy.PhasePacks, storecopy.PhaseIndex}) {
				t.Errorf("phases %v", phases)
			}
			if !last.Listed || last.Done != len(srcIdx) || last.Objects != len(srcIdx) {
				t.Errorf("last progress %+v, want %d index files done", last, len(srcIdx))
			}
			sameContents(t, mid, src)

			res, err = storecopy.Copy(ctx, mid, src)
			if err != nil {
				t.Fatal(err)
			}
			if (res.Packs != storecopy.Count{Skipped: len(srcPacks)}) || (res.Index != storecopy.Count{Skipped: len(srcIdx)}) {
				t.Errorf("second copy: %+v, want everything skipped", res)
			}
			sameContents(t, mid, src)

			if _, err := storecopy.Copy(ctx, dst, mid); err != nil {
				t.Fatal(err)
			}
			sameContents(t, dst, src)
		})
	}
}

// putCounter counts the writes of a destination and may hold them up.
type putCounter struct {
	mu             sync.Mutex
	puts, inflight int
	max            int
	// With openAt > 0, writes wait until openAt of them are under way at
	// once (or testutil.WaitTimeout passes: a copy that never writes that
	// many at once is reported by max, not hung).
	openAt int
	gate   chan struct{}
}

func (p *putCounter) enter() {
	p.mu.Lock()
	p.puts++
	p.inflight++
	p.max = max(p.max, p.inflight)
	if p.openAt > 0 && p.gate == nil {
		p.gate = make(chan struct{})
	}
	gate := p.gate
	if p.openAt > 0 && p.inflight >= p.openAt {
		p.openAt = 0 // open for good
		close(gate)
	}
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-time.After(testutil.WaitTimeout):
		}
	}
}

func (p *putCounter) leave() {
	p.mu.Lock()
	p.inflight--
	p.mu.Unlock()
}

type countedPacks struct {
	store.PackLister
	*putCounter
}

func (c countedPacks) Put(ctx context.Context, mh multihash.Multihash, r io.Reader, size int64) error {
	c.enter()
	defer c.leave()
	return c.PackLister.Put(ctx, mh, r, size)
}

type countedIndex struct {
	store.IndexLister
	*putCounter
}

func (c countedIndex) PutNamed(ctx context.Context, mh multihash.Multihash, name string, data []byte) error {
	c.enter()
	defer c.leave()
	return c.IndexLister.PutNamed(ctx, mh, name, data)
}

// No more objects than the concurrency are copied at once, and that many
// are: the writes wait until as many are under way.
func TestConcurrencyBound(t *testing.T) {
	ctx := context.Background()
	src := newMemory()
	const n, limit = 12, 3
	for i := range n {
		data := storetest.RandomBytes(100 + i)
		mh := storetest.Sum(t, data)
		if err := src.Packs.Put(ctx, mh, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if err := index.NewSingleLevelWriter(src.Index).Add(ctx, []index.PackedBlob{{Multihash: mh, BlobLocation: store.BlobLocation{Pack: store.Location{Multihash: mh}, Length: 1}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	packs, idx := &putCounter{openAt: limit}, &putCounter{openAt: limit}
	mem := newMemory()
	dst := storecopy.Stores{Index: countedIndex{mem.Index, idx}, Packs: countedPacks{mem.Packs, packs}}
	res, err := storecopy.Copy(ctx, dst, src, storecopy.WithConcurrency(limit))
	if err != nil {
		t.Fatal(err)
	}
	if res.Packs.Copied != n || res.Index.Copied != 2*n { // a BLOB and a PACK record per pack
		t.Errorf("result %+v", res)
	}
	for what, c := range map[string]*putCounter{"packs": packs, "index": idx} {
		if c.max != limit {
			t.Errorf("%s: at most %d writes at once, want %d", what, c.max, limit)
		}
	}
}

// Objects already at the destination are not written again; a pack of
// the wrong size there is copied again.
func TestSkipsPresent(t *testing.T) {
	ctx := context.Background()
	src := loaded(t)
	mem := newMemory()
	if _, err := storecopy.Copy(ctx, mem, src); err != nil {
		t.Fatal(err)
	}
	// Break one pack at the destination: a short copy of it.
	packs, _ := storetest.ListPacks(t, src.Packs)
	var broken store.PackEntry
	for _, e := range packs {
		broken = e
		break
	}
	if err := mem.Packs.Put(ctx, broken.Multihash, strings.NewReader("short"), 5); err != nil {
		t.Fatal(err)
	}
	packWrites, indexWrites := &putCounter{}, &putCounter{}
	dst := storecopy.Stores{Index: countedIndex{mem.Index, indexWrites}, Packs: countedPacks{mem.Packs, packWrites}}
	res, err := storecopy.Copy(ctx, dst, src)
	if err != nil {
		t.Fatal(err)
	}
	if packWrites.puts != 1 || indexWrites.puts != 0 || res.Packs.Copied != 1 || res.Packs.Skipped != len(packs)-1 || res.Index.Copied != 0 {
		t.Errorf("%d pack and %d index writes, result %+v; want only the broken pack copied", packWrites.puts, indexWrites.puts, res)
	}
	sameContents(t, mem, src)
}

// A pack whose bytes do not hash to its multihash fails with ErrCorrupt
// and leaves nothing at the destination, small (read whole) or large
// (streamed); the other packs are copied.
func TestCorruptPack(t *testing.T) {
	for _, size := range []int{100, 6 << 20} {
		for _, dstName := range []string{"memory", "fs"} {
			t.Run(fmt.Sprintf("%s/%d", dstName, size), func(t *testing.T) {
				ctx := context.Background()
				src := newMemory()
				good := storetest.RandomBytes(1000)
				if err := src.Packs.Put(ctx, storetest.Sum(t, good), bytes.NewReader(good), 1000); err != nil {
					t.Fatal(err)
				}
				data := storetest.RandomBytes(size)
				badMH := storetest.Sum(t, data)
				data[size/2] ^= 1 // the memory store takes it as it is
				if err := src.Packs.Put(ctx, badMH, bytes.NewReader(data), int64(size)); err != nil {
					t.Fatal(err)
				}
				dst := newMemory()
				var dir string
				if dstName == "fs" {
					dir = t.TempDir()
					dst = storecopy.Stores{Index: fs.NewIndexStore(filepath.Join(dir, "index")), Packs: fs.NewPackStore(filepath.Join(dir, "pack"))}
				}
				var logs bytes.Buffer
				res, err := storecopy.Copy(ctx, dst, src, storecopy.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
				if !errors.Is(err, storecopy.ErrFailed) || !errors.Is(err, storecopy.ErrCorrupt) || !strings.Contains(err.Error(), store.Key(badMH)) {
					t.Fatalf("copy: %v, want ErrFailed and ErrCorrupt naming the pack", err)
				}
				if res.Packs.Failed != 1 || res.Packs.Copied != 1 {
					t.Errorf("result %+v, want 1 copied and 1 failed", res.Packs)
				}
				if !strings.Contains(logs.String(), store.Key(badMH)) || !strings.Contains(logs.String(), "level=ERROR") {
					t.Errorf("log: %s", logs.String())
				}
				if _, err := dst.Packs.Stat(ctx, badMH); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("the corrupt pack at the destination: %v", err)
				}
				if dir != "" {
					entries, _ := os.ReadDir(filepath.Join(dir, "pack"))
					if len(entries) != 1 {
						t.Errorf("pack folder holds %d files, want the good pack only", len(entries))
					}
				}
			})
		}
	}
}

// Index files that do not decode and objects not of the layout are skipped
// with a warning naming them, and do not fail the copy.
func TestInvalidSkipped(t *testing.T) {
	ctx := context.Background()
	src := loaded(t)
	mh := storetest.RandomMultihash(t)
	if err := src.Index.Put(ctx, mh, nil, []byte("not an index file")); err != nil {
		t.Fatal(err)
	}
	if err := src.Packs.(*memory.PackStore).PutPath("some/path", []byte("by path")); err != nil {
		t.Fatal(err)
	}
	dst := newMemory()
	var logs bytes.Buffer
	res, err := storecopy.Copy(ctx, dst, src, storecopy.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if res.Index.Invalid != 1 || res.Packs.Invalid != 1 || res.Index.Failed+res.Packs.Failed != 0 {
		t.Errorf("result %+v, want one invalid of each", res)
	}
	if _, err := dst.Index.Files(ctx, mh); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the bad index file was copied: %v", err)
	}
	for _, want := range []string{store.Key(mh), "does not decode", "some/path", "level=WARN"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, logs.String())
		}
	}
}

// A timestamp name taken at the destination by other bytes gets a new
// timestamp, once: a second copy finds the bytes and skips them. A k(sub)
// name taken by other bytes fails with ErrConflict and is left as it is.
func TestIndexNameTaken(t *testing.T) {
	ctx := context.Background()
	blob := func(n uint64) []byte {
		mh := storetest.Sum(t, []byte("block"))
		data, err := index.Encode(index.TypeBlob, index.NewBlob(mh, mh, n, 1))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	mh, sub := storetest.Sum(t, []byte("block")), storetest.RandomMultihash(t)
	src, dst := newMemory(), newMemory()
	for _, f := range []struct {
		s    storecopy.Stores
		name string
		data []byte
	}{
		{src, "1700000000000", blob(1)},
		{dst, "1700000000000", blob(2)},
		{src, store.Key(sub), blob(3)},
		{dst, store.Key(sub), blob(4)},
	} {
		if err := f.s.Index.PutNamed(ctx, mh, f.name, f.data); err != nil {
			t.Fatal(err)
		}
	}
	for run := range 2 {
		res, err := storecopy.Copy(ctx, dst, src)
		if !errors.Is(err, storecopy.ErrConflict) {
			t.Errorf("run %d: %v, want ErrConflict", run, err)
		}
		want := storecopy.Count{Copied: 1 - run, Skipped: run, Failed: 1, Bytes: int64(len(blob(1)) * (1 - run))}
		if res.Index != want {
			t.Errorf("run %d: %+v, want %+v", run, res.Index, want)
		}
	}
	files, err := dst.Index.Files(ctx, mh)
	if err != nil || len(files) != 3 {
		t.Fatalf("destination files: %v %v", files, err)
	}
	var got []string
	for _, f := range files {
		got = append(got, string(f.Data))
	}
	for _, want := range [][]byte{blob(1), blob(2), blob(4)} {
		if !slices.Contains(got, string(want)) {
			t.Errorf("destination lacks %s", want)
		}
	}
}

// A copy stops when its context ends.
func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := storecopy.Copy(ctx, newMemory(), loaded(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("copy: %v, want context.Canceled", err)
	}
}

type failingPacks struct{ store.PackLister }

func (failingPacks) Put(context.Context, multihash.Multihash, io.Reader, int64) error {
	return errors.New("refused")
}

// A copy whose objects all fail stops after WithMaxFailures of them.
func TestStopsAfterFailures(t *testing.T) {
	ctx := context.Background()
	src := newMemory()
	for i := range 20 {
		data := storetest.RandomBytes(10 + i)
		if err := src.Packs.Put(ctx, storetest.Sum(t, data), bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
	}
	mem := newMemory()
	dst := storecopy.Stores{Index: mem.Index, Packs: failingPacks{mem.Packs}}
	res, err := storecopy.Copy(ctx, dst, src, storecopy.WithConcurrency(1), storecopy.WithMaxFailures(3))
	if !errors.Is(err, storecopy.ErrFailed) || !strings.Contains(err.Error(), "stopped") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("copy: %v, want ErrFailed, stopped", err)
	}
	if res.Packs.Failed != 3 || res.Packs.Copied != 0 {
		t.Errorf("result %+v, want 3 failed", res.Packs)
	}
	// Without a limit every object is tried.
	res, err = storecopy.Copy(ctx, dst, src, storecopy.WithMaxFailures(0))
	if !errors.Is(err, storecopy.ErrFailed) || strings.Contains(err.Error(), "stopped") || res.Packs.Failed != 20 {
		t.Errorf("copy without a limit: %+v, %v; want all 20 failed", res.Packs, err)
	}
}
