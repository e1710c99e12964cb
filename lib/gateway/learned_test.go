package gateway_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// A store with multiple-level records only (the JavaScript CLI's default)
// has no record for a child block on its own. Block-by-block clients ask
// for the root, then each child with ?format=raw: the children are found
// through the locations learned from the root's CONTAINING record, on the
// same handler. A handler that has not resolved the root answers 404.
func TestBlockByBlockOnMultipleLevelStore(t *testing.T) {
	original := filepath.Join(testutil.Shared(t), "interop", "originals", "random-3m.bin")
	dir := t.TempDir()
	ctx := context.Background()
	idx, packs := fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack"))
	f, err := os.Open(original)
	if err != nil {
		t.Fatal(err)
	}
	root, infos, err := pack.WriteFile(ctx, packs, f, pack.WithMaxSize(2200000))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := pack.AddToIndex(ctx, []index.Writer{index.NewMultipleLevelWriter(idx)}, infos, root.Hash()); err != nil {
		t.Fatal(err)
	}
	newServer := func() *httptest.Server {
		return httptest.NewServer(gateway.New(streamer.New(index.NewReader(idx), packs)))
	}
	get := func(srv *httptest.Server, cid string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/ipfs/" + cid + "?format=raw")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}

	srv := newServer()
	defer srv.Close()
	status, rootData := get(srv, root.String())
	if status != 200 {
		t.Fatalf("root: %d", status)
	}
	leaves, err := dag.Links(root, rootData)
	if err != nil || len(leaves) != 4 {
		t.Fatalf("links %v %v", leaves, err)
	}
	var file []byte
	for _, l := range leaves {
		status, data := get(srv, l.String())
		if status != 200 {
			t.Fatalf("leaf %s: %d", l, status)
		}
		file = append(file, data...)
	}
	want, err := os.ReadFile(original)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(file) != sha256.Sum256(want) {
		t.Error("rebuilt file differs")
	}

	fresh := newServer()
	defer fresh.Close()
	if status, _ := get(fresh, leaves[0].String()); status != 404 {
		t.Errorf("leaf on a fresh handler: %d, want 404 (no single-level record)", status)
	}
}
