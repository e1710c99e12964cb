package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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
	if code != 0 || !strings.Contains(out, "all checks passed") || strings.Count(out, "ok   ") != 4 {
		t.Fatalf("smoke of the sample: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "X-Cache: (none: not behind CloudFront)") || !strings.Contains(out, "1 blocks") {
		t.Errorf("report:\n%s", out)
	}
	code, out, errOut = runCLI(t, dir, "smoke", "http://"+addr+"/", file)
	if code != 0 || !strings.Contains(out, "5 blocks") || !strings.Contains(out, "DAG complete") {
		t.Fatalf("smoke of a 5-block file: exit %d\n%s%s", code, out, errOut)
	}

	// A gateway that drops a header, corrupts a byte, or serves a partial
	// DAG fails the smoke test, naming the problem.
	real := "http://" + addr
	for _, tc := range []struct {
		name, want string
		edit       func(w http.ResponseWriter, body []byte, h http.Header) []byte
	}{
		{"no cache header", "Cache-Control", func(_ http.ResponseWriter, b []byte, h http.Header) []byte { h.Del("Cache-Control"); return b }},
		{"corrupt byte", "verification", func(_ http.ResponseWriter, b []byte, _ http.Header) []byte { b[len(b)-3] ^= 1; return b }},
		{"partial DAG", "lacks block", func(_ http.ResponseWriter, b []byte, h http.Header) []byte {
			if strings.Contains(h.Get("Content-Type"), "car") {
				return b[:len(b)-(2+36+12345)] // drop the last leaf's section: length prefix, CID, 12345 bytes
			}
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				resp, err := http.Get(real + r.URL.String())
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				defer resp.Body.Close()
				body := make([]byte, 0, 4<<20)
				buf := make([]byte, 64<<10)
				for {
					n, err := resp.Body.Read(buf)
					body = append(body, buf[:n]...)
					if err != nil {
						break
					}
				}
				h := resp.Header.Clone()
				body = tc.edit(w, body, h)
				h.Del("Content-Length")
				for k, v := range h {
					w.Header()[k] = v
				}
				w.WriteHeader(resp.StatusCode)
				w.Write(body)
			}))
			defer bad.Close()
			code, out, _ := runCLI(t, dir, "smoke", bad.URL, file)
			if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want 1 with %q:\n%s", code, tc.want, out)
			}
		})
	}
	if code, _, errOut := runCLI(t, dir, "smoke", "ftp://x"); code != 1 || !strings.Contains(errOut, "not an http(s) URL") {
		t.Errorf("bad URL: exit %d %s", code, errOut)
	}
}
