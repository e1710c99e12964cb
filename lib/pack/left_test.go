package pack_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/faultstore"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/tempfile"
	"github.com/multiformats/go-multihash"
)

// 3 MiB in packs of at most 1.1 MB: 3 packs of one leaf each, the root in
// the last, 4 blocks. Index Puts with both writers: 4 BLOB records, then 3
// PACK records, then the CONTAINING record.
const (
	leftSize     = 3 << 20
	leftPackSize = 1100000
	leftPacks    = 3
	leftBlocks   = 4
)

func leftInput() []byte {
	var b bytes.Buffer
	b.ReadFrom(testutil.HashStreamReader("hash-stream left behind ", leftSize))
	return b.Bytes()
}

// A pack write (WriteFile then AddToIndex, as the CLI runs them) that
// fails at any step leaves no index record naming a missing pack, no
// temporary file, and an error naming every pack it leaves; writing again
// completes the index.
func TestFailedWriteLeavesNoDanglingRecord(t *testing.T) {
	data := leftInput()
	var packKeys map[string]bool // the packs of data, from a clean write
	var rootMH multihash.Multihash
	{
		root, infos, err := pack.WriteFile(context.Background(), memory.NewPackStore(), bytes.NewReader(data), pack.WithMaxSize(leftPackSize), pack.WithTempDir(t.TempDir()))
		if err != nil || len(infos) != leftPacks {
			t.Fatalf("clean write: %d packs, %v", len(infos), err)
		}
		packKeys = map[string]bool{}
		for _, p := range infos {
			packKeys[store.Key(p.Multihash)] = true
		}
		rootMH = root.Hash()
	}
	isPack := func(mh multihash.Multihash) bool { return packKeys[store.Key(mh)] }
	nth := func(want int) func(int, multihash.Multihash) bool {
		return func(n int, _ multihash.Multihash) bool { return n == want }
	}
	nthRecord := func(want int) func(int, multihash.Multihash, []byte) bool {
		return func(n int, _ multihash.Multihash, _ []byte) bool { return n == want }
	}
	packRecord := func(_ int, mh multihash.Multihash, _ []byte) bool { return isPack(mh) }
	containingRecord := func(_ int, _ multihash.Multihash, data []byte) bool {
		return bytes.Contains(data, []byte(`"index/containing@0.1"`))
	}

	cases := []struct {
		name      string
		fs        bool // fs stores (spool and adopt), else memory (Put)
		packFail  func(int, multihash.Multihash) bool
		spoolFail func(int) bool
		idxFail   func(int, multihash.Multihash, []byte) bool
		left      int  // packs the error names
		indexing  bool // failed while indexing
		records   bool // some records may be written
	}{
		{name: "first pack put", packFail: nth(1)},
		{name: "third pack put", packFail: nth(3), left: 2},
		{name: "first pack adopt", fs: true, packFail: nth(1)},
		{name: "second pack adopt", fs: true, packFail: nth(2), left: 1},
		{name: "last pack adopt", fs: true, packFail: nth(3), left: 2},
		{name: "second spool write", fs: true, spoolFail: func(n int) bool { return n == 2 }, left: 1},
		{name: "blob record", idxFail: nthRecord(3), left: 3, indexing: true, records: true},
		{name: "blob record fs", fs: true, idxFail: nthRecord(2), left: 3, indexing: true, records: true},
		{name: "pack record", idxFail: packRecord, left: 3, indexing: true, records: true},
		{name: "containing record", idxFail: containingRecord, left: 3, indexing: true, records: true},
		{name: "containing record fs", fs: true, idxFail: containingRecord, left: 3, indexing: true, records: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			var basePacks store.PackStore = memory.NewPackStore()
			var baseIdx store.IndexStore = memory.NewIndexStore()
			if tc.fs {
				basePacks = fs.NewPackStore(filepath.Join(dir, "pack"), fs.WithSync(false))
				baseIdx = fs.NewIndexStore(filepath.Join(dir, "index"), fs.WithSync(false))
			}
			fp := &faultstore.Packs{PackStore: basePacks, Fail: tc.packFail, FailSpool: tc.spoolFail}
			fx := &faultstore.Index{IndexStore: baseIdx, Fail: tc.idxFail}
			packs := fp.Wrap()
			tmp := filepath.Join(dir, "tmp")
			if err := os.Mkdir(tmp, 0o755); err != nil {
				t.Fatal(err)
			}

			err := writeAndIndex(ctx, packs, fx, data, tmp)
			checkLeft(t, err, packs, packKeys, tc.left, tc.indexing)

			// Every record written names a stored pack; none before the
			// packs are all stored; the containing record is written last.
			recs, err := fx.Records()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.records && len(recs) > 0 {
				t.Errorf("%d index records written by a write that failed storing packs", len(recs))
			}
			missing, err := faultstore.Dangling(ctx, recs, packs)
			if err != nil {
				t.Fatal(err)
			}
			if len(missing) > 0 {
				t.Errorf("records name missing packs %v", missing)
			}
			for _, r := range recs {
				if r.Type == index.Containing {
					t.Errorf("containing record written by a failed write")
				}
			}
			if tc.name == "containing record" && len(recs) != leftBlocks+leftPacks {
				t.Errorf("%d records before the containing record, want every other one (%d)", len(recs), leftBlocks+leftPacks)
			}
			if tc.fs {
				checkNoTemp(t, filepath.Join(dir, "pack"))
			}
			checkNoTemp(t, tmp)

			// The same write again, without faults, completes the index.
			fp.Fail, fp.FailSpool, fx.Fail = nil, nil, nil
			if err := writeAndIndex(ctx, packs, fx, data, tmp); err != nil {
				t.Fatal(err)
			}
			r := index.NewReader(baseIdx)
			if found, err := r.Find(ctx, rootMH); err != nil || len(found) == 0 {
				t.Fatalf("root not found after a second write: %v", err)
			}
			recs, _ = fx.Records()
			var containing int
			for _, rec := range recs {
				if rec.Type == index.Containing {
					containing++
				}
			}
			if containing != 1 {
				t.Errorf("%d containing records after a second write, want 1", containing)
			}
			if missing, err := faultstore.Dangling(ctx, recs, packs); err != nil || len(missing) > 0 {
				t.Errorf("after a second write: missing packs %v (%v)", missing, err)
			}
		})
	}
}

// checkLeft checks the error of a failed write: it wraps the fault and,
// when the write stored packs, is a *LeftError naming each of them, all
// stored.
func checkLeft(t *testing.T, err error, packs store.PackStore, packKeys map[string]bool, left int, indexing bool) {
	t.Helper()
	ctx := context.Background()
	if err == nil {
		t.Error("no error")
		return
	}
	if !errors.Is(err, faultstore.ErrInjected) && !errors.Is(err, syscall.EBADF) {
		t.Errorf("error does not wrap the fault: %v", err)
	}
	var le *pack.LeftError
	if left == 0 {
		if errors.As(err, &le) {
			t.Errorf("nothing stored, but a LeftError: %v", err)
		}
	} else {
		if !errors.As(err, &le) {
			t.Fatalf("not a LeftError: %v", err)
		}
		if len(le.Packs) != left || le.Indexing != indexing {
			t.Errorf("LeftError names %d packs (indexing %v), want %d (%v): %v", len(le.Packs), le.Indexing, left, indexing, err)
		}
		want := "stored but not indexed"
		if indexing {
			want = "stored and partly indexed"
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
		for _, p := range le.Packs {
			key := store.Key(p.Multihash)
			if !strings.Contains(err.Error(), key) {
				t.Errorf("error does not name pack %s: %v", key, err)
			}
			if !packKeys[key] {
				t.Errorf("left pack %s is not one of the file's", key)
			}
			rc, err := packs.GetRange(ctx, store.Location{Multihash: p.Multihash}, 0, 1)
			if err != nil {
				t.Errorf("left pack %s is not stored: %v", key, err)
				continue
			}
			rc.Close()
		}
	}
}

// writeAndIndex is what hash-stream pack write does.
func writeAndIndex(ctx context.Context, packs store.PackStore, idx store.IndexStore, data []byte, tmp string) error {
	root, infos, err := pack.WriteFile(ctx, packs, bytes.NewReader(data), pack.WithMaxSize(leftPackSize), pack.WithTempDir(tmp))
	if err != nil {
		return err
	}
	writers := []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)}
	return pack.AddToIndex(ctx, writers, infos, root.Hash())
}

// An import whose pack Put fails leaves nothing; one whose indexing fails
// names its pack.
func TestFailedImport(t *testing.T) {
	ctx := context.Background()
	data := leftInput()
	var car bytes.Buffer
	{
		ps := memory.NewPackStore()
		root, infos, err := pack.WriteFile(ctx, ps, bytes.NewReader(data), pack.WithTempDir(t.TempDir()))
		if err != nil || len(infos) != 1 {
			t.Fatalf("%d packs, %v", len(infos), err)
		}
		rc, err := ps.GetRange(ctx, store.Location{Multihash: infos[0].Multihash}, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		car.ReadFrom(rc)
		rc.Close()
		_ = root
	}
	for _, tc := range []struct {
		name     string
		packFail bool
		left     bool
	}{{"pack put", true, false}, {"first record", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			base := memory.NewPackStore()
			fp := &faultstore.Packs{PackStore: base, Fail: func(int, multihash.Multihash) bool { return tc.packFail }}
			fx := &faultstore.Index{IndexStore: memory.NewIndexStore(), Fail: func(int, multihash.Multihash, []byte) bool { return !tc.packFail }}
			info, err := pack.Import(ctx, fp, bytes.NewReader(car.Bytes()))
			if err == nil {
				err = pack.AddToIndex(ctx, []index.Writer{index.NewSingleLevelWriter(fx), index.NewMultipleLevelWriter(fx)}, []pack.Info{info}, info.Roots[0].Hash())
			}
			var le *pack.LeftError
			if errors.As(err, &le) != tc.left || !errors.Is(err, faultstore.ErrInjected) {
				t.Fatalf("LeftError %v, want %v: %v", le != nil, tc.left, err)
			}
			if tc.left && (len(le.Packs) != 1 || !strings.Contains(err.Error(), "pack "+store.Key(info.Multihash)+" stored and partly indexed")) {
				t.Errorf("error: %v", err)
			}
			recs, _ := fx.Records()
			if missing, err := faultstore.Dangling(ctx, recs, base); err != nil || len(missing) > 0 {
				t.Errorf("missing packs %v (%v)", missing, err)
			}
		})
	}
}

// A Writer removes the spool files that killed writers left in its
// temporary folder (unlocked), and leaves a live writer's (locked) alone.
func TestWriterRemovesStaleSpools(t *testing.T) {
	tmp := t.TempDir()
	stale := filepath.Join(tmp, "hash-stream-pack-123456")
	if err := os.WriteFile(stale, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	live, err := tempfile.Create(tmp, "hash-stream-pack-*")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	other := filepath.Join(tmp, "something-else")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pack.WriteFile(context.Background(), memory.NewPackStore(), bytes.NewReader([]byte("hello")), pack.WithTempDir(tmp)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(tmp)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{filepath.Base(live.Name()), "something-else"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("temporary folder holds %v, want %v", names, want)
	}
}

// checkNoTemp fails the test if dir holds a temporary file of a writer.
func checkNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") || strings.HasPrefix(e.Name(), "hash-stream-pack-") {
			t.Errorf("%s left in %s", e.Name(), dir)
		}
	}
}
