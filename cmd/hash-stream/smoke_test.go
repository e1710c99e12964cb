package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// smoke passes against `hash-stream serve` over the sample the README
// loads and over a multi-block file, and fails, saying why, against a
// gateway that answers wrong.
func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, dir, "pack", "write", "../../testdata/hello.txt"); code != 0 {
		t.Fatalf("pack write: %s", errOut)
	}
	const file = "bafybeicnbjdnewgphuifn3mfbao2r4rbjyhyjc254pbmsaw3yq2gmyi4ha" // random-3m.bin
	if code, _, errOut := runCLI(t, dir, "pack", "write", filepath.Join(testutil.Shared(t), "interop", "originals", "random-3m.bin")); code != 0 {
		t.Fatalf("pack write: %s", errOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr, _ := startGateway(t, ctx, dir)

	code, out, errOut := runCLI(t, dir, "smoke", "http://"+addr)
	if code != 0 || !strings.Contains(out, "all checks passed") || strings.Count(out, "ok   ") != 8 {
		t.Fatalf("smoke of the sample: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"X-Cache: (none: not behind CloudFront)", "1 blocks",
		"ok   HEAD http://" + addr, "200, same Content-Type and ETag as GET",
		"ok   OPTIONS http://" + addr, "204, any origin may GET with Accept",
		": 404 for a CID no store holds",
		"bytes as Content-Length says",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCLI(t, dir, "smoke", "http://"+addr+"/", file)
	if code != 0 || !strings.Contains(out, "5 blocks") || !strings.Contains(out, "DAG complete") {
		t.Fatalf("smoke of a 5-block file: exit %d\n%s%s", code, out, errOut)
	}

	// A gateway that breaks one thing fails the smoke test on that check,
	// naming the problem, while the other checks still pass. The broken
	// gateway is a proxy on 127.0.0.1 in front of the real one that
	// forwards each request as it came (method and headers) and edits the
	// answer.
	real := "http://" + addr
	isCAR := func(h http.Header) bool { return strings.Contains(h.Get("Content-Type"), "car") }
	unknown := func(r *http.Request) bool { return !strings.Contains(r.URL.Path, file) }
	for _, tc := range []struct {
		name string
		edit func(r *http.Request, status int, h http.Header, body []byte) (int, []byte)
		// want is in the FAIL line; alsoOK are checks that still pass.
		want   string
		alsoOK []string
	}{
		{"no cache header", func(_ *http.Request, st int, h http.Header, b []byte) (int, []byte) {
			h.Del("Cache-Control")
			return st, b
		},
			"Cache-Control", []string{"ok   OPTIONS"}},
		{"corrupt byte", func(r *http.Request, st int, _ http.Header, b []byte) (int, []byte) {
			if r.Method == http.MethodGet && st == http.StatusOK {
				b[len(b)-3] ^= 1
			}
			return st, b
		}, "verification", []string{"ok   OPTIONS"}},
		{"partial DAG", func(_ *http.Request, st int, h http.Header, b []byte) (int, []byte) {
			if isCAR(h) && len(b) > 2+36+12345 {
				return st, b[:len(b)-(2+36+12345)] // drop the last leaf's section: length prefix, CID, 12345 bytes
			}
			return st, b
		}, "lacks block", []string{"ok   OPTIONS"}},
		// HEAD
		{"HEAD refused", func(r *http.Request, st int, _ http.Header, b []byte) (int, []byte) {
			if r.Method == http.MethodHead {
				return http.StatusMethodNotAllowed, nil
			}
			return st, b
		}, "HEAD " + "http://", []string{"ok   OPTIONS", "(fetch 2)"}},
		{"HEAD with another ETag", func(r *http.Request, st int, h http.Header, b []byte) (int, []byte) {
			if r.Method == http.MethodHead {
				h.Set("Etag", `"not-the-get-one"`)
			}
			return st, b
		}, `ETag "\"not-the-get-one\""`, []string{"ok   OPTIONS", "(fetch 2)"}},
		// OPTIONS
		{"preflight refused", func(r *http.Request, st int, _ http.Header, b []byte) (int, []byte) {
			if r.Method == http.MethodOptions {
				return http.StatusMethodNotAllowed, nil
			}
			return st, b
		}, "FAIL OPTIONS", []string{"ok   HEAD", "404 for a CID no store holds"}},
		{"preflight without CORS", func(r *http.Request, st int, h http.Header, b []byte) (int, []byte) {
			if r.Method == http.MethodOptions {
				h.Del("Access-Control-Allow-Origin")
				h.Del("Access-Control-Allow-Methods")
			}
			return st, b
		}, "Access-Control-Allow-Origin", []string{"ok   HEAD", "404 for a CID no store holds"}},
		// 404
		{"unknown CID served", func(r *http.Request, st int, _ http.Header, b []byte) (int, []byte) {
			if unknown(r) {
				return http.StatusOK, []byte("something")
			}
			return st, b
		}, "status 200 for a CID no store holds, want 404", []string{"ok   HEAD", "ok   OPTIONS"}},
		{"unknown CID fails", func(r *http.Request, st int, _ http.Header, b []byte) (int, []byte) {
			if unknown(r) {
				return http.StatusBadGateway, []byte("store unreachable")
			}
			return st, b
		}, "status 502 for a CID no store holds", []string{"ok   HEAD", "ok   OPTIONS"}},
		// Byte counts: a Function URL's remapped length, and Content-Length.
		{"cut against the remapped length", func(r *http.Request, st int, h http.Header, b []byte) (int, []byte) {
			if r.Method == http.MethodGet && st == http.StatusOK {
				h.Set("X-Amzn-Remapped-Content-Length", strconv.Itoa(len(b)+100))
			}
			return st, b
		}, "X-Amzn-Remapped-Content-Length", []string{"ok   OPTIONS", "404 for a CID no store holds"}},
		{"cut against Content-Length", func(r *http.Request, st int, h http.Header, b []byte) (int, []byte) {
			if r.Method == http.MethodGet && st == http.StatusOK && !isCAR(h) {
				h.Set("Content-Length", strconv.Itoa(len(b)+10))
			}
			return st, b
		}, "body cut after", []string{"ok   OPTIONS", "404 for a CID no store holds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				req, err := http.NewRequestWithContext(r.Context(), r.Method, real+r.URL.String(), nil)
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				req.Header = r.Header.Clone()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				h := resp.Header.Clone()
				h.Del("Content-Length")
				status, body := tc.edit(r, resp.StatusCode, h, body)
				for k, v := range h {
					w.Header()[k] = v
				}
				w.WriteHeader(status)
				w.Write(body)
			}))
			defer bad.Close()
			code, out, _ := runCLI(t, dir, "smoke", bad.URL, file)
			if code != 1 || !strings.Contains(out, "FAIL") {
				t.Fatalf("exit %d, want 1 with a FAIL line:\n%s", code, out)
			}
			var fails []string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "FAIL") {
					fails = append(fails, l)
				}
			}
			if !strings.Contains(strings.Join(fails, "\n"), tc.want) {
				t.Errorf("FAIL lines lack %q:\n%s", tc.want, out)
			}
			for _, ok := range tc.alsoOK {
				if !strings.Contains(out, ok) {
					t.Errorf("want %q still passing:\n%s", ok, out)
				}
			}
		})
	}
	if code, _, errOut := runCLI(t, dir, "smoke", "ftp://x"); code != 1 || !strings.Contains(errOut, "not an http(s) URL") {
		t.Errorf("bad URL: exit %d %s", code, errOut)
	}
}
