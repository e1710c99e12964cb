package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/ipfs/go-cid"
)

// latencyProxy stands in front of the S3 server: it delays every request
// by delay, as a far away S3 would, and notes each one.
type latencyProxy struct {
	proxy       *httputil.ReverseProxy
	delay       time.Duration
	indexBucket string

	mu   sync.Mutex
	seen []s3Request
}

// s3Request is one request the proxy passed on.
type s3Request struct {
	at   time.Time
	kind string // "LIST", "index GET", "pack GET"
	key  string
}

// newLatencyProxy starts a latencyProxy in front of endpoint and returns
// it and its URL.
func newLatencyProxy(t *testing.T, endpoint, indexBucket string, delay time.Duration) (*latencyProxy, string) {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &latencyProxy{proxy: httputil.NewSingleHostReverseProxy(target), delay: delay, indexBucket: indexBucket}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *latencyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := s3Request{at: time.Now(), key: r.URL.Path}
	switch {
	case r.URL.Query().Has("list-type") || r.URL.Query().Has("prefix"):
		req.kind = "LIST"
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/"+p.indexBucket+"/"):
		req.kind = "index GET"
	case r.Method == http.MethodGet:
		req.kind = "pack GET"
	default:
		req.kind = r.Method
	}
	p.mu.Lock()
	p.seen = append(p.seen, req)
	p.mu.Unlock()
	time.Sleep(p.delay)
	p.proxy.ServeHTTP(w, r)
}

// since returns the kinds of the requests made since t, counted, and
// when each started after t.
func (p *latencyProxy) since(t time.Time) (map[string]int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := map[string]int{}
	var timeline []string
	for _, r := range p.seen {
		if !r.at.Before(t) {
			n[r.kind]++
			timeline = append(timeline, fmt.Sprintf("%s@%dms", r.kind, r.at.Sub(t).Milliseconds()))
		}
	}
	return n, strings.Join(timeline, ", ")
}

// startServe runs `hash-stream serve` with the variables vars (and the
// flags args) on a free loopback port until the test ends, and returns
// its address.
func startServe(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	var logs testutil.Buffer
	env := &cliEnv{stdout: io.Discard, stderr: &logs, getenv: func(k string) string { return vars[k] },
		onListen: func(a string) { addrc <- a }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	select {
	case addr := <-addrc:
		return addr
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return ""
}

// timedGet fetches url and returns the time to the first body byte and the
// body.
func timedGet(t *testing.T, url string) (time.Duration, []byte) {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.Peek(1); err != nil {
		t.Fatalf("%s: status %d, %v", url, resp.StatusCode, err)
	}
	ttfb := time.Since(start)
	body, err := io.ReadAll(br)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s: status %d, %v", url, resp.StatusCode, err)
	}
	return ttfb, body
}

// TestRoundTrips counts the S3 requests `serve` makes per request, with
// 20 ms of latency in front of the S3 server: each index object is read at
// most once per request and never again once cached. A cold CAR's first
// body bytes leave after the LIST, the index GETs (in parallel) and the
// root block's read; TTFB figures are logged, not asserted.
func TestRoundTrips(t *testing.T) {
	s3Server.Require(t)
	const delay = 20 * time.Millisecond
	vars := map[string]string{
		envBackend:        "s3",
		s3.EnvIndexBucket: s3Server.NewBucket(t),
		s3.EnvPackBucket:  s3Server.NewBucket(t),
	}
	cli := s3CLI(t, vars)
	original := filepath.Join(testutil.Shared(t), "interop", "originals", "random-3m.bin")
	const root = "bafybeicnbjdnewgphuifn3mfbao2r4rbjyhyjc254pbmsaw3yq2gmyi4ha"
	if code, out, errOut := cli("pack", "write", original, "-ps", "2200000"); code != 0 || !strings.Contains(out, root) {
		t.Fatalf("pack write: %d\n%s%s", code, out, errOut)
	}
	p, proxyURL := newLatencyProxy(t, s3Server.Endpoint, vars[s3.EnvIndexBucket], delay)
	vars["AWS_ENDPOINT_URL_S3"] = proxyURL
	// A leaf, from the root block, read on a server of its own.
	_, rootData := timedGet(t, "http://"+startServe(t, vars)+"/ipfs/"+root+"?format=raw")
	leaves, err := dag.Links(cid.MustParse(root), rootData)
	if err != nil || len(leaves) == 0 {
		t.Fatal(leaves, err)
	}
	leaf := leaves[0].String()

	type step struct {
		name       string
		path       string
		fresh      bool // on a new serve process: nothing cached
		want       map[string]int
		targetRTTs int
	}
	var addr string
	var results []string
	for _, s := range []step{
		// The root has two index objects (a BLOB and a CONTAINING record).
		{"cold CAR", "/ipfs/" + root + "?format=car", true, map[string]int{"LIST": 1, "index GET": 2}, 4},
		{"warm CAR", "/ipfs/" + root + "?format=car", false, map[string]int{}, 2},
		{"cold raw block", "/ipfs/" + leaf + "?format=raw", true, map[string]int{"LIST": 1, "index GET": 1}, 3},
		{"warm raw block", "/ipfs/" + leaf + "?format=raw", false, map[string]int{}, 1},
	} {
		if s.fresh {
			addr = startServe(t, vars)
		}
		start := time.Now()
		ttfb, body := timedGet(t, "http://"+addr+s.path)
		got, timeline := p.since(start)
		if len(body) == 0 {
			t.Fatalf("%s: empty body", s.name)
		}
		for _, kind := range []string{"LIST", "index GET"} {
			if got[kind] != s.want[kind] {
				t.Errorf("%s: %d %s requests, want %d", s.name, got[kind], kind, s.want[kind])
			}
		}
		results = append(results, fmt.Sprintf("%s: TTFB %v (%.1f round trips of %v; target <= %d), requests %s",
			s.name, ttfb.Round(time.Millisecond), float64(ttfb)/float64(delay), delay, s.targetRTTs, timeline))
	}
	for _, r := range results {
		t.Log(r)
	}
}
