package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
)

// TestBoxoProxy puts boxo's own gateway handler in front of ours, as
// rainbow does in its proxy mode, with each of boxo's remote backends: the
// CAR backend (it asks us for ?format=car with paths and dag-scope) and the
// blocks backend (it asks for ?format=raw block by block). boxo verifies
// every block it gets. Our handler serves the conformance fixtures and the
// JavaScript CLI's interop store, each on its own loopback server.
func TestBoxoProxy(t *testing.T) {
	c := loadCorpus(t)
	idx, packs := memory.NewIndexStore(), memory.NewPackStore()
	for _, f := range conformanceFiles(t) {
		importCAR(t, idx, packs, f)
	}
	conformance := newServer(t, idx, packs, nil)
	interopDir := filepath.Join(testutil.Shared(t), "interop")
	interop := newServer(t, fs.NewIndexStore(filepath.Join(interopDir, "js-fs-store", "index")),
		fs.NewPackStore(filepath.Join(interopDir, "js-fs-store", "pack")), nil)
	var exp struct {
		Files []struct {
			Name       string `json:"name"`
			Original   string `json:"original"`
			Containing struct {
				CID string `json:"cid"`
			} `json:"containing"`
		} `json:"files"`
	}
	readJSON(t, filepath.Join(interopDir, "expected.json"), &exp)
	if len(exp.Files) != 3 {
		t.Fatalf("%d files in expected.json", len(exp.Files))
	}

	// file is what boxo must serve for a path of the conformance fixtures,
	// rebuilt from the fixtures' blocks.
	file := func(t *testing.T, root, path string) []byte {
		_, terminal := c.resolve(t, cid.MustParse(root), path)
		b, ok := fileBytes(t, c.blocks, terminal)
		if !ok {
			t.Fatalf("model: %s%s is not a whole file", root, path)
		}
		return b
	}
	multiblock := file(t, mixedRoot, "/subdir/multiblock.txt")

	for _, kind := range []string{"car", "blocks"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			proxy := newBoxoProxy(t, kind, conformance.URL)
			interopProxy := newBoxoProxy(t, kind, interop.URL)

			t.Run("interop files", func(t *testing.T) {
				for _, f := range exp.Files {
					original, err := os.ReadFile(filepath.Join(interopDir, f.Original))
					if err != nil {
						t.Fatal(err)
					}
					r := boxoGet(t, interopProxy, "/ipfs/"+f.Containing.CID)
					if r.status != 200 || !bytes.Equal(r.body, original) {
						t.Errorf("%s: status %d, %d bytes, want the %d-byte original", f.Name, r.status, len(r.body), len(original))
					}
				}
			})
			t.Run("fixture files", func(t *testing.T) {
				for _, p := range []struct{ root, path string }{
					{twoFilesRoot, "/subdir/hello.txt"},
					{mixedRoot, "/subdir/multiblock.txt"},
					{hamtRoot, "/470.txt"}, // a path into a HAMT
				} {
					r := boxoGet(t, proxy, "/ipfs/"+p.root+p.path)
					if want := file(t, p.root, p.path); r.status != 200 || !bytes.Equal(r.body, want) {
						t.Errorf("%s%s: status %d, %d bytes, want %d", p.root, p.path, r.status, len(r.body), len(want))
					}
				}
			})
			t.Run("directory listings", func(t *testing.T) {
				for _, p := range []struct{ root, path, entry string }{
					{twoFilesRoot, "/subdir/", "hello.txt"},
					{mixedRoot, "/", "subdir"},
					{hamtRoot, "/", "470.txt"}, // HAMT-sharded
				} {
					r := boxoGet(t, proxy, "/ipfs/"+p.root+p.path, "Accept", "text/html")
					if r.status != 200 || !strings.Contains(string(r.body), p.entry) {
						t.Errorf("%s%s: status %d, listing has %q: %v", p.root, p.path, r.status, p.entry, strings.Contains(string(r.body), p.entry))
					}
				}
			})
			t.Run("missing files", func(t *testing.T) {
				for _, target := range []string{
					"/ipfs/" + twoFilesRoot + "/subdir/nope.txt",
					"/ipfs/" + twoFilesRoot + "/nope/deeper.txt",
					"/ipfs/" + hamtRoot + "/nope.txt",
				} {
					if r := boxoGet(t, proxy, target); r.status != 404 {
						t.Errorf("%s: status %d, want 404", target, r.status)
					}
				}
			})
			t.Run("range", func(t *testing.T) {
				r := boxoGet(t, proxy, "/ipfs/"+mixedRoot+"/subdir/multiblock.txt", "Range", "bytes=10-300")
				if r.status != 206 || !bytes.Equal(r.body, multiblock[10:301]) {
					t.Errorf("status %d, %d bytes, want 206 and bytes 10-300", r.status, len(r.body))
				}
				// Across the first two 1 MiB leaves of the interop file.
				original, err := os.ReadFile(filepath.Join(interopDir, "originals", "random-3m.bin"))
				if err != nil {
					t.Fatal(err)
				}
				const from, to = 1<<20 - 1000, 1<<20 + 999
				r = boxoGet(t, interopProxy, "/ipfs/"+exp.Files[2].Containing.CID, "Range", fmt.Sprintf("bytes=%d-%d", from, to))
				if r.status != 206 || !bytes.Equal(r.body, original[from:to+1]) {
					t.Errorf("random-3m.bin: status %d, %d bytes, want 206 and bytes %d-%d", r.status, len(r.body), from, to)
				}
			})
			t.Run("HEAD", func(t *testing.T) {
				if kind == "car" {
					// boxo v0.43.0's CAR backend panics (nil pointer in
					// HeadResponse.Close) on HEAD of a multi-block file: a
					// bug of boxo's, not an answer of ours.
					t.Skip("boxo's CAR backend panics on HEAD of a multi-block file")
				}
				r := boxoDo(t, proxy, http.MethodHead, "/ipfs/"+mixedRoot+"/subdir/multiblock.txt")
				if r.status != 200 || r.header.Get("Content-Length") != fmt.Sprint(len(multiblock)) {
					t.Errorf("status %d, Content-Length %q, want 200 and %d", r.status, r.header.Get("Content-Length"), len(multiblock))
				}
			})
			t.Run("format=car", func(t *testing.T) {
				// boxo re-serves a CAR it verified; its blocks, each counted
				// once, are ours in our order.
				for _, target := range []string{
					"/ipfs/" + twoFilesRoot + "?format=car",
					"/ipfs/" + hamtRoot + "/470.txt?format=car",
					"/ipfs/" + mixedRoot + "/subdir/multiblock.txt?format=car&dag-scope=entity&entity-bytes=0:300",
				} {
					ours := mustCAR(t, fetch(t, conformance, http.MethodGet, target))
					r := boxoGet(t, proxy, target)
					if r.status != 200 {
						t.Fatalf("%s: status %d %q", target, r.status, r.body)
					}
					theirs := mustCAR(t, r)
					if !equalCIDs(theirs.roots, ours.roots) || !equalCIDs(firstSeen(theirs.cids()), firstSeen(ours.cids())) {
						t.Errorf("%s: roots %v blocks %v, want roots %v blocks %v", target,
							theirs.roots, cidStrings(firstSeen(theirs.cids())), ours.roots, cidStrings(firstSeen(ours.cids())))
					}
				}
			})
		})
	}
}

// newBoxoProxy serves boxo's gateway handler, in trustless-client mode
// with deserialized responses (files, listings), over the given remote
// backend ("car" or "blocks") pointed at upstream.
func newBoxoProxy(t *testing.T, kind, upstream string) *httptest.Server {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	// A registry each, so that boxo's metrics do not clash between proxies.
	metrics := boxogw.WithPrometheusRegistry(prometheus.NewRegistry())
	var backend boxogw.IPFSBackend
	var err error
	switch kind {
	case "car":
		backend, err = boxogw.NewRemoteCarBackend([]string{upstream}, client, metrics)
	case "blocks":
		backend, err = boxogw.NewRemoteBlocksBackend([]string{upstream}, client, metrics)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(boxogw.NewHandler(boxogw.Config{DeserializedResponses: true, NoDNSLink: true,
		MetricsRegistry: prometheus.NewRegistry()}, backend))
	t.Cleanup(srv.Close)
	return srv
}

func boxoGet(t *testing.T, srv *httptest.Server, target string, header ...string) response {
	t.Helper()
	return boxoDo(t, srv, http.MethodGet, target, header...)
}

// boxoDo is fetch without following redirects, and with a body read that
// must end cleanly.
func boxoDo(t *testing.T, srv *httptest.Server, method, target string, header ...string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, target, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// firstSeen returns cs without repeats, in first-seen order.
func firstSeen(cs []cid.Cid) []cid.Cid {
	seen := make(map[cid.Cid]bool)
	var out []cid.Cid
	for _, c := range cs {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}
