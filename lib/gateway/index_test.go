package gateway_test

// The index side of the read path: a large CONTAINING record is read and
// decoded once, one bad index file does not make a CID unavailable, and
// identity CIDs are never looked up.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/multiformats/go-multihash"
)

// indexReads counts the index files read, by multihash key.
type indexReads struct {
	store.IndexStore
	calls atomic.Int64
	files atomic.Int64
}

func (c *indexReads) Files(ctx context.Context, mh multihash.Multihash) ([]store.IndexFile, error) {
	c.calls.Add(1)
	files, err := c.IndexStore.Files(ctx, mh)
	c.files.Add(int64(len(files)))
	return files, err
}

// wideDAG stores a UnixFS file of n leaves of 64 bytes in one pack,
// indexed by one CONTAINING record only (the JavaScript CLI's default), and
// returns its root and its number of blocks.
func wideDAG(tb testing.TB, n int, idx store.IndexStore, packs store.PackStore) (cid.Cid, int) {
	tb.Helper()
	ctx := context.Background()
	var sections bytes.Buffer
	blocks := 0
	root, _, err := unixfs.BuildFile(testutil.HashStreamReader("wide dag ", int64(n)*64), func(b unixfs.Block) error {
		blocks++
		return dag.WriteSection(&sections, b.CID, b.Data)
	}, unixfs.WithChunkSize(64))
	if err != nil {
		tb.Fatal(err)
	}
	header, err := dag.CARHeader(root)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := pack.Import(ctx, packs, bytes.NewReader(append(header, sections.Bytes()...)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := index.NewMultipleLevelWriter(idx).Add(ctx, info.Blobs, root.Hash()); err != nil {
		tb.Fatal(err)
	}
	return root, blocks
}

// getCAR fetches the CAR of root and returns its blocks' count.
func getCAR(tb testing.TB, url string) (int, int) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, 0
	}
	_, blocks := testutil.MustReadCAR(tb, resp.Body)
	return resp.StatusCode, len(blocks)
}

// The CONTAINING record of a DAG is read once for a cold CAR request
// (the root block and every child found in it), never again while cached,
// and children asked for alone (block by block) are found in it too.
func TestContainingRecordReadOnce(t *testing.T) {
	idx := &indexReads{IndexStore: memory.NewIndexStore()}
	packs := &countingPacks{PackStore: memory.NewPackStore()}
	root, blocks := wideDAG(t, 3000, idx.IndexStore, packs)
	srv := httptest.NewServer(gateway.New(streamer.New(index.NewReader(idx), packs)))
	defer srv.Close()
	url := srv.URL + "/ipfs/" + root.String() + "?format=car"
	if status, n := getCAR(t, url); status != 200 || n != blocks {
		t.Fatalf("cold: status %d, %d blocks, want 200 and %d", status, n, blocks)
	}
	if calls, files := idx.calls.Load(), idx.files.Load(); calls != 1 || files != 1 {
		t.Errorf("cold CAR: %d index lookups reading %d files, want the root's one file once", calls, files)
	}
	if status, n := getCAR(t, url); status != 200 || n != blocks {
		t.Fatalf("warm: status %d, %d blocks", status, n)
	}
	if calls := idx.calls.Load(); calls != 1 {
		t.Errorf("warm CAR: %d index lookups in all, want none after the first", calls)
	}
	// A leaf on its own, as block-by-block clients ask: found in the
	// root's cached set, no lookup of its own.
	st := streamer.New(index.NewReader(idx), packs)
	data, err := st.Block(context.Background(), root.Hash(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	links, err := dag.Links(root, data)
	if err != nil || len(links) == 0 {
		t.Fatal(links, err)
	}
	before := idx.calls.Load()
	if _, err := st.Block(context.Background(), links[len(links)-1].Hash(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := idx.calls.Load() - before; got != 0 {
		t.Errorf("a child after its root: %d index lookups, want 0", got)
	}
}

// BenchmarkContainingCAR serves the CAR of a UnixFS file of 300,000 leaves
// (HASH_STREAM_BLOBS to change) whose only index is one CONTAINING record
// (64 MB): the first request reads and decodes it, the others stream from
// the cached Set. It reports the first request's time and each later one's
// blocks a second.
func BenchmarkContainingCAR(b *testing.B) {
	n := 300_000
	if v := os.Getenv("HASH_STREAM_BLOBS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	idx := &indexReads{IndexStore: memory.NewIndexStore()}
	packs := memory.NewPackStore()
	root, blocks := wideDAG(b, n, idx.IndexStore, packs)
	files, err := idx.IndexStore.Files(context.Background(), root.Hash())
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(gateway.New(streamer.New(index.NewReader(idx), packs)))
	defer srv.Close()
	url := srv.URL + "/ipfs/" + root.String() + "?format=car"
	start := time.Now()
	if status, got := getCAR(b, url); status != 200 || got != blocks {
		b.Fatalf("status %d, %d blocks, want %d", status, got, blocks)
	}
	first := time.Since(start)
	b.ResetTimer()
	for b.Loop() {
		if status, got := getCAR(b, url); status != 200 || got != blocks {
			b.Fatalf("status %d, %d blocks, want %d", status, got, blocks)
		}
	}
	b.ReportMetric(float64(len(files[0].Data))/1e6, "index-MB")
	b.ReportMetric(first.Seconds(), "first-s")
	b.ReportMetric(float64(blocks)*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
	b.ReportMetric(float64(idx.calls.Load()), "index-lookups")
}

// indexFixture imports the UnixFS directory fixture into an fs store with
// both writers and returns the store folder, its root and one file's CID.
func indexFixture(t *testing.T) (dir string, root cid.Cid) {
	t.Helper()
	dir = t.TempDir()
	ctx := context.Background()
	idx, packs := fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack"))
	f, err := os.Open(filepath.Join(testutil.RepoRoot(), "testdata", "cars", "subdir-with-mixed-block-files.car"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := pack.Import(ctx, packs, f)
	if err != nil {
		t.Fatal(err)
	}
	root = info.Roots[0]
	writers := []index.Writer{index.NewMultipleLevelWriter(idx), index.NewSingleLevelWriter(idx)}
	if err := pack.AddToIndex(ctx, writers, []pack.Info{info}, root.Hash()); err != nil {
		t.Fatal(err)
	}
	return dir, root
}

// One bad index file beside a good one is skipped with a warning; with no
// good one the CID answers 502 and the log names the file. Not-found stays
// 404.
func TestBadIndexFile(t *testing.T) {
	good := func(t *testing.T, folder string) []byte {
		files, _ := filepath.Glob(filepath.Join(folder, "*"))
		if len(files) != 2 {
			t.Fatalf("%d index files for the root, want 2", len(files))
		}
		data, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct {
		name     string
		bad      func(good []byte) []byte
		onlyBad  bool
		maxFile  int64
		status   int
		wantLogs []string
	}{
		{name: "garbage beside good", bad: func([]byte) []byte { return []byte("\x00\xffgarbage") }, status: 200,
			wantLogs: []string{"index file skipped", "invalid record"}},
		{name: "truncated beside good", bad: func(g []byte) []byte { return g[:len(g)/2] }, status: 200,
			wantLogs: []string{"index file skipped", "invalid record"}},
		{name: "oversized beside good", bad: func(g []byte) []byte { return bytes.Repeat([]byte(" "), 100_000) }, maxFile: 50_000, status: 200,
			wantLogs: []string{"index file skipped", "100000 bytes, over the 50000-byte cap"}},
		{name: "only garbage", bad: func([]byte) []byte { return []byte("{broken") }, onlyBad: true, status: 502,
			wantLogs: []string{"no usable index file", "invalid record"}},
		{name: "only oversized", bad: func(g []byte) []byte { return bytes.Repeat([]byte(" "), 100_000) }, onlyBad: true, maxFile: 50_000, status: 502,
			wantLogs: []string{"no usable index file", "100000 bytes, over the 50000-byte cap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, root := indexFixture(t)
			folder := filepath.Join(dir, "index", store.Key(root.Hash()))
			data := good(t, folder)
			if tc.onlyBad {
				files, _ := filepath.Glob(filepath.Join(folder, "*"))
				for _, f := range files {
					if err := os.Remove(f); err != nil {
						t.Fatal(err)
					}
				}
			}
			const badName = "9999999999999" // sorts after the good files
			if err := os.WriteFile(filepath.Join(folder, badName), tc.bad(data), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs testutil.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			idx := fs.NewIndexStore(filepath.Join(dir, "index"), fs.WithMaxIndexFileBytes(tc.maxFile))
			s := streamer.New(index.NewReader(idx, index.WithLogger(log)), fs.NewPackStore(filepath.Join(dir, "pack")), streamer.WithLogger(log))
			srv := httptest.NewServer(gateway.New(s, gateway.WithLogger(log)))
			defer srv.Close()
			for _, format := range []string{"car", "raw"} {
				resp, err := http.Get(srv.URL + "/ipfs/" + root.String() + "?format=" + format)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Errorf("format=%s: status %d, want %d", format, resp.StatusCode, tc.status)
				}
			}
			l := logs.String()
			for _, want := range append(tc.wantLogs, badName) {
				if !strings.Contains(l, want) {
					t.Errorf("log does not say %q:\n%s", want, l)
				}
			}
			// A CID with no index file at all is still a 404.
			missingMH, _ := multihash.Sum([]byte("not stored"), multihash.SHA2_256, -1)
			missing := cid.NewCidV1(cid.Raw, missingMH)
			if resp, err := http.Get(srv.URL + "/ipfs/" + missing.String() + "?format=raw"); err != nil || resp.StatusCode != 404 {
				t.Errorf("missing CID: %v %v", resp.StatusCode, err)
			} else {
				resp.Body.Close()
			}
		})
	}
}

// An identity CID is never looked up in the index, as the block or as the
// containing CID of its DAG: a dag-pb identity root linking to a stored
// leaf is served whole as a CAR, the leaf found by its own record.
func TestIdentityRoot(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	idx, packs := fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack"))
	leafData := []byte("a leaf stored in a pack")
	leafMH, err := multihash.Sum(leafData, multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cid.NewCidV1(cid.Raw, leafMH)
	header, err := dag.CARHeader(leaf)
	if err != nil {
		t.Fatal(err)
	}
	car := bytes.NewBuffer(header)
	if err := dag.WriteSection(car, leaf, leafData); err != nil {
		t.Fatal(err)
	}
	info, err := pack.Import(ctx, packs, bytes.NewReader(car.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := index.NewSingleLevelWriter(idx).Add(ctx, info.Blobs, nil); err != nil {
		t.Fatal(err)
	}
	node, err := qp.BuildMap(dagpb.Type.PBNode, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "Links", qp.List(1, func(la datamodel.ListAssembler) {
			qp.ListEntry(la, qp.Map(-1, func(ma datamodel.MapAssembler) {
				qp.MapEntry(ma, "Hash", qp.Link(cidlink.Link{Cid: leaf}))
				// A long name makes the CID's key too long for a file
				// name, as an index key.
				qp.MapEntry(ma, "Name", qp.String(strings.Repeat("n", 200)))
			}))
		}))
	})
	if err != nil {
		t.Fatal(err)
	}
	var pb bytes.Buffer
	if err := dagpb.Encode(node, &pb); err != nil {
		t.Fatal(err)
	}
	idMH, err := multihash.Sum(pb.Bytes(), multihash.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	root := cid.NewCidV1(cid.DagProtobuf, idMH)
	reads := &indexReads{IndexStore: idx}
	srv := httptest.NewServer(gateway.New(streamer.New(index.NewReader(reads), packs)))
	defer srv.Close()
	// The identity root is the CAR's root but never a block of it.
	if status, n := getCAR(t, srv.URL+"/ipfs/"+root.String()+"?format=car"); status != 200 || n != 1 {
		t.Errorf("identity root as a CAR: status %d, %d blocks, want 200 and 1 (the leaf)", status, n)
	}
	if got := reads.calls.Load(); got != 1 {
		t.Errorf("%d index lookups, want 1 (the leaf's)", got)
	}
	resp, err := http.Get(srv.URL + "/ipfs/" + root.String() + "?format=raw")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, pb.Bytes()) {
		t.Errorf("identity root raw: status %d", resp.StatusCode)
	}
}
