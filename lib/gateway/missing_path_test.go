package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/ipfs/go-cid"
	dagpb "github.com/ipld/go-codec-dagpb"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// emptyIdentity is the CAR root boxo and Kubo send for a path that does
// not exist: raw codec, identity multihash of no bytes.
const emptyIdentity = "bafkqaaa"

// testMissingPath checks the answer to a CAR request whose path names
// nothing (boxo's): 200, a CARv1 rooted at bafkqaaa holding exactly the
// blocks that resolve the path as far as it exists, with the caching
// headers of any CAR, an exact Content-Length, HEAD and 304 alike; a root
// the store does not hold is still 404.
func testMissingPath(t *testing.T, e *env) {
	for _, tc := range []struct {
		name, root, path, query string
		// parent is the path that does exist: the CAR holds the blocks the
		// model reads to resolve it, then its terminal.
		parent string
	}{
		{"name in directory", twoFilesRoot, "/subdir/nope.txt", "format=car", "/subdir"},
		{"top name, block scope", twoFilesRoot, "/nope", "format=car&dag-scope=block", ""},
		{"dups=y", twoFilesRoot, "/subdir/nope.txt", "format=car&car-dups=y", "/subdir"},
		{"dag-cbor key", cborRoot, "/document/nope", "format=car", "/document"},
		{"through a single-block file", twoFilesRoot, "/subdir/hello.txt/more", "format=car", "/subdir/hello.txt"},
		{"through a multi-block file", mixedRoot, "/subdir/multiblock.txt/x/y", "format=car&dag-scope=entity", "/subdir/multiblock.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := cid.MustParse(tc.root)
			through, terminal := e.c.resolve(t, root, tc.parent)
			want := append(append([]cid.Cid{}, through...), terminal)
			target := "/ipfs/" + tc.root + tc.path + "?" + tc.query
			r := fetch(t, e.srv, http.MethodGet, target)
			if r.status != 200 {
				t.Fatalf("status %d %q", r.status, r.body)
			}
			body := checkMissingPath(t, r, tc.root, tc.path)
			if !equalCIDs(body.cids(), want) {
				t.Errorf("blocks %v, want %v", cidStrings(body.cids()), cidStrings(want))
			}
			h := fetch(t, e.srv, http.MethodHead, target)
			if h.status != 200 || len(h.body) != 0 {
				t.Errorf("HEAD: status %d, %d body bytes", h.status, len(h.body))
			}
			for _, k := range []string{"Content-Length", "Etag", "Content-Type", "X-Ipfs-Roots", "Cache-Control"} {
				checkHeader(t, h.header, k, r.header.Get(k))
			}
			if nm := fetch(t, e.srv, http.MethodGet, target, "If-None-Match", r.header.Get("Etag")); nm.status != 304 || len(nm.body) != 0 {
				t.Errorf("If-None-Match: status %d, %d body bytes", nm.status, len(nm.body))
			}
		})
	}
	// A HAMT lookup reads the root shard and the sub-shards on the way to
	// where the name would be: each block after the first is linked from
	// the one before it, and every one is a shard of this directory.
	t.Run("HAMT entry", func(t *testing.T) {
		r := fetch(t, e.srv, http.MethodGet, "/ipfs/"+hamtRoot+"/nope.txt?format=car")
		if r.status != 200 {
			t.Fatalf("status %d %q", r.status, r.body)
		}
		body := checkMissingPath(t, r, hamtRoot, "/nope.txt")
		if len(body.blocks) == 0 || body.blocks[0].cid.String() != hamtRoot {
			t.Fatalf("blocks %v, want the HAMT root first", cidStrings(body.cids()))
		}
		for i := 1; i < len(body.blocks); i++ {
			prev, _ := e.c.unixfs(t, body.blocks[i-1].data)
			if !linksTo(prev, body.blocks[i].cid) {
				t.Errorf("block %d (%s) is not linked from the block before it", i, body.blocks[i].cid)
			}
		}
	})
	// Nothing resolves when the root itself is missing: 404, as before.
	unknown := unknownCID().String()
	for _, target := range []string{
		"/ipfs/" + unknown + "/a/b?format=car",
		"/ipfs/" + unknown + "/a?format=car&dag-scope=block",
	} {
		checkError(t, fetch(t, e.srv, http.MethodGet, target), 404)
	}
}

// checkMissingPath checks the headers and CAR of a missing-path answer and
// returns the CAR.
func checkMissingPath(t *testing.T, r response, root, path string) carBody {
	t.Helper()
	checkCommon(t, r, "/ipfs/"+root+path, []cid.Cid{cid.MustParse(root)})
	checkHeader(t, r.header, "Content-Length", strconv.Itoa(len(r.body)))
	checkHeader(t, r.header, "Accept-Ranges", "none")
	body := mustCAR(t, r)
	if len(body.roots) != 1 || body.roots[0].String() != emptyIdentity {
		t.Errorf("CAR roots %v, want [%s]", body.roots, emptyIdentity)
	}
	seen := make(map[string]bool)
	for _, b := range body.blocks {
		if seen[b.cid.KeyString()] {
			t.Errorf("block %s twice", b.cid)
		}
		seen[b.cid.KeyString()] = true
	}
	return body
}

func linksTo(pb dagpb.PBNode, c cid.Cid) bool {
	for _, l := range pbLinks(pb) {
		if l.cid.Equals(c) {
			return true
		}
	}
	return false
}

// TestMissingPathMaxResponseBytes checks that the blocks of a missing-path
// answer count against the response cap like any CAR: refused with 413
// when over it, served at exactly it.
func TestMissingPathMaxResponseBytes(t *testing.T) {
	idx, packs := memory.NewIndexStore(), memory.NewPackStore()
	for _, f := range conformanceFiles(t) {
		importCAR(t, idx, packs, f)
	}
	s := streamer.New(index.NewReader(idx), packs)
	target := "/ipfs/" + twoFilesRoot + "/subdir/nope.txt?format=car"
	r := fetch(t, newServer(t, idx, packs, nil), http.MethodGet, target)
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	size := int64(len(r.body))
	for _, tc := range []struct {
		max    int64
		status int
	}{{size, 200}, {size - 1, 413}} {
		srv := httptest.NewServer(gateway.New(s, gateway.WithMaxResponseBytes(tc.max)))
		t.Cleanup(srv.Close)
		got := fetch(t, srv, http.MethodGet, target)
		if got.status != tc.status {
			t.Errorf("cap %d: status %d, want %d", tc.max, got.status, tc.status)
		}
	}
}
