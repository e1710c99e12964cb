package faultproxy_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/faultproxy"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// The upstream answers every request with 1 MiB of a known pattern.
var payload = bytes.Repeat([]byte("0123456789abcdef"), 1<<16)

func start(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1048576")
		_, _ = w.Write(payload)
	}))
	t.Cleanup(up.Close)
	p, err := faultproxy.Start(strings.TrimPrefix(up.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// client has a fresh connection pool and bounds every request.
func client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{}}
}

func get(c *http.Client, url string) ([]byte, int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

func TestPass(t *testing.T) {
	p := start(t)
	b, status, err := get(client(5*time.Second), p.URL())
	if err != nil || status != 200 || !bytes.Equal(b, payload) {
		t.Fatalf("status %d, %d bytes, %v", status, len(b), err)
	}
}

func TestReset(t *testing.T) {
	p := start(t)
	p.Set(faultproxy.First(1, faultproxy.Fault{Kind: faultproxy.Reset, After: 64 << 10}))
	c := client(5 * time.Second)
	b, _, err := get(c, p.URL())
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %d bytes, %v; want a reset", len(b), err)
	}
	if len(b) >= 64<<10 {
		t.Fatalf("got %d bytes past a reset at 64 KiB", len(b))
	}
	// The second connection passes.
	if b, _, err := get(c, p.URL()); err != nil || !bytes.Equal(b, payload) {
		t.Fatalf("after the reset: %d bytes, %v", len(b), err)
	}
	if p.Accepted() != 2 || p.Struck() != 1 {
		t.Fatalf("%d connections, %d struck, want 2 and 1", p.Accepted(), p.Struck())
	}
}

func TestStall(t *testing.T) {
	p := start(t)
	p.Set(faultproxy.Always(faultproxy.Fault{Kind: faultproxy.Stall, After: 100 << 10}))
	resp, err := client(5 * time.Second).Get(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, 100<<10-512) // past the headers, within After
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	// Nothing more comes. Nothing announces that the read waits: give it
	// a moment. A slow machine can only make this check miss bytes sent
	// after the stall, never fail a proxy that holds them.
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the body went on after the stall: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	_ = resp.Body.Close()
	<-done
}

func TestBlackhole(t *testing.T) {
	p := start(t)
	p.Set(faultproxy.Always(faultproxy.Fault{Kind: faultproxy.Blackhole}))
	start := time.Now()
	_, _, err := get(client(testutil.ProvokedTimeout), p.URL())
	if !errors.Is(err, os.ErrDeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "Timeout")) {
		t.Fatalf("got %v, want a timeout", err)
	}
	if d := time.Since(start); d < testutil.ProvokedTimeout || d > testutil.ProvokedTimeout+testutil.Slack {
		t.Fatalf("took %v, want the client's timeout (%v)", d, testutil.ProvokedTimeout)
	}
}

func TestUnavailable(t *testing.T) {
	p := start(t)
	p.Set(faultproxy.First(2, faultproxy.Fault{Kind: faultproxy.Unavailable, Code: "SlowDown"}))
	c := client(5 * time.Second)
	for i := range 2 {
		b, status, err := get(c, p.URL())
		if err != nil || status != 503 || !strings.Contains(string(b), "<Code>SlowDown</Code>") {
			t.Fatalf("request %d: status %d, %q, %v", i, status, b, err)
		}
	}
	if b, status, err := get(c, p.URL()); err != nil || status != 200 || !bytes.Equal(b, payload) {
		t.Fatalf("third: status %d, %v", status, err)
	}
}

// Close ends held connections and returns.
func TestCloseEndsConnections(t *testing.T) {
	p := start(t)
	p.Set(faultproxy.Always(faultproxy.Fault{Kind: faultproxy.Stall}))
	done := make(chan error, 1)
	go func() {
		_, _, err := get(client(testutil.WaitTimeout), p.URL())
		done <- err
	}()
	// The connection is held: the stall struck it.
	if !testutil.Eventually(func() bool { return p.Struck() == 1 }) {
		t.Fatalf("%d connections struck, want 1", p.Struck())
	}
	closed := make(chan struct{})
	go func() { _ = p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	if err := <-done; err == nil {
		t.Fatal("the request succeeded")
	}
}

// Answer refuses with the status and code it is given, a HEAD without a
// body, and never reaches the server.
func TestAnswer(t *testing.T) {
	p := start(t)
	p.Set(faultproxy.First(2, faultproxy.Fault{Kind: faultproxy.Answer, Status: 412, Code: "PreconditionFailed"}))
	c := client(5 * time.Second)
	b, status, err := get(c, p.URL())
	if err != nil || status != 412 || !strings.Contains(string(b), "<Code>PreconditionFailed</Code>") {
		t.Fatalf("GET: status %d, %q, %v", status, b, err)
	}
	resp, err := c.Head(p.URL())
	if err != nil || resp.StatusCode != 412 {
		t.Fatalf("HEAD: %v, %v", resp, err)
	}
	resp.Body.Close()
	if b, status, err := get(c, p.URL()); err != nil || status != 200 || !bytes.Equal(b, payload) {
		t.Fatalf("third: status %d, %v", status, err)
	}
	if p.Struck() != 2 {
		t.Fatalf("struck %d, want 2", p.Struck())
	}
}
