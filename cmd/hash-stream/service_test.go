package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serve as a service: /healthz, /readyz over its stores, and Prometheus
// metrics on their own listener that count what the gateway did.
func TestServeAsService(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, dir, "pack", "write", "../../testdata/hello.txt"); code != 0 {
		t.Fatalf("pack write: %s", errOut)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	addrc, metricsc := make(chan string, 1), make(chan string, 1)
	env := &cliEnv{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string {
		if k == envMetricsListen {
			return "127.0.0.1:0"
		}
		return ""
	}, onListen: func(a string) { addrc <- a }, onMetrics: func(a string) { metricsc <- a }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, []string{"serve", "--dir", dir, "--listen", "127.0.0.1:0"}) }()
	var addr, maddr string
	for addr == "" || maddr == "" {
		select {
		case addr = <-addrc:
		case maddr = <-metricsc:
		case code := <-done:
			t.Fatalf("serve exited %d", code)
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not start")
		}
	}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://" + addr + "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get("http://" + addr + "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if code, _ := get("http://" + addr + "/ipfs/" + smokeSampleCID + "?format=raw"); code != 200 {
		t.Errorf("raw block: %d", code)
	}
	get("http://" + addr + "/ipfs/" + smokeSampleCID + "?format=car&dag-scope=%zz")
	if code, _ := get("http://" + addr + "/metrics"); code != 404 {
		t.Errorf("/metrics on the public listener: %d, want 404 (metrics are on their own listener)", code)
	}
	code, body := get("http://" + maddr + "/metrics")
	for _, want := range []string{
		`hashstream_requests_total{format="raw",status="200"} 1`,
		`hashstream_requests_total{format="none",status="400"} 1`,
		`hashstream_blocks_total 1`,
		`hashstream_ttfb_seconds_count{format="raw"} 1`,
		`hashstream_index_cache_misses_total`,
		`hashstream_memory_budget_used_bytes 0`,
		`go_goroutines`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q (status %d)", want, code)
		}
	}

	// Stores that do not answer: not ready.
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index"), []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body := get("http://" + addr + "/readyz"); code != 503 || !strings.Contains(body, "index store") {
		t.Errorf("/readyz over a broken index store: %d %q", code, body)
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d after its context ended", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}
