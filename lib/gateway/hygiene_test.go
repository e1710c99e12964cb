package gateway_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	basicnode "github.com/ipld/go-ipld-prime/node/basic"
	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
)

// TestChunkedRequestClosesConnection sends, on one keep-alive connection,
// a request with a chunked body (with and without a Content-Length beside
// it: RFC 9112 section 6.3), then a second request: the first is answered
// with Connection: close and the connection ends there, the second is
// never answered. A plain request keeps the connection for the second.
func TestChunkedRequestClosesConnection(t *testing.T) {
	idx, packs := backends()[0].stores(t)
	m := newMemLinkSystem()
	leaf := m.put(cid.Raw, []byte("a raw block"))
	m.store(t, idx, packs, leaf)
	srv := newServer(t, idx, packs, nil)
	target := "/ipfs/" + leaf.String() + "?format=raw"
	for _, tc := range []struct {
		name   string
		header string
		body   string
		closes bool
	}{
		{"chunked and Content-Length", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n", true},
		{"Content-Length and chunked", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n", true},
		{"chunked", "Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n0\r\n\r\n", true},
		{"plain", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n%s", target, tc.header, tc.body)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || string(body) != "a raw block" {
				t.Fatalf("first response: %d %q, %v", resp.StatusCode, body, err)
			}
			if resp.Close != tc.closes {
				t.Errorf("Connection: close is %v (header %q), want %v", resp.Close, resp.Header.Get("Connection"), tc.closes)
			}
			// A second request on the same connection.
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", target)
			resp, err = http.ReadResponse(br, nil)
			if !tc.closes {
				if err != nil {
					t.Fatalf("second request on a kept connection: %v", err)
				}
				resp.Body.Close()
				return
			}
			if err == nil {
				t.Fatalf("the second request was answered (%d) on a connection that must close", resp.StatusCode)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the connection stayed open: %v", err)
			}
		})
	}
}

// long100KDigest is a CID whose multihash (code sha2-256) has a 100 KB
// digest: it parses, and no hash function makes it.
func long100KDigest(t *testing.T) cid.Cid {
	t.Helper()
	mh, err := multihash.Encode(bytes.Repeat([]byte{1}, 100<<10), multihash.SHA2_256)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.DagCBOR, mh)
}

// headerBytes is the size of a response's header fields.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// TestResponseHeadersBounded checks that no response header grows with
// the request past gateway.MaxHeaderEchoBytes: a 100 KB path (X-Ipfs-Path,
// Content-Disposition, Content-Location), a 100 KB ?filename=, a path of
// many segments (X-Ipfs-Roots, a CID each) are clipped or left out; an
// identity CID of more than gateway.MaxDigestBytes of data, or any CID of
// a longer digest (echoed in the Etag and the file name), is refused.
func TestResponseHeadersBounded(t *testing.T) {
	idx, packs := backends()[0].stores(t)
	m := newMemLinkSystem()
	leaf := m.put(cid.Raw, []byte("a raw block"))
	// A chain of dag-cbor nodes {"a": next}, 60 deep, down to leaf.
	chain := []cid.Cid{leaf}
	for range 60 {
		n, err := qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "a", qp.Link(cidlink.Link{Cid: chain[len(chain)-1]}))
		})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := dagcbor.Encode(n, &buf); err != nil {
			t.Fatal(err)
		}
		chain = append(chain, m.put(cid.DagCBOR, buf.Bytes()))
	}
	top := chain[len(chain)-1]
	m.store(t, idx, packs, top)
	srv := newServer(t, idx, packs, nil)

	long := strings.Repeat("x", 100<<10)
	accented := strings.Repeat("é", 50<<10)
	identity := func(n int) cid.Cid {
		mh, err := multihash.Sum(bytes.Repeat([]byte{'i'}, n), multihash.IDENTITY, -1)
		if err != nil {
			t.Fatal(err)
		}
		return cid.NewCidV1(cid.Raw, mh)
	}
	for _, tc := range []struct {
		name   string
		target string
		accept string
		check  func(t *testing.T, r response)
	}{
		{"100 KB path", "/ipfs/" + leaf.String() + "/" + long + "?format=car", "", func(t *testing.T, r response) {
			if v := r.header.Get("X-Ipfs-Path"); v != "" {
				t.Errorf("X-Ipfs-Path of %d bytes", len(v))
			}
			if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="`+leaf.String()+"_xxx") || !strings.HasSuffix(cd, `.car"`) {
				t.Errorf("Content-Disposition %.100q…", cd)
			}
		}},
		{"100 KB path, format from Accept", "/ipfs/" + leaf.String() + "/" + long, "application/vnd.ipld.car", func(t *testing.T, r response) {
			if v := r.header.Get("Content-Location"); v != "" {
				t.Errorf("Content-Location of %d bytes", len(v))
			}
		}},
		{"100 KB query", "/ipfs/" + leaf.String() + "?x=" + long, "application/vnd.ipld.raw", func(t *testing.T, r response) {
			if v := r.header.Get("Content-Location"); v != "" {
				t.Errorf("Content-Location of %d bytes", len(v))
			}
		}},
		{"100 KB filename", "/ipfs/" + leaf.String() + "?format=raw&filename=" + long + ".bin", "", func(t *testing.T, r response) {
			if cd := r.header.Get("Content-Disposition"); !strings.HasSuffix(cd, `x.bin"`) {
				t.Errorf("Content-Disposition %.100q…", cd)
			}
		}},
		{"100 KB non-ASCII filename", "/ipfs/" + leaf.String() + "?format=raw&filename=" + url.QueryEscape(accented) + ".bin", "", func(t *testing.T, r response) {
			if cd := r.header.Get("Content-Disposition"); !strings.Contains(cd, "filename*=UTF-8''%C3%A9") || !strings.HasSuffix(cd, ".bin") {
				t.Errorf("Content-Disposition %.100q…", cd)
			}
		}},
		{"60 segments", "/ipfs/" + top.String() + strings.Repeat("/a", 60) + "?format=car&dag-scope=block", "", func(t *testing.T, r response) {
			if v := r.header.Get("X-Ipfs-Roots"); v != "" {
				t.Errorf("X-Ipfs-Roots of %d bytes", len(v))
			}
			if v := r.header.Get("X-Ipfs-Path"); v == "" {
				t.Error("no X-Ipfs-Path for a short path")
			}
		}},
		{"2 segments", "/ipfs/" + top.String() + "/a/a?format=car&dag-scope=block", "", func(t *testing.T, r response) {
			if want := top.String() + "," + chain[len(chain)-2].String() + "," + chain[len(chain)-3].String(); r.header.Get("X-Ipfs-Roots") != want {
				t.Errorf("X-Ipfs-Roots %q, want %q", r.header.Get("X-Ipfs-Roots"), want)
			}
		}},
		{"identity CID of MaxDigestBytes", "/ipfs/" + identity(gateway.MaxDigestBytes).String() + "?format=raw", "", func(t *testing.T, r response) {
			if r.status != http.StatusOK || len(r.body) != gateway.MaxDigestBytes {
				t.Errorf("status %d, %d bytes", r.status, len(r.body))
			}
		}},
		{"identity CID of MaxDigestBytes, CAR", "/ipfs/" + identity(gateway.MaxDigestBytes).String() + "?format=car", "", func(t *testing.T, r response) {
			if r.status != http.StatusOK || r.header.Get("Etag") == "" {
				t.Errorf("status %d, Etag %q", r.status, r.header.Get("Etag"))
			}
		}},
		{"identity CID of 100 KB", "/ipfs/" + identity(100<<10).String() + "?format=raw", "", func(t *testing.T, r response) {
			checkError(t, r, http.StatusBadRequest)
		}},
		{"CID of a 100 KB digest", "/ipfs/" + long100KDigest(t).String() + "/x?format=car", "", func(t *testing.T, r response) {
			checkError(t, r, http.StatusBadRequest)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.accept != "" {
				header = []string{"Accept", tc.accept}
			}
			r := fetch(t, srv, http.MethodGet, tc.target, header...)
			if r.status != http.StatusOK && r.status != http.StatusBadRequest {
				t.Fatalf("status %d: %q", r.status, r.body)
			}
			for k, vs := range r.header {
				for _, v := range vs {
					if len(v) > gateway.MaxHeaderEchoBytes {
						t.Errorf("%s: %d bytes", k, len(v))
					}
				}
			}
			if n := headerBytes(r.header); n > 4<<10 {
				t.Errorf("%d bytes of response header", n)
			}
			tc.check(t, r)
		})
	}
}
