package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data/builder"
	carv2 "github.com/ipld/go-car/v2"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// Codecs of the codec tests: cbor and json cannot link; codecPrivate is
// in the multicodec private-use range, which no decoder knows.
const (
	codecCBOR    = 0x51
	codecJSON    = 0x0200
	codecPrivate = 0x300000
)

// codecDAG is a store holding blocks of every codec, alone and as
// children of a dag-cbor node.
type codecDAG struct {
	cbor, cborIntKey, json, jsonDupKeys, raw, identity, private cid.Cid
	// parent is a dag-cbor list linking every leaf above but private,
	// then a dag-cbor list of cbor and json again; withPrivate links
	// raw, then private, then json.
	parent, inner, withPrivate cid.Cid
	// file is a UnixFS file of raw leaves, for the terminal-first test.
	file cid.Cid
}

func newCodecDAG(t *testing.T, idx store.IndexStore, packs store.PackStore) codecDAG {
	t.Helper()
	m := newMemLinkSystem()
	var d codecDAG
	d.cbor = m.put(codecCBOR, []byte{0xa1, 0x61, 0x61, 0x01}) // {"a": 1}
	// Valid CBOR and JSON that the IPLD decoders refuse (an integer map
	// key, a repeated key): leaves are written without being decoded.
	d.cborIntKey = m.put(codecCBOR, []byte{0xa1, 0x01, 0x02}) // {1: 2}
	d.json = m.put(codecJSON, []byte(`{"a":[1,2,{"/":"not a link"}]}`))
	d.jsonDupKeys = m.put(codecJSON, []byte(`{"a":1,"a":2}`))
	d.raw = m.put(cid.Raw, []byte("raw bytes"))
	d.identity = m.put(0x00, []byte("identity-codec bytes"))
	d.private = m.put(codecPrivate, []byte("a block of a codec nobody decodes"))
	d.inner = m.cborList(t, d.cbor, d.json)
	d.parent = m.cborList(t, d.cbor, d.cborIntKey, d.json, d.jsonDupKeys, d.raw, d.identity, d.inner)
	d.withPrivate = m.cborList(t, d.raw, d.private, d.json)
	fl, _, err := builder.BuildUnixFSFile(testutil.HashStreamReader("codec test ", 5000), "size-1000", &m.LinkSystem)
	if err != nil {
		t.Fatal(err)
	}
	d.file = fl.(cidlink.Link).Cid
	for _, c := range []cid.Cid{d.cborIntKey, d.jsonDupKeys} {
		if _, err := dag.Decode(c, m.blocks[c.KeyString()]); err == nil {
			t.Fatalf("%s decodes: the test needs a block its codec's decoder refuses", c)
		}
	}
	m.store(t, idx, packs, d.parent)
	return d
}

// TestCARCodecs checks that blocks of codecs without links (cbor, json,
// raw, identity) are written as leaves in every dag-scope, as the root of a
// CAR and as children of a dag-cbor node, decodable or not; that a codec
// the gateway does not know fails (501 "unsupported codec 0x…") only where
// its links must be read; and that raw answers every block.
func TestCARCodecs(t *testing.T) {
	idx, packs := backends()[0].stores(t)
	d := newCodecDAG(t, idx, packs)
	srv := newServer(t, idx, packs, nil)
	leaves := []cid.Cid{d.cbor, d.cborIntKey, d.json, d.jsonDupKeys, d.raw, d.identity}
	names := []string{"cbor", "cbor refused by its decoder", "json", "json refused by its decoder", "raw", "identity codec", "unknown codec"}
	for _, scope := range []string{"all", "entity", "block"} {
		for _, dups := range []string{"n", "y"} {
			q := "?format=car&dag-scope=" + scope + "&car-dups=" + dups
			for i, c := range append(leaves, d.private) {
				if c.Equals(d.private) && scope == "all" {
					continue // below
				}
				t.Run(names[i]+q, func(t *testing.T) {
					r := fetch(t, srv, http.MethodGet, "/ipfs/"+c.String()+q)
					checkCARResponse(t, r, dups == "y", c, []cid.Cid{c})
					if r.header.Get("Content-Length") == "" {
						t.Error("no Content-Length: the CAR of one leaf has a known size")
					}
				})
			}
			t.Run("dag-cbor parent"+q, func(t *testing.T) {
				want := []cid.Cid{d.parent}
				if scope == "all" {
					want = append(want, leaves...)
					want = append(want, d.inner)
					if dups == "y" {
						want = append(want, d.cbor, d.json)
					}
				}
				checkCARResponse(t, fetch(t, srv, http.MethodGet, "/ipfs/"+d.parent.String()+q), dups == "y", d.parent, want)
			})
			t.Run("path to a cbor child"+q, func(t *testing.T) {
				// /6/1: the parent's seventh link (inner), then its second (json).
				r := fetch(t, srv, http.MethodGet, "/ipfs/"+d.parent.String()+"/6/1"+q)
				checkCARResponse(t, r, dups == "y", d.json, []cid.Cid{d.parent, d.inner, d.json})
			})
		}
	}
	t.Run("path inside a cbor block", func(t *testing.T) {
		r := fetch(t, srv, http.MethodGet, "/ipfs/"+d.cbor.String()+"/a?format=car")
		checkCARResponse(t, r, false, d.cbor, []cid.Cid{d.cbor})
	})
	t.Run("raw", func(t *testing.T) {
		for _, c := range append(leaves, d.private, d.parent) {
			r := fetch(t, srv, http.MethodGet, "/ipfs/"+c.String()+"?format=raw")
			if r.status != http.StatusOK || r.readErr != nil {
				t.Errorf("%s: status %d, %v", c, r.status, r.readErr)
			}
		}
	})
	t.Run("unknown codec, links needed", func(t *testing.T) {
		for _, target := range []string{
			"/ipfs/" + d.private.String() + "?format=car",
			"/ipfs/" + d.private.String() + "?format=car&car-dups=y",
			"/ipfs/" + d.withPrivate.String() + "/1?format=car",
			"/ipfs/" + d.private.String() + "/x?format=car",
		} {
			r := fetch(t, srv, http.MethodGet, target)
			checkError(t, r, http.StatusNotImplemented)
			if !strings.Contains(string(r.body), "unsupported codec 0x300000") || strings.Contains(string(r.body), "decode") {
				t.Errorf("%s: %q, want it to say unsupported codec 0x300000 (not a block that does not decode)", target, r.body)
			}
		}
	})
	t.Run("unknown codec below the root", func(t *testing.T) {
		// Links of the private block are needed under dag-scope=all: the
		// CAR is cut after it, never ended as if complete.
		r := fetch(t, srv, http.MethodGet, "/ipfs/"+d.withPrivate.String()+"?format=car")
		if r.status != http.StatusOK || r.readErr == nil {
			t.Fatalf("status %d, read error %v: want 200 then a cut", r.status, r.readErr)
		}
		got, _ := parseCAR(r.body)
		if want := []cid.Cid{d.withPrivate, d.raw, d.private}; !equalCIDs(got.cids(), want) {
			t.Errorf("blocks before the cut %v, want %v", got.cids(), want)
		}
		// dag-scope=entity and block need no links of it.
		for _, scope := range []string{"entity", "block"} {
			r := fetch(t, srv, http.MethodGet, "/ipfs/"+d.withPrivate.String()+"?format=car&dag-scope="+scope)
			checkCARResponse(t, r, false, d.withPrivate, []cid.Cid{d.withPrivate})
		}
	})
}

// TestCARTerminalFirst checks the terminal-first path: the terminal block
// of a CAR reaches the client before any block below it is read, for a
// dag-cbor node of cbor and json leaves (dag-scope=all) and a UnixFS file
// (entity, whole and a slice); the children then follow.
func TestCARTerminalFirst(t *testing.T) {
	idx, packs := backends()[0].stores(t)
	d := newCodecDAG(t, idx, packs)
	for _, tc := range []struct {
		name  string
		root  cid.Cid
		query string
		more  int // blocks after the terminal
	}{
		{"dag-cbor of cbor and json", d.parent, "?format=car", 7},
		{"dag-cbor of cbor and json/dups=y", d.parent, "?format=car&car-dups=y", 9},
		{"file/entity", d.file, "?format=car&dag-scope=entity", 5},
		{"file/entity-bytes", d.file, "?format=car&dag-scope=entity&entity-bytes=1500:2500", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := make(chan struct{})
			var once bool
			open := func() {
				if !once {
					once = true
					close(gate)
				}
			}
			defer open()
			// The pack store holds every read after the first (the
			// terminal's) until the gate opens.
			hooks := &packHooks{PackStore: packs}
			hooks.getRange = func(ctx context.Context, n int64, loc store.Location, off, length int64) (io.ReadCloser, error) {
				if n > 1 {
					select {
					case <-gate:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				return packs.GetRange(ctx, loc, off, length)
			}
			srv := newServer(t, idx, hooks, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ipfs/"+tc.root.String()+tc.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("no response while the children's reads wait: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d: %q", resp.StatusCode, b)
			}
			br, err := carv2.NewBlockReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			first, err := br.Next()
			if err != nil {
				t.Fatalf("the terminal block did not come before its children were read: %v", err)
			}
			if !first.Cid().Equals(tc.root) {
				t.Fatalf("first block %s, want the terminal %s", first.Cid(), tc.root)
			}
			open()
			n := 0
			for {
				_, err := br.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("after %d blocks: %v", n, err)
				}
				n++
			}
			if n != tc.more {
				t.Errorf("%d blocks after the terminal, want %d", n, tc.more)
			}
		})
	}
}
