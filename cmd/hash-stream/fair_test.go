package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
)

// stalledDialer dials from the loopback address ip (127.0.0.0/8 holds many:
// each stands for a client of its own) with a 4 KiB receive buffer, for a
// client that asks and never reads.
func stalledDialer(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip, one connection per request.
func clientFrom(ip string, timeout time.Duration) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// TestServeNonReadersCannotLockOut is issue 21's N1 at a small scale: 200
// connections from 10 addresses (127.0.0.2-11, 20 each, all within the
// per-client limit, so that limit alone changes nothing) ask for a 16 MiB
// CAR and never read (4 KiB receive buffers). The budget has floors for 24
// responses: the admitted ones hold them all, and the rest wait, longer
// than the test lasts. A new client (127.0.0.100) then gets a 1 MiB raw
// block and the whole CAR, both before any attacker's write deadline could
// have fired: each of its responses is admitted in the place of a stalled
// one of a client holding more (shed, and cut), and reads ahead from the
// reserve the stalled ones gave back.
func TestServeNonReadersCannotLockOut(t *testing.T) {
	const (
		size      = 16 << 20
		addresses = 10
		perAddr   = 20
		attackers = addresses * perAddr
		floor     = gateway.DefaultResponseFloor
	)
	// Deadlines longer than the test waits for anything: only shedding
	// can make room.
	long := 2 * testutil.WaitTimeout
	lim := serverLimits{ReadTimeout: 10 * time.Second, IdleTimeout: long, WriteTimeout: long, MaxConns: 1000}
	b := budget.New(48<<20, budget.WithReserve(12<<20), budget.WithStallAfter(testutil.ProvokedTimeout), budget.WithMaxPerClient(perAddr))
	ts := startServer(t, size, lim, gateway.WithBudget(b, floor, long))
	car := "/ipfs/" + ts.root.String() + "?format=car"
	newClient := clientFrom("127.0.0.100", testutil.WaitTimeout)

	// A leaf of the file, for the raw block (the root, read before the
	// attack, lists them).
	resp, err := newClient.Get("http://" + ts.addr + "/ipfs/" + ts.root.String() + "?format=raw")
	if err != nil {
		t.Fatal(err)
	}
	rootData, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("root: %d, %v", resp.StatusCode, err)
	}
	leaves, err := dag.Links(ts.root, rootData)
	if err != nil || len(leaves) == 0 {
		t.Fatalf("links of the root: %v, %v", leaves, err)
	}
	leaf := leaves[0]

	attackStart := time.Now()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range attackers {
		ip := fmt.Sprintf("127.0.0.%d", 2+i%addresses)
		c, err := stalledDialer(ip).Dial("tcp", ts.addr)
		if err != nil {
			t.Fatalf("attacker %d from %s: %v", i, ip, err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", car)
	}
	// Every attacker's response is admitted, waits or was shed (the
	// requests reach the server in no set order: while the addresses'
	// shares even out, a stalled response of one holding two more than a
	// waiting one is shed), every admitted one is stalled (its write has
	// not returned for the stall time) and has given back its read-ahead:
	// the budget holds their floors alone.
	if !testutil.Eventually(func() bool {
		n := b.Responses()
		return n > 0 && n+b.Waiting()+int(b.Shed()) == attackers && b.Stalled() == n && b.Used() == int64(n)*floor
	}) {
		t.Fatalf("%d responses admitted, %d waiting, %d shed, %d stalled, %d bytes in use: want %d in all, every admitted one stalled and holding its floor (%d bytes) alone",
			b.Responses(), b.Waiting(), b.Shed(), b.Stalled(), b.Used(), attackers, floor)
	}
	shedBefore := b.Shed()
	admitted := b.Responses()
	if want := int((b.Size() - 12<<20) / floor); admitted != want {
		t.Errorf("%d attackers admitted, want %d: as many as the floors outside the reserve", admitted, want)
	}
	t.Logf("attack in place after %s: %d responses admitted and stalled, holding their floors alone (%d bytes), %d waiting, %d shed as the shares evened out",
		time.Since(attackStart).Round(time.Millisecond), admitted, b.Used(), b.Waiting(), shedBefore)

	start := time.Now()
	resp, err = newClient.Get("http://" + ts.addr + "/ipfs/" + leaf.String() + "?format=raw")
	if err != nil {
		t.Fatalf("the new client's raw block: %v", err)
	}
	block, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	rawTook := time.Since(start)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the new client's raw block: status %d, %v", resp.StatusCode, err)
	}
	if got, err := leaf.Prefix().Sum(block); err != nil || !got.Equals(leaf) {
		t.Fatalf("the raw block does not match its CID: %v", err)
	}

	start = time.Now()
	resp, err = newClient.Get("http://" + ts.addr + car)
	if err != nil {
		t.Fatalf("the new client's CAR: %v", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	carTook := time.Since(start)
	if err != nil || resp.StatusCode != 200 || n < size {
		t.Fatalf("the new client's CAR: status %d, %d bytes, %v", resp.StatusCode, n, err)
	}
	done := time.Now()
	t.Logf("new client: 1 MiB raw block in %s, %d MiB CAR in %s; %d stalled responses shed for it", rawTook.Round(time.Millisecond), n>>20, carTook.Round(time.Millisecond), b.Shed()-shedBefore)
	if deadline := attackStart.Add(lim.WriteTimeout); !done.Before(deadline) {
		t.Errorf("the new client was served %s after the attack began: not before the attackers' write deadline (%s)", done.Sub(attackStart), lim.WriteTimeout)
	}
	if b.Shed() == shedBefore {
		t.Error("no stalled response was shed, yet the new client was served")
	}
	if b.Overdraft() != 0 {
		t.Errorf("overdraft %d", b.Overdraft())
	}
	// The attack is still in place: only the shed responses are gone.
	if n := b.Responses() + b.Waiting(); n < attackers-int(b.Shed()) {
		t.Errorf("%d attackers' responses left, want %d", n, attackers-int(b.Shed()))
	}
	if !testutil.Eventually(func() bool { return strings.Count(ts.log.String(), `"shed":true`) >= int(b.Shed()) }) {
		t.Errorf("%d responses logged as shed, want %d", strings.Count(ts.log.String(), `"shed":true`), b.Shed())
	}
	// The shed clients' connections were reset, and no other: no write
	// deadline fired. What a shed client got ends short of the CAR.
	reset := make(map[int]bool)
	if !testutil.Eventually(func() bool {
		for i, c := range conns {
			if !reset[i] && wasReset(t, c) {
				reset[i] = true
			}
		}
		return len(reset) >= int(b.Shed())
	}) || len(reset) != int(b.Shed()) {
		t.Errorf("%d attackers' connections reset, want the %d shed", len(reset), b.Shed())
	}
	for i := range reset {
		conns[i].SetReadDeadline(time.Now().Add(testutil.WaitTimeout))
		if got, _ := io.Copy(io.Discard, conns[i]); got >= size {
			t.Errorf("a shed client got %d bytes", got)
		}
	}
}

// wasReset reports whether c's peer reset it (the socket's pending error
// is ECONNRESET), without reading from it. The error is cleared.
func wasReset(t *testing.T, c net.Conn) bool {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var soErr int
	var gerr error
	if err := rc.Control(func(fd uintptr) { soErr, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR) }); err != nil || gerr != nil {
		t.Fatal(errors.Join(err, gerr))
	}
	return syscall.Errno(soErr) == syscall.ECONNRESET
}

// The budget's per-client limit: a client at it gets 429 at once, with
// Retry-After, while others are served.
func TestServePerClientLimit(t *testing.T) {
	lim := serverLimits{ReadTimeout: 10 * time.Second, IdleTimeout: time.Minute, WriteTimeout: 2 * testutil.WaitTimeout, MaxConns: 100}
	b := budget.New(64<<20, budget.WithMaxPerClient(2), budget.WithStallAfter(testutil.ProvokedTimeout))
	ts := startServer(t, 4<<20, lim, gateway.WithBudget(b, 0, testutil.WaitTimeout))
	car := "/ipfs/" + ts.root.String() + "?format=car"
	for range 2 {
		c, err := stalledDialer("127.0.0.2").Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", car)
	}
	if !testutil.Eventually(func() bool { return b.Responses() == 2 }) {
		t.Fatalf("%d responses admitted, want 2", b.Responses())
	}
	resp, err := clientFrom("127.0.0.2", testutil.WaitTimeout).Get("http://" + ts.addr + car)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a third response of one client: %d %q (Retry-After %q), want 429", resp.StatusCode, bytes.TrimSpace(body), resp.Header.Get("Retry-After"))
	}
	resp, err = clientFrom("127.0.0.3", testutil.WaitTimeout).Get("http://" + ts.addr + car)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || n < int64(ts.size) {
		t.Errorf("another client: %d, %d bytes, %v", resp.StatusCode, n, err)
	}
}
