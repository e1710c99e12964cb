// Package faultproxy is a test rig: a TCP proxy on 127.0.0.1 that injects
// the faults of a sick storage server into the connections it forwards: a
// response that stalls or is reset after so many bytes, a server that
// accepts and never answers, an HTTP 503 or another refusal. Tests point a
// client at URL() instead of the server and say with Set what happens to
// each new connection.
//
//	p, err := faultproxy.Start("127.0.0.1:7070")
//	...
//	defer p.Close()
//	p.Set(faultproxy.First(1, faultproxy.Fault{Kind: faultproxy.Reset, After: 5 << 20}))
package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is what the proxy does to a connection.
type Kind int

const (
	// Pass forwards both ways untouched.
	Pass Kind = iota
	// Stall forwards the request and the first After bytes of the
	// server's answer, then nothing more, holding the connection open
	// until the client or the proxy closes it.
	Stall
	// Reset forwards the request and the first After bytes of the answer,
	// then resets the client's connection (TCP RST). A connection whose
	// server sends fewer bytes just closes when the server closes it.
	Reset
	// Blackhole accepts the connection and reads what the client sends,
	// but never reaches the server nor answers.
	Blackhole
	// Unavailable answers the first request on the connection with HTTP
	// 503 and an S3 error document (code Fault.Code, default
	// ServiceUnavailable), then closes it.
	Unavailable
	// Answer answers the first request on the connection with HTTP
	// Fault.Status and an S3 error document (code Fault.Code), without
	// reaching the server, then closes it: a store that refuses where
	// another would not, e.g. 412 PreconditionFailed for a conditional
	// request on a missing key, where S3 answers 404.
	Answer
)

func (k Kind) String() string {
	switch k {
	case Pass:
		return "pass"
	case Stall:
		return "stall"
	case Reset:
		return "reset"
	case Blackhole:
		return "blackhole"
	case Unavailable:
		return "unavailable"
	case Answer:
		return "answer"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Fault is what happens to one connection.
type Fault struct {
	Kind Kind
	// After is how many bytes of the server's answer go through before a
	// Stall or a Reset (the status line and headers count).
	After int64
	// Code is the S3 error code of an Unavailable or Answer answer
	// (SlowDown is throttling to the AWS SDKs, which back off for
	// longer).
	Code string
	// Status is the HTTP status of an Answer answer (default 500).
	Status int
}

// Plan says what happens to the n-th connection (from 0) accepted since it
// was set.
type Plan func(n int) Fault

// Always gives every connection f.
func Always(f Fault) Plan { return func(int) Fault { return f } }

// First gives the first k connections f, and lets the others pass.
func First(k int, f Fault) Plan {
	return func(n int) Fault {
		if n < k {
			return f
		}
		return Fault{}
	}
}

// DialTimeout bounds the proxy's connect to the server.
const DialTimeout = 5 * time.Second

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	plan   Plan
	n      int // connections accepted under plan
	conns  map[net.Conn]struct{}
	closed bool

	accepted atomic.Int64
	struck   atomic.Int64
	wg       sync.WaitGroup
}

// Start listens on a free port of 127.0.0.1 and forwards to target
// (host:port), passing every connection until Set says otherwise.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{ln: ln, target: target, plan: Always(Fault{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's base URL, http://host:port.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Set makes plan decide what happens to the connections accepted from now
// on (connections already open keep their fault).
func (p *Proxy) Set(plan Plan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plan, p.n = plan, 0
}

// Accepted is the number of connections accepted since Start.
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// Struck is the number of connections a fault has struck: every
// Blackhole, Unavailable and Answer one, and each Stall or Reset one whose After bytes went
// through.
func (p *Proxy) Struck() int { return int(p.struck.Load()) }

// Close stops listening, closes every open connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.accepted.Add(1)
		p.mu.Lock()
		f := p.plan(p.n)
		p.n++
		p.mu.Unlock()
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c, f)
		}()
	}
}

// track adds c to the open connections, or closes it and reports false
// when the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) serve(c net.Conn, f Fault) {
	defer p.untrack(c)
	switch f.Kind {
	case Blackhole:
		p.struck.Add(1)
		_, _ = io.Copy(io.Discard, c) // until the client or Close ends it
		return
	case Unavailable:
		p.struck.Add(1)
		answer(c, http.StatusServiceUnavailable, f.Code, "ServiceUnavailable")
		return
	case Answer:
		p.struck.Add(1)
		answer(c, f.Status, f.Code, "InternalError")
		return
	}
	u, err := net.DialTimeout("tcp", p.target, DialTimeout)
	if err != nil {
		return
	}
	if !p.track(u) {
		return
	}
	defer p.untrack(u)

	// Requests go up untouched; the first side to end ends both.
	up := make(chan struct{})
	go func() {
		defer close(up)
		_, _ = io.Copy(u, c)
		_ = c.Close()
		_ = u.Close()
	}()
	switch f.Kind {
	case Stall:
		if _, err := io.CopyN(c, u, f.After); err == nil {
			p.struck.Add(1)
		}
		<-up // hold the connection until the client (or Close) ends it
	case Reset:
		if _, err := io.CopyN(c, u, f.After); err == nil {
			p.struck.Add(1)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close with RST, not FIN
			}
		}
	default:
		_, _ = io.Copy(c, u)
	}
	_ = c.Close()
	_ = u.Close()
	<-up
}

// answer answers the first request read from c with status (default 500)
// and an S3 error document of code (default fallback); the answer to a
// HEAD has no body.
func answer(c net.Conn, status int, code, fallback string) {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if code == "" {
		code = fallback
	}
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, req.Body)
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>` + code + `</Code><Message>injected by faultproxy</Message></Error>`
	_, _ = fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", status, http.StatusText(status), len(body))
	if req.Method != http.MethodHead {
		_, _ = io.WriteString(c, body)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<20))
}
