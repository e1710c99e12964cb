package ingest_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/ingest"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

const bucket = "packs"

// source is a bucket in memory with ETags (the MD5 of the bytes, as S3
// gives a single-part upload), counting copies, and able to fail a call.
type source struct {
	mu      sync.Mutex
	objects map[string][]byte
	copies  int
	fail    func(op, key string) error // nil, or an injected failure
	// beforeCopy, when set, runs before a copy (to replace the object).
	beforeCopy func()
}

var errInjected = errors.New("injected failure")

func newSource() *source { return &source{objects: map[string][]byte{}} }

func etagOf(b []byte) string { s := md5.Sum(b); return `"` + hex.EncodeToString(s[:]) + `"` }

func (s *source) Bucket() string { return bucket }

// failOn returns a source.fail that fails every call of op with
// errInjected.
func failOn(op string) func(op, key string) error {
	return func(o, _ string) error {
		if o == op {
			return errInjected
		}
		return nil
	}
}

func (s *source) failing(op, key string) error {
	if s.fail != nil {
		return s.fail(op, key)
	}
	return nil
}

func (s *source) put(key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key] = bytes.Clone(data)
}

func (s *source) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[key]
	return ok
}

func (s *source) Get(ctx context.Context, key string) (io.ReadCloser, int64, string, error) {
	if err := s.failing("get", key); err != nil {
		return nil, 0, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[key]
	if !ok {
		return nil, 0, "", fmt.Errorf("get %s: %w", key, store.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), etagOf(b), nil
}

// read returns the bytes of key if its ETag is etag.
func (s *source) read(key, etag string) ([]byte, error) {
	if s.beforeCopy != nil {
		s.beforeCopy()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[key]
	if !ok || etagOf(b) != etag {
		return nil, fmt.Errorf("copy %s: %w", key, store.ErrChanged)
	}
	s.copies++
	return b, nil
}

func (s *source) Copy(ctx context.Context, src, etag string, size int64, dst string) error {
	if err := s.failing("copy", src); err != nil {
		return err
	}
	b, err := s.read(src, etag)
	if err != nil {
		return err
	}
	s.put(dst, b)
	return nil
}

func (s *source) Delete(ctx context.Context, key, etag string) error {
	if err := s.failing("delete", key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[key]
	if !ok {
		return nil
	}
	if etagOf(b) != etag {
		return fmt.Errorf("delete %s: %w", key, store.ErrChanged)
	}
	delete(s.objects, key)
	return nil
}

// packs is a memory pack store with Size and CopyFrom the source.
type packs struct {
	*memory.PackStore
	src *source
}

func (p *packs) Stat(ctx context.Context, mh multihash.Multihash) (int64, error) {
	rc, err := p.GetRange(ctx, store.Location{Multihash: mh}, 0, -1)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}

func (p *packs) CopyFrom(ctx context.Context, srcBucket, srcKey, etag string, size int64, mh multihash.Multihash) error {
	if err := p.src.failing("copyfrom", srcKey); err != nil {
		return err
	}
	if srcBucket != bucket {
		return fmt.Errorf("bucket %s", srcBucket)
	}
	b, err := p.src.read(srcKey, etag)
	if err != nil {
		return err
	}
	return p.Put(ctx, mh, bytes.NewReader(b), size)
}

type rig struct {
	src   *source
	packs *packs
	idx   *memory.IndexStore
	x     *ingest.Indexer
	log   *testutil.Buffer
}

func newRig(t *testing.T, opts ...ingest.Option) *rig {
	t.Helper()
	r := &rig{src: newSource(), idx: memory.NewIndexStore(), log: &testutil.Buffer{}}
	r.packs = &packs{PackStore: memory.NewPackStore(), src: r.src}
	x, err := ingest.New(r.src, r.packs, r.idx, append([]ingest.Option{ingest.WithLogger(slog.New(slog.NewJSONHandler(r.log, nil)))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	r.x = x
	return r
}

// testCAR returns a pack made by the pack writer from size random bytes:
// a CARv1 with one root, several blocks.
func testCAR(t *testing.T, size int) (car []byte, root cid.Cid, info pack.Info) {
	t.Helper()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	ps := memory.NewPackStore()
	root, infos, err := pack.WriteFile(context.Background(), ps, bytes.NewReader(data), pack.WithTempDir(t.TempDir()))
	if err != nil || len(infos) != 1 {
		t.Fatalf("%d packs, %v", len(infos), err)
	}
	rc, err := ps.GetRange(context.Background(), store.Location{Multihash: infos[0].Multihash}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	car, err = io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return car, root, infos[0]
}

// indexFiles counts the index files stored under the blocks, the pack and
// the root of info.
func indexFiles(t *testing.T, idx store.IndexStore, info pack.Info) int {
	t.Helper()
	mhs := []multihash.Multihash{info.Multihash}
	for _, b := range info.Blobs {
		mhs = append(mhs, b.Multihash)
	}
	n := 0
	for _, mh := range mhs {
		files, err := idx.Files(context.Background(), mh)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		n += len(files)
	}
	return n
}

// objects returns the objects of bucketName at keys.
func objects(bucketName string, keys ...string) []ingest.Object {
	var objs []ingest.Object
	for _, k := range keys {
		objs = append(objs, ingest.Object{Bucket: bucketName, Key: k})
	}
	return objs
}

// A good CAR is stored as its pack, indexed with both writers (every
// block found by its own multihash and under the root) and its ingest
// object deleted; the same event again is harmless; the same CAR under
// another key is indexed without a copy and without new index files.
func TestIngest(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	car, root, info := testCAR(t, 3<<20+5)
	r.src.put("ingest/my car+1.car", car)

	// The key as the function decodes it from the event's
	// "ingest/my+car%2B1.car" (functions/indexer TestObjectsDecodesKeys).
	if err := r.x.Handle(ctx, objects(bucket, "ingest/my car+1.car")...); err != nil {
		t.Fatal(err)
	}
	if r.src.has("ingest/my car+1.car") {
		t.Error("ingest object not deleted")
	}
	if n, err := r.packs.Stat(ctx, info.Multihash); err != nil || n != int64(len(car)) {
		t.Fatalf("pack: %d bytes, %v", n, err)
	}
	reader := index.NewReader(r.idx, index.WithCache(nil))
	for _, b := range info.Blobs {
		recs, err := reader.Find(ctx, b.Multihash)
		if err != nil {
			t.Fatalf("block %s: %v", store.Key(b.Multihash), err)
		}
		found := false
		for _, rec := range recs {
			found = found || (rec.Type == index.Blob && bytes.Equal(rec.Location.Multihash, info.Multihash) && rec.Offset == b.Offset && rec.Length == b.Length)
		}
		if !found {
			t.Errorf("block %s: no BLOB record at %d+%d: %+v", store.Key(b.Multihash), b.Offset, b.Length, recs)
		}
	}
	recs, err := reader.Find(ctx, root.Hash())
	if err != nil {
		t.Fatal(err)
	}
	hasContaining := false
	for _, rec := range recs {
		hasContaining = hasContaining || rec.Type == index.Containing
	}
	if !hasContaining {
		t.Errorf("no CONTAINING record for the root: %+v", recs)
	}
	files := indexFiles(t, r.idx, info)
	// One BLOB file per block, one PACK file, one CONTAINING file.
	if want := len(info.Blobs) + 2; files != want {
		t.Fatalf("%d index files, want %d", files, want)
	}
	if !strings.Contains(r.log.String(), `"msg":"CAR indexed"`) || !strings.Contains(r.log.String(), `"records_written":`+fmt.Sprint(files)) {
		t.Errorf("log: %s", r.log)
	}

	t.Run("same event again", func(t *testing.T) {
		res, err := r.x.Ingest(ctx, "ingest/my car+1.car")
		if err != nil || res.Outcome != ingest.Gone {
			t.Fatalf("%+v, %v", res, err)
		}
		if n := indexFiles(t, r.idx, info); n != files {
			t.Fatalf("%d index files, was %d", n, files)
		}
	})
	t.Run("same CAR, another key", func(t *testing.T) {
		copies := r.src.copies
		r.src.put("ingest/again.car", car)
		res, err := r.x.Ingest(ctx, "ingest/again.car")
		if err != nil || res.Outcome != ingest.Indexed || !res.SkippedCopy || res.RecordsWritten != 1 {
			// 1: the CONTAINING file, which replaces itself.
			t.Fatalf("%+v, %v", res, err)
		}
		if r.src.copies != copies {
			t.Errorf("%d copies, want none", r.src.copies-copies)
		}
		if n := indexFiles(t, r.idx, info); n != files {
			t.Fatalf("%d index files, was %d", n, files)
		}
		if r.src.has("ingest/again.car") {
			t.Error("ingest object not deleted")
		}
	})
}

// A failure at any step is an error and leaves the ingest object in
// place; the retry completes the job without duplicate index files.
func TestIngestRetry(t *testing.T) {
	ctx := context.Background()
	car, _, info := testCAR(t, 2<<20)
	fresh := newRig(t)
	fresh.src.put("ingest/a.car", car)
	if _, err := fresh.x.Ingest(ctx, "ingest/a.car"); err != nil {
		t.Fatal(err)
	}
	want := indexFiles(t, fresh.idx, info)

	for _, op := range []string{"get", "copyfrom", "put index", "delete"} {
		t.Run(op, func(t *testing.T) {
			r := newRig(t)
			r.src.put("ingest/a.car", car)
			puts := 0
			r.src.fail = failOn(op)
			x := r.x
			if op == "put index" {
				// Fail the third index write: a partial index.
				r.src.fail = nil
				idx := &failingIndex{IndexStore: r.idx, fail: func() bool { puts++; return puts == 3 }}
				var err error
				x, err = ingest.New(r.src, r.packs, idx)
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := x.Handle(ctx, objects(bucket, "ingest/a.car")...); !errors.Is(err, errInjected) {
				t.Fatalf("got %v, want the injected failure", err)
			}
			if !r.src.has("ingest/a.car") {
				t.Fatal("ingest object deleted after a failure")
			}
			r.src.fail = nil
			res, err := r.x.Ingest(ctx, "ingest/a.car")
			if err != nil || res.Outcome != ingest.Indexed {
				t.Fatalf("retry: %+v, %v", res, err)
			}
			if n := indexFiles(t, r.idx, info); n != want {
				t.Errorf("%d index files after the retry, want %d", n, want)
			}
			if r.src.has("ingest/a.car") {
				t.Error("ingest object not deleted by the retry")
			}
		})
	}
}

type failingIndex struct {
	store.IndexStore
	mu   sync.Mutex
	fail func() bool
}

func (f *failingIndex) Put(ctx context.Context, mh, sub multihash.Multihash, data []byte) error {
	f.mu.Lock()
	fail := f.fail()
	f.mu.Unlock()
	if fail {
		return errInjected
	}
	return f.IndexStore.Put(ctx, mh, sub, data)
}

// A CAR with a flipped byte in a block is moved to the rejected prefix,
// nothing is stored or indexed, the log names the block; no error.
func TestIngestRejects(t *testing.T) {
	ctx := context.Background()
	car, _, info := testCAR(t, 2<<20)
	bad := bytes.Clone(car)
	blob := info.Blobs[1]
	bad[blob.Offset+blob.Length/2] ^= 0x40
	blockCID := cid.NewCidV1(cid.Raw, blob.Multihash) // the leaves are raw

	r := newRig(t)
	r.src.put("ingest/sub/bad.car", bad)
	if err := r.x.Handle(ctx, objects(bucket, "ingest/sub/bad.car")...); err != nil {
		t.Fatal(err)
	}
	if r.src.has("ingest/sub/bad.car") || !r.src.has("rejected/sub/bad.car") {
		t.Fatalf("not moved: objects %v", r.src.objects)
	}
	if indexFiles(t, r.idx, info) != 0 {
		t.Error("index files written for a rejected CAR")
	}
	badInfo, _ := pack.Scan(bytes.NewReader(car)) // the pack of the good bytes
	if _, err := r.packs.Stat(ctx, badInfo.Multihash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pack stored: %v", err)
	}
	log := r.log.String()
	for _, want := range []string{`"level":"ERROR"`, `"msg":"CAR rejected"`, `"key":"ingest/sub/bad.car"`, `"block":1,`, `"block_cid":"` + blockCID.String() + `"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s: %s", want, log)
		}
	}

	// A move that fails is an error: the CAR stays for the retry.
	r.src.put("ingest/bad2.car", bad)
	r.src.fail = failOn("copy")
	if _, err := r.x.Ingest(ctx, "ingest/bad2.car"); !errors.Is(err, errInjected) {
		t.Fatalf("got %v", err)
	}
	if !r.src.has("ingest/bad2.car") {
		t.Fatal("CAR gone after a failed move")
	}
}

// An object replaced between the read and the copy is neither stored
// under the multihash of the bytes read nor deleted.
func TestIngestReplaced(t *testing.T) {
	ctx := context.Background()
	car, _, info := testCAR(t, 1<<20)
	r := newRig(t)
	r.src.put("ingest/a.car", car)
	r.src.beforeCopy = func() { r.src.put("ingest/a.car", []byte("something else")) }
	res, err := r.x.Ingest(ctx, "ingest/a.car")
	if err != nil || res.Outcome != ingest.Replaced {
		t.Fatalf("%+v, %v", res, err)
	}
	if _, err := r.packs.Stat(ctx, info.Multihash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pack stored: %v", err)
	}
	if !r.src.has("ingest/a.car") || indexFiles(t, r.idx, info) != 0 {
		t.Error("replaced object deleted, or indexed")
	}
}

// Objects of another bucket or outside the ingest prefix are ignored with
// a warning, a folder placeholder with an Info line, and touch nothing.
// (The records the function cannot translate, of another event type or
// with a bad key, are functions/indexer TestHandlerIgnores.)
func TestIngestIgnores(t *testing.T) {
	ctx := context.Background()
	car, _, _ := testCAR(t, 1<<20)
	r := newRig(t)
	r.src.put("other/a.car", car)
	r.src.put("ingest/a.car", car)
	objs := append(objects(bucket, "other/a.car", "ingest/"), objects("another-bucket", "ingest/a.car")...)
	if err := r.x.Handle(ctx, objs...); err != nil {
		t.Fatal(err)
	}
	if !r.src.has("other/a.car") || !r.src.has("ingest/a.car") || r.src.copies != 0 {
		t.Fatal("an ignored object was processed")
	}
	if n := strings.Count(r.log.String(), `"msg":"event record ignored"`); n != 3 {
		t.Errorf("%d ignored lines, want 3: %s", n, r.log)
	}
	if n := strings.Count(r.log.String(), `"level":"WARN"`); n != 2 {
		t.Errorf("%d warnings, want 2 (the folder placeholder is Info)", n)
	}
}

// New refuses prefixes that would loop or take packs, and unknown or
// useless writers.
func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []ingest.Option
		msg  string
	}{
		{"empty ingest", []ingest.Option{ingest.WithIngestPrefix("")}, "ingest prefix is empty"},
		{"empty rejected", []ingest.Option{ingest.WithRejectedPrefix("")}, "rejected prefix is empty"},
		{"same", []ingest.Option{ingest.WithRejectedPrefix("ingest/")}, "overlap"},
		{"nested", []ingest.Option{ingest.WithRejectedPrefix("ingest/rejected/")}, "overlap"},
		{"pack keys under ingest", []ingest.Option{ingest.WithIngestPrefix("packs/"), ingest.WithPackPrefix("packs/bafk")}, "overlaps the pack keys"},
		{"ingest under pack keys", []ingest.Option{ingest.WithIngestPrefix("b")}, "overlaps the pack keys"},
		{"writer", []ingest.Option{ingest.WithWriters("bogus")}, `unknown index writer "bogus"`},
		{"no writer", []ingest.Option{ingest.WithWriters("none")}, "never found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ingest.New(newSource(), &packs{}, memory.NewIndexStore(), tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %q", err, tc.msg)
			}
		})
	}
	// The defaults with packs at the bucket's root, or under a prefix.
	for _, p := range []string{"", "packs/"} {
		if _, err := ingest.New(newSource(), &packs{}, memory.NewIndexStore(), ingest.WithPackPrefix(p)); err != nil {
			t.Errorf("pack prefix %q: %v", p, err)
		}
	}
}
