package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// `streamer dump --format car` and GET /ipfs/<cid>?format=car walk with the
// same walker: byte-identical CARs for every conformance fixture, the
// interop store the JavaScript CLI wrote and an identity CID.
func TestDumpMatchesGateway(t *testing.T) {
	shared := testutil.Shared(t)
	ctx := context.Background()

	// The conformance fixtures, each imported as one pack and indexed with
	// both writers (as lib/gateway's conformance test does).
	dir := t.TempDir()
	idx, packs := fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack"))
	files, err := filepath.Glob(filepath.Join(shared, "conformance", "*.car"))
	if err != nil || len(files) != 7 {
		t.Fatalf("conformance fixtures: %d files, %v", len(files), err)
	}
	var roots []cid.Cid
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		info, err := pack.Import(ctx, packs, f)
		f.Close()
		if err != nil || len(info.Roots) != 1 {
			t.Fatalf("import %s: %v (%d roots)", file, err, len(info.Roots))
		}
		for _, w := range []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)} {
			if err := w.Add(ctx, info.Blobs, info.Roots[0].Hash()); err != nil {
				t.Fatal(err)
			}
		}
		roots = append(roots, info.Roots[0])
	}
	idMH, err := multihash.Sum([]byte("hello"), multihash.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	roots = append(roots, cid.NewCidV1(cid.Raw, idMH))
	// All but the fixture missing a block.
	if n := compareDumps(t, dir, gateway.New(streamer.New(index.NewReader(idx), packs)), roots); n != len(roots)-1 {
		t.Errorf("%d of %d conformance CARs compared, want all but the one missing a block", n, len(roots))
	}

	// The JavaScript CLI's store, as it is (dump only reads it).
	interop := filepath.Join(shared, "interop")
	var exp struct {
		Files []struct {
			Containing struct {
				CID string `json:"cid"`
			} `json:"containing"`
		} `json:"files"`
	}
	raw, err := os.ReadFile(filepath.Join(interop, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil || len(exp.Files) != 3 {
		t.Fatalf("expected.json: %d files, %v", len(exp.Files), err)
	}
	roots = roots[:0]
	for _, f := range exp.Files {
		roots = append(roots, cid.MustParse(f.Containing.CID))
	}
	store := filepath.Join(interop, "js-fs-store")
	jsIdx, jsPacks := fs.NewIndexStore(filepath.Join(store, "index")), fs.NewPackStore(filepath.Join(store, "pack"))
	if n := compareDumps(t, store, gateway.New(streamer.New(index.NewReader(jsIdx), jsPacks)), roots); n != len(roots) {
		t.Errorf("%d of %d interop CARs compared", n, len(roots))
	}
}

// compareDumps dumps each root from the fs store in dir and fetches it as
// a CAR from h: the same bytes, or both failing (a fixture missing a
// block). It returns how many were compared byte for byte.
func compareDumps(t *testing.T, dir string, h http.Handler, roots []cid.Cid) (compared int) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	out := t.TempDir()
	for _, root := range roots {
		car := filepath.Join(out, root.String()+".car")
		code, _, errOut := runCLI(t, dir, "streamer", "dump", root.String(), car)
		resp, err := http.Get(srv.URL + "/ipfs/" + root.String() + "?format=car")
		if err != nil {
			t.Fatal(err)
		}
		body, readErr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if code != 0 {
			// Only a fixture with a missing block may fail, and then
			// the gateway's CAR must fail too.
			if resp.StatusCode == 200 && readErr == nil {
				t.Errorf("%s: dump failed (%s) but the gateway served %d bytes", root, bytes.TrimSpace([]byte(errOut)), len(body))
			}
			continue
		}
		dumped, err := os.ReadFile(car)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || readErr != nil {
			t.Errorf("%s: dumped %d bytes, gateway status %d (%v)", root, len(dumped), resp.StatusCode, readErr)
			continue
		}
		if !bytes.Equal(dumped, body) {
			t.Errorf("%s: dump (%d bytes) and gateway CAR (%d bytes) differ", root, len(dumped), len(body))
		}
		compared++
	}
	return compared
}
