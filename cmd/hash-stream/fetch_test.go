package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data/builder"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/multiformats/go-multihash"
)

// fetchFixture is a store served by `hash-stream serve` in-process, with
// the files the fetch tests ask for.
type fetchFixture struct {
	dir     string // the store
	gateway string // http://127.0.0.1:port
	files   map[string]fetchFile
	hamt    string // root of a HAMT directory, in hamt.car in the fixture's sources
	src     string // the fixture's sources
}

type fetchFile struct {
	root    string
	content []byte
}

var containingCID = regexp.MustCompile(`Containing CID:\s+(\S+)`)

func newFetchFixture(t *testing.T, ctx context.Context) *fetchFixture {
	t.Helper()
	fx := &fetchFixture{dir: t.TempDir(), files: map[string]fetchFile{}}
	src := t.TempDir()
	fx.src = src
	// Files written by pack write (1 MiB raw leaves, one level).
	originals := filepath.Join(testutil.Shared(t), "interop", "originals")
	for _, name := range []string{"empty", "hello.txt", "random-3m.bin"} {
		file := filepath.Join(originals, name)
		if name == "empty" {
			file = filepath.Join(src, name)
			if err := os.WriteFile(file, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		content, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, fx.dir, "pack", "write", file, "--fsync=false")
		m := containingCID.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("pack write %s: %d %s %s", name, code, out, errOut)
		}
		fx.files[name] = fetchFile{m[1], content}
	}
	// A file of two levels: 2100 leaves of 1000 bytes under three inner
	// nodes (width 1024), imported as a CAR.
	deep := make([]byte, 2_100_000)
	rand.Read(deep)
	var car bytes.Buffer
	var blocks []unixfs.Block
	root, _, err := unixfs.BuildFile(bytes.NewReader(deep), func(b unixfs.Block) error {
		blocks = append(blocks, unixfs.Block{CID: b.CID, Data: bytes.Clone(b.Data)})
		return nil
	}, unixfs.WithChunkSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	header, err := dag.CARHeader(root)
	if err != nil {
		t.Fatal(err)
	}
	car.Write(header)
	for _, b := range blocks {
		if err := dag.WriteSection(&car, b.CID, b.Data); err != nil {
			t.Fatal(err)
		}
	}
	if len(blocks) < 2100+3+1 {
		t.Fatalf("deep file: %d blocks, want leaves, 3 inner nodes and a root", len(blocks))
	}
	deepCAR := filepath.Join(src, "deep.car")
	if err := os.WriteFile(deepCAR, car.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fx.files["deep"] = fetchFile{root.String(), deep}
	hamtCAR, hamtRoot := buildHAMT(t, src)
	fx.hamt = hamtRoot
	// The deep file is found through its root (multiple-level: one index
	// file, not 2104); a directory with dag-cbor nodes, from the
	// conformance fixtures, block by block too.
	for car, iw := range map[string]string{
		deepCAR: "multiple-level",
		filepath.Join(testutil.Shared(t), "conformance", "dir-with-dag-cbor-with-links.car"): "all",
		hamtCAR: "all",
		filepath.Join(testutil.Shared(t), "conformance", "subdir-with-mixed-block-files.car"):      "all",
		filepath.Join(testutil.Shared(t), "conformance", "file-3k-and-3-blocks-missing-block.car"): "all",
	} {
		if code, out, errOut := runCLI(t, fx.dir, "pack", "import", car, "--fsync=false", "-iw", iw); code != 0 {
			t.Fatalf("pack import %s: %s %s", car, out, errOut)
		}
	}
	addr, _ := startGateway(t, ctx, fx.dir)
	fx.gateway = "http://" + addr
	return fx
}

// fetch runs hash-stream fetch and returns its exit code and stderr.
func (fx *fetchFixture) fetch(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, _, errOut := runCLI(t, fx.dir, append([]string{"fetch"}, args...)...)
	return code, errOut
}

// proxy is a gateway in front of another that records the URLs asked
// and can break slice responses.
type proxy struct {
	*httptest.Server
	mu    sync.Mutex
	urls  []string
	auth  []string     // Authorization headers received
	fault atomic.Value // string: "", "corrupt", "cut", "404"
	hits  atomic.Int64 // faulty answers given
}

func newProxy(t *testing.T, upstream, fault string) *proxy {
	p := &proxy{}
	p.fault.Store(fault)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.urls = append(p.urls, r.URL.RequestURI())
		p.auth = append(p.auth, r.Header.Get("Authorization"))
		p.mu.Unlock()
		fault := p.fault.Load().(string)
		slice := strings.Contains(r.URL.RawQuery, "entity-bytes=")
		if fault == "404" {
			p.hits.Add(1)
			http.Error(w, "not here", http.StatusNotFound)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, upstream+r.URL.RequestURI(), nil)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		if slice && resp.StatusCode == http.StatusOK {
			switch fault {
			case "corrupt": // the last byte is inside the last block's data
				body[len(body)-1] ^= 0x01
				p.hits.Add(1)
			case "cut": // a clean end (chunked), half way
				body = body[:len(body)/2]
				p.hits.Add(1)
			}
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) sliceURLs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, u := range p.urls {
		if strings.Contains(u, "entity-bytes=") {
			out = append(out, u)
		}
	}
	return out
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, differs from the original (%d bytes)", filepath.Base(path), len(got), len(want))
	}
}

// onlyOutput fails if dir holds anything but the names given (a left
// temporary file).
func onlyOutput(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

// Files of every shape come back byte for byte: empty, one block, many
// one-level leaves in several slices, and a two-level file of 2100 leaves
// in slices whose edges cut leaves.
func testFetchFiles(t *testing.T, fx *fetchFixture) {
	out := t.TempDir()
	for _, tt := range []struct {
		name  string
		slice string
	}{
		{"empty", "4194304"},
		{"hello.txt", "4194304"},
		{"random-3m.bin", "4194304"}, // one slice
		{"random-3m.bin", "1572864"}, // slices at leaf starts
		{"deep", "65536"},            // many slices inside inner nodes
		{"deep", "4194304"},          // one slice of a two-level file
	} {
		t.Run(tt.name+"/"+tt.slice, func(t *testing.T) {
			f := fx.files[tt.name]
			dst := filepath.Join(out, tt.name+"."+tt.slice)
			if code, errOut := fx.fetch(t, f.root, "--gateway", fx.gateway, "-o", dst, "--slice-size", tt.slice, "-p", "4"); code != 0 {
				t.Fatalf("fetch: %d %s", code, errOut)
			}
			checkFile(t, dst, f.content)
		})
	}
	onlyOutput(t, out, "empty.4194304", "hello.txt.4194304", "random-3m.bin.4194304", "random-3m.bin.1572864", "deep.65536", "deep.4194304")
}

// The same file gives the same slice URLs, each starting at a leaf, and a
// slice never asks for a leaf another slice asks for.
func testFetchDeterministicSlices(t *testing.T, fx *fetchFixture) {
	f := fx.files["random-3m.bin"]
	var runs [][]string
	for i := range 2 {
		p := newProxy(t, fx.gateway, "")
		dst := filepath.Join(t.TempDir(), "out")
		if code, errOut := fx.fetch(t, f.root, "--gateway", p.URL, "-o", dst, "--slice-size", "1000000", "-p", "3"); code != 0 {
			t.Fatalf("fetch %d: %s", i, errOut)
		}
		checkFile(t, dst, f.content)
		urls := p.sliceURLs()
		slices.Sort(urls)
		runs = append(runs, urls)
	}
	if !slices.Equal(runs[0], runs[1]) {
		t.Errorf("two fetches asked different slices:\n%v\n%v", runs[0], runs[1])
	}
	// The multiples of 1000000 (2e6, 3e6) fall in leaves 1 and 2 (of 1
	// MiB; the file has 4): moved back to their starts, the last slice
	// holds leaves 2 and 3.
	if len(f.content) != 3158073 {
		t.Fatalf("random-3m.bin is %d bytes, the slices below assume 3158073", len(f.content))
	}
	var want []string
	for _, r := range []string{"0:1048575", "1048576:2097151", "2097152:3158072"} {
		want = append(want, "/ipfs/"+f.root+"?format=car&dag-scope=entity&entity-bytes="+r)
	}
	slices.Sort(want)
	if !slices.Equal(runs[0], want) {
		t.Errorf("slices:\n%v\nwant\n%v", runs[0], want)
	}
	// Two gateways share the slices.
	a, b := newProxy(t, fx.gateway, ""), newProxy(t, fx.gateway, "")
	dst := filepath.Join(t.TempDir(), "out")
	if code, errOut := fx.fetch(t, f.root, "--gateway", a.URL, "--gateway", b.URL, "-o", dst, "--slice-size", "1000000"); code != 0 {
		t.Fatalf("fetch from two gateways: %s", errOut)
	}
	checkFile(t, dst, f.content)
	if na, nb := len(a.sliceURLs()), len(b.sliceURLs()); na == 0 || nb == 0 || na+nb != len(want) {
		t.Errorf("slices asked of the two gateways: %d and %d, want %d in all, spread", na, nb, len(want))
	}
}

// A gateway that corrupts a byte, cuts a slice or answers 404 is failed
// over to the second; with it alone the fetch fails and leaves nothing.
func testFetchFailover(t *testing.T, fx *fetchFixture) {
	for _, name := range []string{"random-3m.bin", "deep"} {
		f := fx.files[name]
		for _, fault := range []string{"corrupt", "cut", "404"} {
			if name == "deep" && fault != "cut" {
				continue // the two-level file once: a cut is the subtle case
			}
			t.Run(name+"/"+fault, func(t *testing.T) {
				bad := newProxy(t, fx.gateway, fault)
				out := t.TempDir()
				dst := filepath.Join(out, "file")
				args := []string{f.root, "-o", dst, "--slice-size", "1048576", "-p", "2"}
				code, errOut := fx.fetch(t, append(args, "--gateway", bad.URL, "--gateway", fx.gateway)...)
				if code != 0 {
					t.Fatalf("fetch with a good second gateway: %d %s", code, errOut)
				}
				if bad.hits.Load() == 0 {
					t.Fatal("the faulty gateway was never asked")
				}
				if !strings.Contains(errOut, "retrying") {
					t.Errorf("no retry reported: %q", errOut)
				}
				checkFile(t, dst, f.content)
				os.Remove(dst)

				code, errOut = fx.fetch(t, append(args, "--gateway", bad.URL)...)
				if code != 1 {
					t.Fatalf("fetch from the faulty gateway alone: exit %d, want 1", code)
				}
				lines := strings.Split(strings.TrimSpace(errOut), "\n")
				last := lines[len(lines)-1]
				want := map[string]string{"corrupt": "failed verification", "cut": "", "404": "404"}[fault]
				if !strings.HasPrefix(last, "hash-stream fetch: ") || !strings.Contains(last, want) {
					t.Errorf("error line %q, want hash-stream fetch: ...%s", last, want)
				}
				onlyOutput(t, out) // neither the output nor a temporary file
			})
		}
	}
}

// --car writes the gateway's own CAR of the DAG, byte for byte: a file
// (fetched in slices, written in order) and a dag-cbor root and a
// directory (fetched whole, checked complete).
func testFetchCAR(t *testing.T, ctx context.Context, fx *fetchFixture) {
	for _, tt := range []struct{ name, root string }{
		{"random-3m.bin", fx.files["random-3m.bin"].root},
		{"deep", fx.files["deep"].root},
		{"hello.txt", fx.files["hello.txt"].root},
		{"dag-cbor", "bafyreidy4q6mmetut5jzc54ambsfnatbyoujmwbfzyyolqw24majazwgha"},
		{"directory", "bafybeia264q44a3kmfc2otctzu4egp2k235o3t7mslz2yjraymp4nv6asi"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cid.Decode(tt.root); err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fx.gateway+"/ipfs/"+tt.root+"?format=car&dag-scope=all", nil)
			req.Header.Set("Accept", "application/vnd.ipld.car; version=1; order=dfs; dups=n")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			want, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("gateway CAR: %d %v", resp.StatusCode, err)
			}
			dst := filepath.Join(t.TempDir(), "out.car")
			if code, errOut := fx.fetch(t, tt.root, "--car", "--gateway", fx.gateway, "-o", dst, "--slice-size", "65536"); code != 0 {
				t.Fatalf("fetch --car: %d %s", code, errOut)
			}
			checkFile(t, dst, want)
			code, stdout, errOut := runCLI(t, fx.dir, "fetch", tt.root, "--car", "--gateway", fx.gateway, "-o", "-")
			if code != 0 || stdout != string(want) {
				t.Errorf("fetch --car -o -: exit %d, %d bytes on stdout (want %d), %s", code, len(stdout), len(want), errOut)
			}
		})
	}
	if code, errOut := fx.fetch(t, fx.files["hello.txt"].root, "--gateway", fx.gateway, "-o", "-"); code != 1 || !strings.Contains(errOut, "only with --car") {
		t.Errorf("-o - without --car: exit %d, %q", code, errOut)
	}
}

// hash-stream fetch against `hash-stream serve`, run in-process over one
// store.
func TestFetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	fx := newFetchFixture(t, ctx)
	t.Run("files", func(t *testing.T) { testFetchFiles(t, fx) })
	t.Run("deterministic slices", func(t *testing.T) { testFetchDeterministicSlices(t, fx) })
	t.Run("failover", func(t *testing.T) { testFetchFailover(t, fx) })
	t.Run("car", func(t *testing.T) { testFetchCAR(t, ctx, fx) })
	t.Run("trees and paths", func(t *testing.T) { testFetchTrees(t, fx) })
	t.Run("sigv4", func(t *testing.T) { testFetchSigV4(t, fx) })
}

// Directories, plain and HAMT, come back as trees holding exactly their
// files; a path is resolved to a file; a directory holding dag-cbor, or a
// missing path, fails and leaves nothing.
func testFetchTrees(t *testing.T, fx *fetchFixture) {
	conformance := filepath.Join(testutil.Shared(t), "conformance")
	for _, tt := range []struct{ name, car, root string }{
		{"hamt", filepath.Join(fx.src, "hamt.car"), fx.hamt},
		{"plain with a subfolder", filepath.Join(conformance, "subdir-with-mixed-block-files.car"), "bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := carFiles(t, tt.car, tt.root)
			out := t.TempDir()
			dst := filepath.Join(out, "tree")
			if code, errOut := fx.fetch(t, tt.root, "--gateway", fx.gateway, "-o", dst, "--slice-size", "1024"); code != 0 {
				t.Fatalf("fetch: %d %s", code, errOut)
			}
			var got []string
			err := filepath.WalkDir(dst, func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dst, path)
					got = append(got, filepath.ToSlash(rel))
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range want {
				names = append(names, f.path)
				checkFile(t, filepath.Join(dst, filepath.FromSlash(f.path)), f.content)
			}
			slices.Sort(got)
			slices.Sort(names)
			if !slices.Equal(got, names) {
				t.Errorf("tree holds %v, want %v", got, names)
			}
			onlyOutput(t, out, "tree")
			// The deepest file again, by path.
			f := want[len(want)-1]
			for _, w := range want {
				if strings.Count(w.path, "/") > strings.Count(f.path, "/") {
					f = w
				}
			}
			byPath := filepath.Join(out, "by-path")
			if code, errOut := fx.fetch(t, tt.root+"/"+f.path, "--gateway", fx.gateway, "-o", byPath); code != 0 {
				t.Fatalf("fetch %s: %d %s", f.path, code, errOut)
			}
			checkFile(t, byPath, f.content)
		})
	}
	out := t.TempDir()
	for _, tt := range []struct{ arg, want string }{
		{"bafybeia264q44a3kmfc2otctzu4egp2k235o3t7mslz2yjraymp4nv6asi", "not a UnixFS file"},
		{"bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu/no-such-name", "no such path"},
	} {
		code, errOut := fx.fetch(t, tt.arg, "--gateway", fx.gateway, "-o", filepath.Join(out, "x"))
		if code != 1 || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, "retrying") {
			t.Errorf("fetch %s: exit %d, %q; want 1 and %q at once", tt.arg, code, errOut, tt.want)
		}
	}
	onlyOutput(t, out)
	// A file whose last leaf no gateway has: every attempt fails, the
	// slices that could be fetched are not left behind.
	p := newProxy(t, fx.gateway, "")
	code, errOut := fx.fetch(t, "QmYhmPjhFjYFyaoiuNzYv8WGavpSRDwdHWe5B4M5du5Rtk", "--gateway", fx.gateway, "--gateway", p.URL, "-o", filepath.Join(out, "x"), "--slice-size", "1024", "--retries", "1")
	if code != 1 || !strings.Contains(errOut, "2 attempts failed") {
		t.Errorf("a file missing a leaf: exit %d, %q", code, errOut)
	}
	if n := len(p.sliceURLs()); n == 0 {
		t.Error("the second gateway was not tried")
	}
	onlyOutput(t, out)
}

// buildHAMT writes hamt.car in dir: a HAMT-sharded directory (fanout 16,
// so 60 entries need sub-shards) of one-block files and a file of 30
// leaves, and returns its path and root.
func buildHAMT(t *testing.T, dir string) (string, string) {
	t.Helper()
	var car bytes.Buffer
	var order []cid.Cid
	blocks := map[cid.Cid][]byte{}
	put := func(c cid.Cid, b []byte) {
		if _, ok := blocks[c]; !ok {
			order = append(order, c)
			blocks[c] = bytes.Clone(b)
		}
	}
	ls := cidlink.DefaultLinkSystem()
	ls.StorageWriteOpener = func(ipld.LinkContext) (io.Writer, ipld.BlockWriteCommitter, error) {
		var buf bytes.Buffer
		return &buf, func(l ipld.Link) error {
			put(l.(cidlink.Link).Cid, buf.Bytes())
			return nil
		}, nil
	}
	var entries []dagpb.PBLink
	for i := range 60 {
		content := []byte(fmt.Sprintf("file %d of a sharded directory\n", i))
		if i == 7 {
			content = bytes.Repeat([]byte("multi-block "), 250) // 3000 bytes
		}
		root, size, err := unixfs.BuildFile(bytes.NewReader(content), func(b unixfs.Block) error {
			put(b.CID, b.Data)
			return nil
		}, unixfs.WithChunkSize(100))
		if err != nil {
			t.Fatal(err)
		}
		e, err := builder.BuildUnixFSDirectoryEntry(fmt.Sprintf("entry-%02d.txt", i), int64(size), cidlink.Link{Cid: root})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	root, _, err := builder.BuildUnixFSShardedDirectory(16, multihash.MURMUR3X64_64, entries, &ls)
	if err != nil {
		t.Fatal(err)
	}
	rc := root.(cidlink.Link).Cid
	header, err := dag.CARHeader(rc)
	if err != nil {
		t.Fatal(err)
	}
	car.Write(header)
	shards := 0
	for _, c := range order {
		if c.Prefix().Codec == cid.DagProtobuf && bytes.Contains(blocks[c], []byte{0x08, 0x05}) { // UnixFS type HAMTShard
			shards++
		}
		if err := dag.WriteSection(&car, c, blocks[c]); err != nil {
			t.Fatal(err)
		}
	}
	if shards < 2 {
		t.Fatalf("HAMT of %d shards, want sub-shards", shards)
	}
	path := filepath.Join(dir, "hamt.car")
	if err := os.WriteFile(path, car.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, rc.String()
}

// --sigv4 signs every request with the SDK's credentials from the
// environment, for the lambda service in the configured region; without
// a region it refuses.
func testFetchSigV4(t *testing.T, fx *fetchFixture) {
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFETCHTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	f := fx.files["random-3m.bin"]
	p := newProxy(t, fx.gateway, "")
	dst := filepath.Join(t.TempDir(), "out")
	if code, errOut := fx.fetch(t, f.root, "--sigv4", "--gateway", p.URL, "-o", dst); code != 1 || !strings.Contains(errOut, "region") {
		t.Errorf("--sigv4 without a region: exit %d, %q", code, errOut)
	}
	t.Setenv("AWS_REGION", "eu-west-3")
	if code, errOut := fx.fetch(t, f.root, "--sigv4", "--gateway", p.URL, "-o", dst, "--slice-size", "1048576"); code != 0 {
		t.Fatalf("fetch --sigv4: %d %s", code, errOut)
	}
	checkFile(t, dst, f.content)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.auth) < 2 {
		t.Fatalf("%d requests", len(p.auth))
	}
	for _, a := range p.auth {
		if !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDFETCHTEST/") || !strings.Contains(a, "/eu-west-3/lambda/aws4_request") {
			t.Errorf("Authorization %q", a)
		}
	}
}
