package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
)

// A browser's preflight gets 204 with what it asked to send allowed, and
// every answer (content or error) may be read by any origin.
func TestCORS(t *testing.T) {
	idx, packs := memory.NewIndexStore(), memory.NewPackStore()
	f := writeFaultFile(t, idx, packs)
	srv := newServer(t, idx, packs, nil)

	// What Chromium sends before a fetch() with Accept and Range headers.
	r := fetch(t, srv, http.MethodOptions, "/ipfs/"+f.root.String()+"?format=car",
		"Origin", "https://app.example", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "accept,range")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("preflight: status %d, %d body bytes", r.status, len(r.body))
	}
	checkHeader(t, r.header, "Access-Control-Allow-Origin", "*")
	for _, want := range []string{"GET", "HEAD", "OPTIONS"} {
		if !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), want) {
			t.Errorf("Allow-Methods %q lacks %s", r.header.Get("Access-Control-Allow-Methods"), want)
		}
	}
	for _, want := range []string{"accept", "range", "if-none-match"} {
		if !strings.Contains(strings.ToLower(r.header.Get("Access-Control-Allow-Headers")), want) {
			t.Errorf("Allow-Headers %q lacks %s", r.header.Get("Access-Control-Allow-Headers"), want)
		}
	}
	if r.header.Get("Access-Control-Max-Age") == "" {
		t.Error("no Access-Control-Max-Age")
	}

	for _, target := range []string{
		"/ipfs/" + f.root.String() + "?format=car",
		"/ipfs/" + f.leaf(0).String() + "?format=raw",
		"/ipfs/not-a-cid?format=raw", // errors too
	} {
		r := fetch(t, srv, http.MethodGet, target, "Origin", "https://app.example")
		checkHeader(t, r.header, "Access-Control-Allow-Origin", "*")
		if exp := r.header.Get("Access-Control-Expose-Headers"); !strings.Contains(exp, "X-Ipfs-Roots") || !strings.Contains(exp, "Content-Range") {
			t.Errorf("%s: Expose-Headers %q", target, exp)
		}
	}
}
