package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/lambdastream"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	dagpb "github.com/ipld/go-codec-dagpb"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

// The fixture the events are written against (see events/README.md).
const dirCAR = "cars/subdir-with-mixed-block-files.car"

// eventWant is what the function must answer to one events/*.json.
type eventWant struct {
	status int
	// header values that must be exact; "" means absent.
	headers map[string]string
	// body checks the body (nil: no check beyond the status and headers).
	body func(t *testing.T, body []byte)
}

// dag is the fixture directory CAR, read independently of the gateway, to
// derive what the CAR events must contain.
type dag struct {
	raw    []byte
	roots  []cid.Cid
	blocks map[string][]byte
	order  []cid.Cid
}

func loadDAG(t testing.TB) *dag {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "testdata", dirCAR))
	if err != nil {
		t.Fatal(err)
	}
	roots, blocks, err := readCAR(raw)
	if err != nil {
		t.Fatalf("%s: %v", dirCAR, err)
	}
	d := &dag{raw: raw, roots: roots, blocks: make(map[string][]byte)}
	for _, b := range blocks {
		d.blocks[b.cid.KeyString()] = b.data
		d.order = append(d.order, b.cid)
	}
	if len(roots) != 1 || roots[0].String() != fixture.DirCID {
		t.Fatalf("%s roots %v, want [%s]", dirCAR, roots, fixture.DirCID)
	}
	return d
}

func (d *dag) node(t testing.TB, c cid.Cid) (dagpb.PBNode, data.UnixFSData) {
	t.Helper()
	nb := dagpb.Type.PBNode.NewBuilder()
	if err := dagpb.DecodeBytes(nb, d.blocks[c.KeyString()]); err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	pb := nb.Build().(dagpb.PBNode)
	ufs, err := data.DecodeUnixFSData(pb.FieldData().Must().Bytes())
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	return pb, ufs
}

// child returns the link named name of directory c.
func (d *dag) child(t testing.TB, c cid.Cid, name string) cid.Cid {
	t.Helper()
	pb, _ := d.node(t, c)
	for it := pb.FieldLinks().Iterator(); !it.Done(); {
		_, l := it.Next()
		if l.FieldName().Exists() && l.FieldName().Must().String() == name {
			return l.FieldHash().Link().(cidlink.Link).Cid
		}
	}
	t.Fatalf("%s has no entry %q", c, name)
	return cid.Undef
}

// leaves returns the links of the one-level file c holding bytes from..to.
func (d *dag) leaves(t testing.TB, c cid.Cid, from, to int64) []cid.Cid {
	t.Helper()
	pb, ufs := d.node(t, c)
	var out []cid.Cid
	pos, i := int64(0), int64(0)
	for it := pb.FieldLinks().Iterator(); !it.Done(); i++ {
		_, l := it.Next()
		n, _ := ufs.FieldBlockSizes().LookupByIndex(i)
		size, _ := n.AsInt()
		if pos <= to && pos+size-1 >= from {
			out = append(out, l.FieldHash().Link().(cidlink.Link).Cid)
		}
		pos += size
	}
	return out
}

func cidsString(cs []cid.Cid) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.String()
	}
	return strings.Join(s, ",")
}

// wantCAR checks a CAR body: roots and exactly these blocks in this order,
// every one verified.
func wantCAR(roots []cid.Cid, blocks []cid.Cid) func(t *testing.T, body []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		gotRoots, got, err := readCAR(body)
		if err != nil {
			t.Fatalf("CAR: %v (after %d blocks)", err, len(got))
		}
		if cidsString(gotRoots) != cidsString(roots) {
			t.Errorf("CAR roots %v, want %v", gotRoots, roots)
		}
		gotCIDs := make([]cid.Cid, len(got))
		for i, b := range got {
			gotCIDs[i] = b.cid
		}
		if cidsString(gotCIDs) != cidsString(blocks) {
			t.Errorf("CAR blocks\n got %v\nwant %v", gotCIDs, blocks)
		}
	}
}

// etagOf computes the Etag the gateway gives the request of an event.
func etagOf(t testing.TB, event []byte) string {
	t.Helper()
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	r, err := lambdastream.NewRequest(context.Background(), &ev)
	if err != nil {
		t.Fatal(err)
	}
	req, err := gateway.ParseRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	return req.Etag()
}

// eventWants is the expectation of every event in events/ (see
// events/README.md).
func eventWants(t testing.TB, d *dag) map[string]eventWant {
	t.Helper()
	hello, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "testdata", "hello.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := d.roots[0]
	subdir := d.child(t, dir, "subdir")
	helloInDir := d.child(t, subdir, "hello.txt")
	multiblock := d.child(t, subdir, "multiblock.txt")
	const carType = "application/vnd.ipld.car; version=1; order=dfs; dups=n"
	const immutable = "public, max-age=29030400, immutable"
	noCache := map[string]string{ // an error is never cached as content
		"Content-Type": "text/plain; charset=utf-8", "Etag": "", "Cache-Control": "",
		"X-Ipfs-Roots": "", "Content-Disposition": "",
	}
	return map[string]eventWant{
		"raw.json": {
			status: http.StatusOK,
			headers: map[string]string{
				"Content-Type":        "application/vnd.ipld.raw",
				"Content-Length":      fmt.Sprint(len(hello)),
				"Etag":                `"` + fixture.HelloCID + `.raw"`,
				"X-Ipfs-Roots":        fixture.HelloCID,
				"X-Ipfs-Path":         "/ipfs/" + fixture.HelloCID,
				"Cache-Control":       immutable,
				"Content-Disposition": `attachment; filename="` + fixture.HelloCID + `.bin"`,
			},
			body: func(t *testing.T, body []byte) {
				if !bytes.Equal(body, hello) {
					t.Errorf("body %q, want testdata/hello.txt %q", body, hello)
				}
			},
		},
		"car.json": {
			status: http.StatusOK,
			headers: map[string]string{
				"Content-Type":        carType,
				"X-Ipfs-Roots":        fixture.DirCID,
				"Cache-Control":       immutable,
				"Content-Disposition": `attachment; filename="` + fixture.DirCID + `.car"`,
			},
			body: func(t *testing.T, body []byte) {
				wantCAR(d.roots, d.order)(t, body)
				// The fixture is a DFS CARv1 of the whole DAG: the gateway
				// reproduces it byte for byte.
				if !bytes.Equal(body, d.raw) {
					t.Errorf("body (%d bytes) differs from testdata/%s (%d bytes)", len(body), dirCAR, len(d.raw))
				}
			},
		},
		"entity-bytes.json": {
			status: http.StatusOK,
			headers: map[string]string{
				"Content-Type":        carType,
				"X-Ipfs-Roots":        cidsString([]cid.Cid{dir, subdir, multiblock}),
				"Cache-Control":       immutable,
				"Content-Disposition": `attachment; filename="` + fixture.DirCID + `_multiblock.txt.car"`,
			},
			// The path, the file node, and the leaves holding bytes 0-299.
			body: wantCAR([]cid.Cid{multiblock}, append([]cid.Cid{dir, subdir, multiblock}, d.leaves(t, multiblock, 0, 299)...)),
		},
		"path.json": {
			status: http.StatusOK,
			headers: map[string]string{
				"Content-Type":        carType,
				"X-Ipfs-Roots":        cidsString([]cid.Cid{dir, subdir, helloInDir}),
				"Cache-Control":       immutable,
				"Content-Disposition": `attachment; filename="` + fixture.DirCID + `_hello.txt.car"`,
			},
			body: wantCAR([]cid.Cid{helloInDir}, []cid.Cid{dir, subdir, helloInDir}),
		},
		"head.json": {
			status: http.StatusOK,
			headers: map[string]string{
				"Content-Type":        carType,
				"X-Ipfs-Roots":        fixture.DirCID,
				"Cache-Control":       immutable,
				"Content-Disposition": `attachment; filename="` + fixture.DirCID + `.car"`,
			},
			body: func(t *testing.T, body []byte) {
				if len(body) != 0 {
					t.Errorf("HEAD body %d bytes, want none", len(body))
				}
			},
		},
		"bad-cid.json": {
			status:  http.StatusBadRequest,
			headers: noCache,
			body: func(t *testing.T, body []byte) {
				if !strings.Contains(string(body), "not-a-cid") {
					t.Errorf("body %q does not name the bad CID", body)
				}
			},
		},
		"unknown-cid.json": {status: http.StatusNotFound, headers: noCache},
	}
}

// eventFiles returns the names of the Function URL events in events/.
func eventFiles(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(testutil.RepoRoot(), "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		// s3-*.json are the indexer function's S3 events (its tests run them).
		if name := filepath.Base(p); !strings.HasPrefix(name, "s3-") {
			names = append(names, name)
		}
	}
	return names
}

// TestEventsCovered fails when an event in events/ has no expectation here
// (or no line in events/README.md), or an expectation has no event: a new
// event cannot be forgotten.
func TestEventsCovered(t *testing.T) {
	wants := eventWants(t, loadDAG(t))
	files := eventFiles(t)
	if len(files) == 0 {
		t.Fatal("no events/*.json")
	}
	readme, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "events", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := wants[f]; !ok {
			t.Errorf("events/%s has no expectation in eventWants", f)
		}
		if !bytes.Contains(readme, []byte("`"+f+"`")) {
			t.Errorf("events/%s is not described in events/README.md", f)
		}
	}
	for name := range wants {
		if !slices.Contains(files, name) {
			t.Errorf("eventWants has %s, which is not in events/", name)
		}
	}
}

// TestEvents runs every events/*.json through the real bootstrap under the
// Lambda Runtime Interface Emulator, against the S3 server loaded with
// testdata/.
func TestEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function and runs it under the emulator")
	}
	bin := bootstrap(t)
	lambdatest.EmulatorPath(t)
	b := newBuckets(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	roots, err := fixture.Load(ctx, b.indexStore, b.packStore)
	if err != nil {
		t.Fatal(err)
	}
	if roots["hello.txt"].String() != fixture.HelloCID || roots[dirCAR].String() != fixture.DirCID {
		t.Fatalf("fixture roots %v", roots)
	}
	wants := eventWants(t, loadDAG(t))

	start := time.Now()
	emu := lambdatest.StartEmulator(t, bin, functionEnv(t, b, s3srv.Endpoint, "AWS_LAMBDA_FUNCTION_TIMEOUT=30")...)
	etags := map[string]string{}
	for i, name := range eventFiles(t) { // one at a time: the emulator fails on concurrent invokes
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			want, ok := wants[name]
			if !ok {
				t.Fatalf("events/%s has no expectation in eventWants", name)
			}
			event, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "events", name))
			if err != nil {
				t.Fatal(err)
			}
			invoked := time.Now()
			resp, err := emu.InvokeHTTP(ctx, event)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				t.Logf("emulator started and first event (%s) answered in %v", name, time.Since(start).Round(time.Millisecond))
			}
			t.Logf("%s: %d, %d body bytes in %v", name, resp.StatusCode, len(resp.Body), time.Since(invoked).Round(time.Millisecond))
			if resp.StatusCode != want.status {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, want.status, resp.Body)
			}
			for k, v := range want.headers {
				if got := resp.Headers[k]; got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if want.status == http.StatusOK {
				etag := etagOf(t, event)
				if got := resp.Headers["Etag"]; got != etag {
					t.Errorf("Etag %q, want %q", got, etag)
				}
				etags[name] = etag
			}
			if len(resp.Cookies) != 0 {
				t.Errorf("cookies %v", resp.Cookies)
			}
			if want.body != nil {
				want.body(t, resp.Body)
			}
		})
	}
	// HEAD answers the headers GET would; different requests, different tags.
	if etags["head.json"] != etags["car.json"] {
		t.Errorf("HEAD Etag %q, GET %q", etags["head.json"], etags["car.json"])
	}
	for _, a := range []string{"car.json", "path.json", "entity-bytes.json"} {
		if !strings.HasPrefix(etags[a], `W/"`+fixture.DirCID+".car.") {
			t.Errorf("%s Etag %q is not a weak CAR tag of the root", a, etags[a])
		}
	}
	if etags["car.json"] == etags["path.json"] || etags["path.json"] == etags["entity-bytes.json"] {
		t.Errorf("Etags of different CARs collide: %v", etags)
	}
}
