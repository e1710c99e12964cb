package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// The soak tests run `hash-stream serve` as its own process (its own open
// file limit) against the attacks of issue 9 at full size. They take a few
// minutes and open tens of thousands of loopback connections: run them with
//
//	HASH_STREAM_SOAK=1 go test -run Soak -v -timeout 30m ./cmd/hash-stream
func soak(t *testing.T) {
	t.Helper()
	if os.Getenv("HASH_STREAM_SOAK") != "1" {
		t.Skip("set HASH_STREAM_SOAK=1 to run the full-size attacks")
	}
}

// soakServer is a `hash-stream serve` process over an fs store holding a
// random file.
type soakServer struct {
	addr, cid string
	metrics   string // the metrics listener's address, with --metrics-listen
	cmd       *exec.Cmd
	log       *testutil.Buffer // its stderr: one JSON line per request
}

func startSoakServer(t *testing.T, fileSize int, args ...string) *soakServer {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hash-stream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "file.bin")
	// Streamed to the file, not held: the test process's peak RSS is
	// inherited by the children it starts (their ru_maxrss), which other
	// soak tests measure.
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, int64(fileSize)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "pack", "write", file, "--dir", dir, "--fsync=false").CombinedOutput()
	if err != nil {
		t.Fatalf("pack write: %v\n%s", err, out)
	}
	root := ""
	if _, rest, ok := strings.Cut(string(out), "Containing CID:"); ok && len(strings.Fields(rest)) > 0 {
		root = strings.Fields(rest)[0]
	}
	if root == "" {
		t.Fatalf("no root in %q", out)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--dir", dir, "--listen", "127.0.0.1:0"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	logBuf := &testutil.Buffer{}
	cmd.Stderr = logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	srv := &soakServer{cid: root, cmd: cmd, log: logBuf}
	br := bufio.NewReader(stdout)
	for srv.addr == "" {
		line, err := br.ReadString('\n')
		_, rest, ok := strings.Cut(line, "http://")
		if err != nil || !ok {
			t.Fatalf("serve: %q %v", line, err)
		}
		if strings.HasPrefix(line, "metrics on") {
			srv.metrics, _, _ = strings.Cut(strings.Fields(rest)[0], "/")
			continue
		}
		srv.addr = strings.Fields(rest)[0]
	}
	go io.Copy(io.Discard, br)
	return srv
}

// rss returns the server's resident memory in MiB.
func (s *soakServer) rss(t *testing.T) float64 {
	return float64(procStatusBytes(t, s.cmd.Process.Pid, "VmRSS")) / (1 << 20)
}

// procStatusBytes returns a memory field of /proc/<pid>/status (VmRSS,
// VmHWM, ...) in bytes.
func procStatusBytes(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// timeGets fetches target n times, each on a new connection, and returns
// the times taken.
func timeGets(t *testing.T, addr, target string, n int) []time.Duration {
	t.Helper()
	var took []time.Duration
	for range n {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
		start := time.Now()
		resp, err := client.Get("http://" + addr + target)
		if err != nil {
			t.Fatalf("new client: %v", err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("new client: status %d, %v", resp.StatusCode, err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	return took
}

// TestSoakIdleHelper is not a test: TestSoakIdleConnections runs the test
// binary with it to hold connections in another process (a process can
// hold no more than its open file limit, 20,000 here).
func TestSoakIdleHelper(t *testing.T) {
	addr, n := os.Getenv("HASH_STREAM_SOAK_HELPER_ADDR"), os.Getenv("HASH_STREAM_SOAK_HELPER_CONNS")
	if addr == "" {
		t.Skip("helper process of TestSoakIdleConnections")
	}
	count, _ := strconv.Atoi(n)
	conns := openIdle(t, addr, os.Getenv("HASH_STREAM_SOAK_HELPER_TARGET"), count)
	fmt.Printf("ready %d\n", len(conns))
	io.Copy(io.Discard, os.Stdin) // hold them until the parent closes stdin
}

// TestSoakIdleConnections holds 20,000 idle connections (two helper
// processes of 10,000: half never send a request, half stay open after
// one) against `hash-stream serve` with its default cap, then times new
// clients.
func TestSoakIdleConnections(t *testing.T) {
	soak(t)
	srv := startSoakServer(t, 1<<20)
	target := "/ipfs/" + srv.cid + "?format=car"
	base := srv.rss(t)
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSoakIdleHelper$", "-test.timeout=30m")
		cmd.Env = append(os.Environ(), "HASH_STREAM_SOAK_HELPER_ADDR="+srv.addr, "HASH_STREAM_SOAK_HELPER_CONNS=10000",
			"HASH_STREAM_SOAK_HELPER_TARGET="+target)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); cmd.Wait() }()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "ready") {
			t.Fatalf("helper: %q %v", line, err)
		}
	}
	time.Sleep(time.Second)
	took := timeGets(t, srv.addr, target, 20)
	t.Logf("20,000 idle connections held by clients; server RSS %.0f MiB (%.0f MiB before)", srv.rss(t), base)
	t.Logf("new clients (1 MiB CAR, 20 tries): median %s, max %s", took[len(took)/2], took[len(took)-1])
	if took[len(took)-1] > time.Second {
		t.Errorf("a new client took %s, want under 1 s", took[len(took)-1])
	}
}

// TestSoakStalledReaders starts 200 downloads of a 64 MiB CAR whose
// clients never read (4 KiB receive buffers), with --write-timeout 5s:
// they must all be dropped after the deadline, their memory freed. They
// come from 10 addresses (127.0.0.2-11), within serve's per-client limit.
func TestSoakStalledReaders(t *testing.T) {
	soak(t)
	srv := startSoakServer(t, 64<<20, "--write-timeout", "5s")
	target := "/ipfs/" + srv.cid + "?format=car"
	timeGets(t, srv.addr, target, 1) // warm
	base := srv.rss(t)
	dialer := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	const stalled = 200
	var conns []net.Conn
	start := time.Now()
	for i := range stalled {
		dialer.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%10))}
		c, err := dialer.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", target)
		conns = append(conns, c)
	}
	time.Sleep(2 * time.Second)
	held := srv.rss(t)
	// The server logs each cut response with its duration.
	var aborted []int
	waitFor(2*time.Minute, func() bool {
		aborted = aborted[:0]
		for _, line := range strings.Split(srv.log.String(), "\n") {
			var l struct {
				Msg        string `json:"msg"`
				DurationMS int    `json:"duration_ms"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "response aborted" {
				aborted = append(aborted, l.DurationMS)
			}
		}
		return len(aborted) >= stalled
	})
	if len(aborted) < stalled {
		t.Fatalf("%d of %d stalled responses cut after %s", len(aborted), stalled, time.Since(start))
	}
	slices.Sort(aborted)
	after := time.Since(start)
	time.Sleep(time.Second)
	t.Logf("200 stalled readers, --write-timeout 5s: all cut %d to %d ms after they started (all within %s of the first request); server RSS %.0f MiB before, %.0f MiB while stalled, %.0f MiB after",
		aborted[0], aborted[len(aborted)-1], after.Round(time.Millisecond), base, held, srv.rss(t))
	// What a dropped client can still read ends short of the CAR.
	for _, c := range conns[:3] {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		n, err := io.Copy(io.Discard, c)
		if err == nil && n >= 64<<20 {
			t.Errorf("a stalled client got %d bytes and a clean end", n)
		}
	}
	took := timeGets(t, srv.addr, "/ipfs/"+srv.cid+"?format=car&dag-scope=block", 5)
	t.Logf("new clients meanwhile: max %s", took[len(took)-1])
}

// TestSoakChunkedNoBody opens 500 connections that send a request with
// `Transfer-Encoding: chunked` and no body: all are answered and closed
// after the default read timeout (10 s).
func TestSoakChunkedNoBody(t *testing.T) {
	soak(t)
	srv := startSoakServer(t, 1<<20)
	target := "/ipfs/" + srv.cid + "?format=raw"
	const n = 500
	start := time.Now()
	done := make(chan error, n)
	for range n {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n", target)
		go func() {
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			b, err := io.ReadAll(c)
			if err == nil && !bytes.HasPrefix(b, []byte("HTTP/1.1 408")) {
				err = fmt.Errorf("response %.40q", b)
			}
			done <- err
		}()
	}
	for range n {
		if err := <-done; err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatal(err)
		}
	}
	t.Logf("500 chunked requests without a body: all answered 408 and closed %s after they were sent", time.Since(start).Round(time.Millisecond))
}
