package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseRequest checks that ParseRequest never panics and returns
// either a consistent Request, whose headers are valid header values, or
// a *RequestError with a 4xx status.
func FuzzParseRequest(f *testing.F) {
	seeds := []struct{ method, path, query, accept string }{
		{"GET", "/ipfs/" + rawBlockCID, "format=raw", ""},
		{"HEAD", "/ipfs/" + rawBlockCID, "", rawAccept},
		{"GET", "/ipfs/" + emptyIDCID, "format=car", ""},
		{"GET", "/ipfs/" + v0CID, "format=car&dag-scope=entity&entity-bytes=0:1023", ""},
		{"GET", "/ipfs/" + dirCID + "/subdir/multiblock.txt", "dag-scope=entity&entity-bytes=-1024:*", "application/vnd.ipld.car; version=1; order=dfs; dups=y"},
		{"GET", "/ipfs/" + dirCID + "/%C4%85/%C4%99", "car-dups=y&car-order=unk&filename=%22x%22.car", carAccept},
		{"GET", "/ipfs/" + dirCID + "/", "", "application/vnd.ipld.car;order=foo, application/vnd.ipld.car;order=dfs;dups=y;q=0.5"},
		{"GET", "/ipfs/" + rawBlockCID, "", "application/vnd.ipld.car; version=1; order=dfs, application/vnd.ipld.raw;q=0.5"},
		{"GET", "/ipfs/" + rawBlockCID, "", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		{"GET", "/ipfs/" + dirCID + "/a/../b", "format=car", ""},
		{"GET", "/ipfs/" + dirCID, "format=car&car-version=2", ""},
		{"GET", "/ipfs/" + dirCID, "format=car&dag-scope=block&entity-bytes=10:5", ""},
		{"POST", "/ipfs/" + rawBlockCID, "format=raw", ""},
		{"GET", "/ipns/example.org", "format=ipns-record", ""},
		{"GET", "/ipfs/", "", ""},
		{"GET", "/ipfs/" + dirCID + "/" + strings.Repeat("a", 5000), "x=" + strings.Repeat("b", 5000) + "&filename=" + strings.Repeat("%C3%A9", 3000), carAccept},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.accept)
	}
	f.Fuzz(func(t *testing.T, method, path, query, accept string) {
		u, err := url.ParseRequestURI(path + "?" + query)
		if err != nil {
			return // not a request line a server would hand over
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}}
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		req, err := ParseRequest(r)
		if err != nil {
			var reqErr *RequestError
			if !errors.As(err, &reqErr) {
				t.Fatalf("error %v (%T) is not a *RequestError", err, err)
			}
			if reqErr.Status < 400 || reqErr.Status > 499 || reqErr.Message == "" {
				t.Fatalf("error status %d message %q", reqErr.Status, reqErr.Message)
			}
			if status, _ := ErrorStatus(err); status != reqErr.Status {
				t.Fatalf("ErrorStatus %d, RequestError %d", status, reqErr.Status)
			}
			return
		}
		checkRequest(t, req)
	})
}

func checkRequest(t *testing.T, req *Request) {
	t.Helper()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		t.Fatalf("method %q accepted", req.Method)
	}
	if !req.Root.Defined() || req.RootText == "" {
		t.Fatal("no root CID")
	}
	for _, s := range req.Segments {
		if s == "" || s == "." || s == ".." {
			t.Fatalf("segment %q accepted", s)
		}
	}
	switch req.Format {
	case FormatRaw:
		if len(req.Segments) > 0 {
			t.Fatal("raw request with a path")
		}
	case FormatCAR:
		switch req.Car.Scope {
		case ScopeAll, ScopeBlock, ScopeEntity:
		default:
			t.Fatalf("scope %q", req.Car.Scope)
		}
		if req.Car.EntityBytes != nil && req.Car.Scope != ScopeEntity {
			t.Fatal("entity-bytes outside dag-scope=entity")
		}
	default:
		t.Fatalf("format %d", req.Format)
	}
	h := http.Header{}
	SetHeaders(h, req, nil)
	for k, vs := range h {
		for _, v := range vs {
			if strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 && c != '\t' || c == 0x7f }) {
				t.Fatalf("header %s has a control character: %q", k, v)
			}
		}
	}
	if !strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="`) {
		t.Fatalf("Content-Disposition %q", h.Get("Content-Disposition"))
	}
	for k, vs := range h {
		for _, v := range vs {
			if len(v) > MaxHeaderEchoBytes {
				t.Fatalf("header %s of %d bytes, over MaxHeaderEchoBytes", k, len(v))
			}
		}
	}
}

// FuzzParseRange checks that parseRange never panics and that any range it
// returns lies inside the block.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-99", "bytes=100-", "bytes=-100", "bytes=0-1,5-6", "bytes=-0", "bytes=99999999999999999999-"} {
		f.Add(s, int64(1000))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		c, err := parseRange(header, size)
		var rangeErr *RangeError
		switch {
		case err != nil && !errors.As(err, &rangeErr):
			t.Fatalf("error %v", err)
		case c != nil && (c.First < 0 || c.First > c.Last || c.Last >= size):
			t.Fatalf("range %+v of %d", c, size)
		}
	})
}

// FuzzParseEntityBytes checks that parseEntityBytes never panics, that
// what it accepts prints back as given, and that Resolve stays in bounds.
func FuzzParseEntityBytes(f *testing.F) {
	for _, s := range []string{"0:*", "0:1023", "-1024:*", "499:-1000", "10:5", "*:*"} {
		f.Add(s, int64(3072))
	}
	f.Fuzz(func(t *testing.T, s string, size int64) {
		eb, err := parseEntityBytes(s)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if first, last, ok := eb.Resolve(size); ok && (first < 0 || first > last || last >= size) {
			t.Fatalf("%q of %d: %d-%d", s, size, first, last)
		}
	})
}
