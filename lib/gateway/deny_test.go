package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-multihash"
)

// denyEnv is a store holding the mixed-blocks directory, the HAMT
// directory and a 3 MiB file, served through a gateway whose denylist the
// test sets per case.
type denyEnv struct {
	srv          *httptest.Server
	list         *denylist.Set
	blocks       map[string]cid.Cid // a few CIDs by role
	big          cid.Cid            // the root of the 3 MiB file
	leaves       []cid.Cid          // its leaves, in order
	hamtEntry    string             // a name in the HAMT directory
	hamtEntryCID cid.Cid
}

func newDenyEnv(t *testing.T) *denyEnv {
	t.Helper()
	ctx := context.Background()
	idx, packs := memory.NewIndexStore(), memory.NewPackStore()
	e := &denyEnv{blocks: map[string]cid.Cid{}}
	for _, name := range []string{"subdir-with-mixed-block-files.car", "single-layer-hamt-with-multi-block-files.car"} {
		importCAR(t, idx, packs, filepath.Join(testutil.Shared(t), "conformance", name))
	}
	root, infos, err := pack.WriteFile(ctx, packs, testutil.HashStreamReader("deny ", 3<<20), pack.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := pack.AddToIndex(ctx, []index.Writer{index.NewMultipleLevelWriter(idx)}, infos, root.Hash()); err != nil {
		t.Fatal(err)
	}
	e.big = root
	s := streamer.New(index.NewReader(idx), packs)
	rootData, err := s.Block(ctx, root.Hash(), root.Hash(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.leaves, err = dag.Links(root, rootData); err != nil || len(e.leaves) != 3 {
		t.Fatalf("3 MiB file: %d leaves, %v", len(e.leaves), err)
	}
	// The mixed directory: root → subdir → files.
	mixed := cid.MustParse(mixedRoot)
	e.blocks["subdir"] = e.lookup(t, s, mixed, "subdir")
	e.blocks["file"] = e.lookup(t, s, e.blocks["subdir"], "ascii.txt")
	// A HAMT entry: the first link of the root shard that is not a sub-shard.
	hamt := cid.MustParse(hamtRoot)
	data, err := s.Block(ctx, hamt.Hash(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, _, err := dag.DecodeUnixFS(hamt, data)
	if err != nil {
		t.Fatal(err)
	}
	for it := pb.FieldLinks().Iterator(); !it.Done(); {
		_, l := it.Next()
		if name := l.FieldName().Must().String(); len(name) > 2 {
			e.hamtEntry = name[2:]
			break
		}
	}
	if e.hamtEntry == "" {
		t.Fatal("no entry in the HAMT root shard")
	}
	e.hamtEntryCID = e.lookup(t, s, hamt, e.hamtEntry)

	e.srv = httptest.NewServer(gateway.New(s, gateway.WithDenylist(func(context.Context) *denylist.Set { return e.list })))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *denyEnv) lookup(t *testing.T, s *streamer.Streamer, dir cid.Cid, name string) cid.Cid {
	t.Helper()
	ctx := context.Background()
	data, err := s.Block(ctx, dir.Hash(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dag.Lookup(ctx, dir, data, name, func(ctx context.Context, c cid.Cid) ([]byte, error) {
		return s.Block(ctx, c.Hash(), nil, nil)
	})
	if err != nil {
		t.Fatalf("%s in %s: %v", name, dir, err)
	}
	return c
}

// deny sets the gateway's list to lines.
func (e *denyEnv) deny(t *testing.T, lines ...string) {
	t.Helper()
	l, err := denylist.Parse(strings.NewReader(strings.Join(lines, "\n")+"\n"), "test.deny")
	if err != nil {
		t.Fatal(err)
	}
	e.list = denylist.NewSet(l)
}

func wantBlocked(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status || string(r.body) != "blocked\n" {
		t.Fatalf("status %d body %.80q, want %d blocked", r.status, r.body, status)
	}
	if cc := r.header.Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("Cache-Control %q", cc)
	}
}

func wantServed(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusOK || r.readErr != nil {
		t.Fatalf("status %d, read %v: %.80q", r.status, r.readErr, r.body)
	}
}

func TestDenylist(t *testing.T) {
	e := newDenyEnv(t)
	mixed := cid.MustParse(mixedRoot)
	v0 := cid.NewCidV0(mixed.Hash()).String()
	base36, err := mixed.StringOfBase(multibase.Base36)
	if err != nil {
		t.Fatal(err)
	}
	leaf := e.leaves[0]
	leafRaw := "/ipfs/" + leaf.String() + "?format=raw"

	t.Run("nothing listed is served", func(t *testing.T) {
		e.deny(t, "/ipfs/"+e.big.String()+"/unrelated")
		wantServed(t, fetch(t, e.srv, "GET", leafRaw))
		r := fetch(t, e.srv, "GET", "/ipfs/"+mixedRoot+"?format=car")
		wantServed(t, r)
		checkHeader(t, r.header, "Cache-Control", immutable)
	})
	t.Run("raw block", func(t *testing.T) {
		e.deny(t, "/ipfs/"+leaf.String())
		wantBlocked(t, fetch(t, e.srv, "GET", leafRaw), http.StatusGone)
		if r := fetch(t, e.srv, "HEAD", leafRaw); r.status != http.StatusGone {
			t.Fatalf("HEAD: status %d", r.status)
		}
	})
	t.Run("status hint 451", func(t *testing.T) {
		e.deny(t, "/ipfs/"+leaf.String()+" status:451 reason:court%20order")
		r := fetch(t, e.srv, "GET", leafRaw)
		wantBlocked(t, r, http.StatusUnavailableForLegalReasons)
		if bytes.Contains(r.body, []byte("court")) {
			t.Error("the reason reached the client")
		}
	})
	t.Run("CAR root in every CID form", func(t *testing.T) {
		e.deny(t, "/ipfs/"+v0) // listed as CIDv0
		for _, form := range []string{mixedRoot, v0, base36} {
			wantBlocked(t, fetch(t, e.srv, "GET", "/ipfs/"+form+"?format=car"), http.StatusGone)
		}
		// The same multihash as a raw block is the same content.
		wantBlocked(t, fetch(t, e.srv, "GET", "/ipfs/"+cid.NewCidV1(cid.Raw, mixed.Hash()).String()+"?format=raw"), http.StatusGone)
	})
	t.Run("CAR child before the first byte", func(t *testing.T) {
		// A child of the terminal is checked before the status line.
		e.deny(t, "/ipfs/"+e.blocks["subdir"].String())
		wantBlocked(t, fetch(t, e.srv, "GET", "/ipfs/"+mixedRoot+"?format=car"), http.StatusGone)
		// dag-scope=block of the root holds no blocked block.
		wantServed(t, fetch(t, e.srv, "GET", "/ipfs/"+mixedRoot+"?format=car&dag-scope=block"))
	})
	t.Run("CAR grandchild after the first byte cuts", func(t *testing.T) {
		// The terminal went out first; the walk reaches the blocked
		// file below and cuts the response before it.
		e.deny(t, "/ipfs/"+e.blocks["file"].String())
		r, err := try(e.srv, "GET", "/ipfs/"+mixedRoot+"?format=car")
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK || r.readErr == nil {
			t.Fatalf("status %d, read error %v: want a cut 200", r.status, r.readErr)
		}
		if bytes.Contains(r.body, mustRaw(t, e, e.blocks["file"])) {
			t.Fatal("the blocked file was sent")
		}
	})
	t.Run("file leaf after the first byte cuts", func(t *testing.T) {
		// dag-scope=entity: its leaves are checked as the walk reaches
		// them, the third after 2 MiB went out.
		e.deny(t, "/ipfs/"+e.leaves[2].String())
		r, err := try(e.srv, "GET", "/ipfs/"+e.big.String()+"?format=car&dag-scope=entity")
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK || r.readErr == nil {
			t.Fatalf("status %d, read error %v: want a cut 200", r.status, r.readErr)
		}
		if len(r.body) < 2<<20 {
			t.Errorf("%d bytes before the cut, want the first two leaves", len(r.body))
		}
		if bytes.Contains(r.body, mustRaw(t, e, e.leaves[2])) {
			t.Fatal("the blocked leaf was sent")
		}
	})
	t.Run("path through a blocked directory", func(t *testing.T) {
		e.deny(t, "/ipfs/"+e.blocks["subdir"].String())
		wantBlocked(t, fetch(t, e.srv, "GET", "/ipfs/"+mixedRoot+"/subdir/ascii.txt?format=car"), http.StatusGone)
	})
	t.Run("path rule", func(t *testing.T) {
		e.deny(t, "/ipfs/"+mixedRoot+"/subdir/ascii.txt")
		wantBlocked(t, fetch(t, e.srv, "GET", "/ipfs/"+base36+"/subdir/ascii.txt?format=car"), http.StatusGone)
		wantServed(t, fetch(t, e.srv, "GET", "/ipfs/"+mixedRoot+"/subdir?format=car&dag-scope=entity"))
	})
	t.Run("HAMT entry", func(t *testing.T) {
		e.deny(t, "/ipfs/"+e.hamtEntryCID.String())
		wantBlocked(t, fetch(t, e.srv, "GET", "/ipfs/"+hamtRoot+"/"+e.hamtEntry+"?format=car"), http.StatusGone)
		wantBlocked(t, fetch(t, e.srv, "GET", "/ipfs/"+hamtRoot+"?format=car"), http.StatusGone)
		wantServed(t, fetch(t, e.srv, "GET", "/ipfs/"+hamtRoot+"?format=car&dag-scope=entity"))
	})
	t.Run("negation", func(t *testing.T) {
		e.deny(t, "/ipfs/"+leaf.String(), "!/ipfs/"+leaf.String())
		wantServed(t, fetch(t, e.srv, "GET", leafRaw))
	})
	t.Run("modern double hash", func(t *testing.T) {
		mh, err := multihash.Sum([]byte(mixed.Hash().B58String()), multihash.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		e.deny(t, "//"+mh.B58String())
		wantBlocked(t, fetch(t, e.srv, "GET", "/ipfs/"+v0+"?format=car"), http.StatusGone)
	})
	t.Run("legacy double hash", func(t *testing.T) {
		sum := sha256.Sum256([]byte(mixed.String() + "/"))
		e.deny(t, "//"+hex.EncodeToString(sum[:]))
		wantBlocked(t, fetch(t, e.srv, "GET", "/ipfs/"+mixedRoot+"?format=car"), http.StatusGone)
		// A path is a different double hash: ascii.txt's own path.
		sum = sha256.Sum256([]byte(mixed.String() + "/subdir/ascii.txt"))
		e.deny(t, "//"+hex.EncodeToString(sum[:]))
		wantBlocked(t, fetch(t, e.srv, "GET", "/ipfs/"+mixedRoot+"/subdir/ascii.txt?format=car"), http.StatusGone)
		wantServed(t, fetch(t, e.srv, "GET", "/ipfs/"+mixedRoot+"/subdir?format=car&dag-scope=block"))
	})
}

func mustRaw(t *testing.T, e *denyEnv, c cid.Cid) []byte {
	t.Helper()
	e.list = nil
	r := fetch(t, e.srv, "GET", "/ipfs/"+c.String()+"?format=raw")
	wantServed(t, r)
	return r.body
}
