package gateway_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	basicnode "github.com/ipld/go-ipld-prime/node/basic"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// http10Get sends target as an HTTP/1.0 GET on a raw connection and reads
// to the end: the status line, the header, the body bytes, and how the
// connection ended (io.EOF for a clean close).
func http10Get(t *testing.T, addr, target string) (status string, header http.Header, body []byte, end error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: test\r\n\r\n", target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	// Read the rest of the connection raw, not through resp.Body, which
	// would stop at a Content-Length.
	body, end = io.ReadAll(br)
	if end == nil {
		end = io.EOF
	}
	return resp.Status, resp.Header, body, end
}

// TestHTTP10CutIsReset serves a CAR whose second leaf is corrupt to HTTP/1.0
// clients, which have no chunked encoding: with gateway.ConnContext the cut
// must end in a TCP reset, never in a clean close that makes the body
// look complete; with a Content-Length as without (a CAR through a
// dag-cbor node, whose size is not known before the walk).
func TestHTTP10CutIsReset(t *testing.T) {
	idx, packs := backends()[0].stores(t)
	f := writeFaultFile(t, idx, packs)
	m := newMemLinkSystem()
	node, err := qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "file", qp.Link(cidlink.Link{Cid: f.root}))
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Store(ipld.LinkContext{}, cidlink.LinkPrototype{Prefix: cid.Prefix{
		Version: 1, Codec: cid.DagCBOR, MhType: 0x12, MhLength: 32}}, node)
	if err != nil {
		t.Fatal(err)
	}
	wrapper := l.(cidlink.Link).Cid
	m.store(t, idx, packs, wrapper)
	leaf := f.blobs[1]
	rewritePack(t, packs, leaf.Pack.Multihash, func(b []byte) []byte { b[leaf.Offset+leaf.Length/2] ^= 0x01; return b })

	h := gateway.New(streamer.New(index.NewReader(idx), packs))
	serve := func(connContext bool) string {
		srv := httptest.NewUnstartedServer(h)
		if connContext {
			srv.Config.ConnContext = gateway.ConnContext
		}
		srv.Start()
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	withReset, plain := serve(true), serve(false)
	for _, tc := range []struct {
		target string
		length bool // a Content-Length is announced
	}{
		{"/ipfs/" + f.root.String() + "?format=car", true},
		{"/ipfs/" + f.root.String() + "?format=car&car-dups=y", true},
		{"/ipfs/" + wrapper.String() + "?format=car", false},
		{"/ipfs/" + wrapper.String() + "?format=car&car-dups=y", false},
	} {
		t.Run(tc.target, func(t *testing.T) {
			status, header, body, end := http10Get(t, withReset, tc.target)
			if !strings.HasPrefix(status, "200") {
				t.Fatalf("status %q, want 200 then a cut", status)
			}
			if got := header.Get("Content-Length") != ""; got != tc.length {
				t.Errorf("Content-Length %q", header.Get("Content-Length"))
			}
			if !errors.Is(end, syscall.ECONNRESET) {
				t.Errorf("the body (%d bytes) ended with %v, want a connection reset", len(body), end)
			}
			// The reset may drop bytes still in flight: what came is some
			// prefix, never the whole CAR.
			if got, err := parseCAR(body); err == nil && len(got.blocks) >= len(f.blobs) {
				t.Errorf("the cut body holds %d blocks", len(got.blocks))
			}
			// Without ConnContext, net/http closes the connection cleanly:
			// only a Content-Length then shows the cut.
			_, _, body, end = http10Get(t, plain, tc.target)
			t.Logf("without ConnContext: %d bytes, then %v", len(body), end)
		})
	}
}
