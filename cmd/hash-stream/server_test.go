package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// testServer is the serve server over an fs store holding one random file.
type testServer struct {
	addr     string
	dir      string // of the fs store
	root     cid.Cid
	size     int // of the file
	conns    *connTracker
	inFlight atomic.Int64 // gateway handlers running
	started  atomic.Int64 // gateway handlers started
	log      *testutil.Buffer
}

// startServer stores a random file of size bytes and serves it with lim
// (and the gateway options opts) on a loopback port until the test ends.
// Accepted connections get a small send buffer, so that a client that does
// not read stalls the server's writes after a few KiB instead of after the
// kernel's megabytes.
func startServer(t *testing.T, size int, lim serverLimits, opts ...gateway.Option) *testServer {
	t.Helper()
	dir := t.TempDir()
	idx, packs := fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack"))
	data := make([]byte, size)
	rand.Read(data)
	ctx := context.Background()
	root, infos, err := pack.WriteFile(ctx, packs, bytes.NewReader(data), pack.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	writers := []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)}
	if err := pack.AddToIndex(ctx, writers, infos, root.Hash()); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{dir: dir, root: root, size: size, log: &testutil.Buffer{}}
	log := slog.New(slog.NewJSONHandler(ts.log, nil))
	gw := gateway.New(streamer.New(index.NewReader(idx), packs), append([]gateway.Option{gateway.WithLogger(log)}, opts...)...)
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.started.Add(1)
		ts.inFlight.Add(1)
		defer ts.inFlight.Add(-1) // also when the handler panics to cut a response
		gw.ServeHTTP(w, r)
	})
	srv, conns := newServer(counted, lim, log)
	ts.conns = conns
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- serveUntil(srvCtx, srv, smallSendBuffer{ln}, 5*time.Second) }()
	t.Cleanup(func() {
		stop()
		srv.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ts
}

type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// get fetches target on a new connection and reads the whole body.
func (ts *testServer) get(target string) (*http.Response, []byte, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := client.Get("http://" + ts.addr + target)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// openIdle opens n connections: every other one sends a request and then
// stays open and idle (keep-alive), the others send nothing.
func openIdle(t testing.TB, addr, target string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			fmt.Fprintf(c, "HEAD %s HTTP/1.1\r\nHost: test\r\n\r\n", target)
		}
	}
	return conns
}

// TestServeConnectionCap opens 2,000 idle connections, some never used,
// some kept alive after a request, against a cap of 200: open connections
// stay at the cap, the oldest idle ones are closed, and a new client is
// served at once: before any timeout could have closed an idle connection
// to make room (the timeouts are longer than the test waits for anything).
func TestServeConnectionCap(t *testing.T) {
	lim := serverLimits{ReadTimeout: 2 * testutil.WaitTimeout, IdleTimeout: 2 * testutil.WaitTimeout, WriteTimeout: 10 * time.Second, MaxConns: 200}
	ts := startServer(t, 300<<10, lim)
	target := "/ipfs/" + ts.root.String() + "?format=car"
	opened := time.Now()
	conns := openIdle(t, ts.addr, target, 2000)
	if !waitFor(testutil.WaitTimeout, func() bool { _, evicted, _ := ts.conns.stats(); return evicted >= 1800 }) {
		open, evicted, refused := ts.conns.stats()
		t.Fatalf("open %d, evicted %d, refused %d: want 1800 closed", open, evicted, refused)
	}
	start := time.Now()
	resp, body, err := ts.get(target)
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 || len(body) < ts.size {
		t.Fatalf("new client: %v, %d bytes", err, len(body))
	}
	if firstTimeout := opened.Add(min(lim.ReadTimeout, lim.IdleTimeout)); !time.Now().Before(firstTimeout) {
		t.Errorf("new client served in %s, %s after the first idle connection opened: not before a timeout could make room", took, time.Since(opened))
	}
	open, evicted, refused := ts.conns.stats()
	t.Logf("new client served in %s; open %d, evicted %d, refused %d", took, open, evicted, refused)
	if open > lim.MaxConns || refused != 0 {
		t.Errorf("open %d (cap %d), refused %d", open, lim.MaxConns, refused)
	}
	// The first connections were the oldest idle ones: closed by the s3Server.
	buf := make([]byte, 1<<16)
	for _, c := range conns[:100] {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var err error
		for err == nil {
			_, err = c.Read(buf) // the kept-alive ones first get their HEAD response
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("an old idle connection still open: %v", err)
		}
	}
	// The newest survive.
	last := conns[len(conns)-2] // sent a request
	fmt.Fprintf(last, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", target)
	last.SetReadDeadline(time.Now().Add(testutil.WaitTimeout))
	br := bufio.NewReader(last)
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("the newest connection: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// TestServeStalledReaders starts 50 CAR downloads whose clients never read
// (4 KiB receive buffers) beside one that does: with a 500 ms write
// timeout, every stalled response is cut and its handler ends soon after,
// and the reading client gets its CAR whole.
func TestServeStalledReaders(t *testing.T) {
	lim := serverLimits{ReadTimeout: 10 * time.Second, IdleTimeout: time.Minute, WriteTimeout: 500 * time.Millisecond, MaxConns: 1000}
	ts := startServer(t, 4<<20, lim)
	target := "/ipfs/" + ts.root.String() + "?format=car"
	const stalled = 50
	dialer := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range stalled {
		c, err := dialer.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", target)
	}
	if !waitFor(testutil.WaitTimeout, func() bool { return ts.started.Load() >= stalled }) {
		t.Fatalf("%d of %d handlers started", ts.started.Load(), stalled)
	}
	start := time.Now()
	resp, body, err := ts.get(target)
	if err != nil || resp.StatusCode != 200 || len(body) < ts.size {
		t.Errorf("the reading client: %v, %d bytes", err, len(body))
	}
	if !waitFor(testutil.WaitTimeout, func() bool { return ts.inFlight.Load() == 0 }) {
		t.Fatalf("%d handlers still running %s after the stalled clients stopped reading", ts.inFlight.Load(), time.Since(start))
	}
	t.Logf("all %d stalled responses cut within %s", stalled, time.Since(start).Round(time.Millisecond))
	if n := strings.Count(ts.log.String(), "response aborted"); n < stalled {
		t.Errorf("%d responses logged as aborted, want %d", n, stalled)
	}
	// What the stalled clients can still read ends short of the CAR.
	for _, c := range conns[:5] {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if err == nil && n >= int64(ts.size) {
			t.Errorf("a stalled client got %d bytes and a clean end", n)
		}
	}
}

// TestServeRequestBodies sends 100 requests declaring a chunked body and
// sending none: each gets 408 once the read timeout passes, and its
// connection is closed. A body that comes is read and dropped; one over
// the limit is refused.
func TestServeRequestBodies(t *testing.T) {
	lim := serverLimits{ReadTimeout: 500 * time.Millisecond, IdleTimeout: time.Minute, WriteTimeout: 10 * time.Second, MaxConns: 1000}
	ts := startServer(t, 10<<10, lim)
	raw := "/ipfs/" + ts.root.String() + "?format=raw"
	const n = 100
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n", raw)
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusRequestTimeout {
				errs <- fmt.Errorf("status %d", resp.StatusCode)
			}
			if _, err := br.ReadByte(); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
				errs <- fmt.Errorf("connection not closed: %v", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	took := time.Since(start)
	t.Logf("%d chunked requests without a body answered and closed in %s", n, took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("took %s", took)
	}
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"empty chunked body", "0\r\n\r\n", 200},
		{"small body", "5\r\nhello\r\n0\r\n\r\n", 200},
		{"too large", fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", maxRequestBody+1, strings.Repeat("x", maxRequestBody+1)), 413},
	} {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n%s", raw, tc.body)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %v, want %d", tc.name, err, tc.status)
		} else if resp.StatusCode == 200 {
			if b, err := io.ReadAll(resp.Body); err != nil || len(b) != ts.size {
				t.Errorf("%s: %d bytes, %v", tc.name, len(b), err)
			}
		}
		c.Close()
	}
}

func TestServeFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--max-conns", "0"},
		{"serve", "--max-conns", "100000000"},
		{"serve", "--write-timeout", "0s"},
		{"serve", "--stall-after", "0s"},
		{"serve", "--read-ahead-share", "95"},
		{"serve", "--max-per-client", "-1"},
		{"serve", "--client-from", "X Forwarded"},
	} {
		code, _, errOut := runCLI(t, dir, args...)
		if code == 0 || !strings.Contains(errOut, args[1]) {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	if limit, ok := openFileLimit(); ok && defaultMaxConns() >= limit {
		t.Errorf("default max conns %d not below the open file limit %d", defaultMaxConns(), limit)
	}
}

// TestServeHTTP10Cut serves a CAR whose last leaf is corrupt on disk to an
// HTTP/1.0 client: the response must end in a connection reset, not in
// the clean close that ends an HTTP/1.0 body.
func TestServeHTTP10Cut(t *testing.T) {
	lim := serverLimits{ReadTimeout: 10 * time.Second, IdleTimeout: time.Minute, WriteTimeout: 10 * time.Second, MaxConns: 100}
	ts := startServer(t, 3<<20+12345, lim)
	packs, err := filepath.Glob(filepath.Join(ts.dir, "pack", "*"))
	if err != nil || len(packs) != 1 {
		t.Fatalf("packs %v, %v", packs, err)
	}
	b, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-20000] ^= 1 // in the last leaf, the root node coming first in the CAR
	if err := os.WriteFile(packs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /ipfs/%s?format=car HTTP/1.0\r\n\r\n", ts.root)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %v", err)
	}
	n, err := io.Copy(io.Discard, br) // the raw stream, past any Content-Length
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the response ended with %v after %d bytes, want a connection reset", err, n)
	}
}
