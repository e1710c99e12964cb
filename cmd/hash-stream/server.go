package main

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
)

// serverLimits bound what clients can hold of `hash-stream serve`: the
// public internet may open connections and never use them, send headers
// and no body, or ask for a large CAR and never read it.
type serverLimits struct {
	// ReadTimeout bounds reading a request's header, and its body if it
	// has one (a GET needs none: it is read and dropped).
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for this
	// long.
	IdleTimeout time.Duration
	// WriteTimeout drops a client that takes no bytes of its response for
	// this long, ending the response and freeing its buffers.
	WriteTimeout time.Duration
	// MaxConns caps open connections: a new one beyond it closes the
	// connection idle the longest (or not yet past its first request),
	// and is refused only when every other one is serving a request.
	MaxConns int
}

// Defaults of the serve flags. DefaultMaxConns is further bounded by the
// open file limit (see defaultMaxConns).
const (
	DefaultReadTimeout  = 10 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultMaxConns     = 4096
	// maxRequestBody bounds the body a request may carry: the gateway
	// reads none, so it is only read (to keep the connection) and dropped.
	maxRequestBody = 64 << 10
	// progressChunk is the most written under one write deadline: a client
	// must take this much every WriteTimeout to be kept.
	progressChunk = 64 << 10
)

// defaultMaxConns is DefaultMaxConns, or less under a low open file limit:
// a tenth of the files (at least 64) stay free for the store and the logs,
// so that accept never fails for want of a descriptor.
func defaultMaxConns() int {
	limit, ok := openFileLimit()
	if !ok {
		return DefaultMaxConns
	}
	return min(DefaultMaxConns, max(1, limit-max(64, limit/10)))
}

// checkMaxConns refuses a connection cap the open file limit cannot hold.
func checkMaxConns(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: --max-conns %d: must be at least 1", errUsage, n)
	}
	if limit, ok := openFileLimit(); ok && n >= limit {
		return fmt.Errorf("%w: --max-conns %d is not below the open file limit %d (ulimit -n): raise the limit or lower --max-conns", errUsage, n, limit)
	}
	return nil
}

// newServer returns the http.Server of `hash-stream serve` around h, with
// lim applied, and the tracker of its connections.
func newServer(h http.Handler, lim serverLimits, log *slog.Logger) (*http.Server, *connTracker) {
	ct := newConnTracker(lim.MaxConns, log)
	srv := &http.Server{
		Handler:           &guard{h: h, lim: lim},
		ReadHeaderTimeout: lim.ReadTimeout,
		IdleTimeout:       lim.IdleTimeout,
		ConnState:         ct.track,
		ConnContext:       gateway.ConnContext, // a cut HTTP/1.0 response resets its connection
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return srv, ct
}

// guard applies the per-request limits: it reads and drops a request body
// within ReadTimeout, and gives the handler a writer that drops a client
// making no progress for WriteTimeout.
type guard struct {
	h   http.Handler
	lim serverLimits
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	pw := &progressWriter{ResponseWriter: w, rc: rc, timeout: g.lim.WriteTimeout}
	pw.extend()
	if r.ContentLength != 0 && !g.dropBody(w, rc, r) { // a body, of known or unknown (chunked) length
		return
	}
	g.h.ServeHTTP(pw, r)
}

// dropBody reads r's body within ReadTimeout. Left unread, net/http reads
// it, with no deadline, before sending the response: a request declaring
// a chunked body and sending none would hold the connection forever. It
// answers 408, 413 or 400 (and closes the connection) and reports false
// when the body does not come whole in time.
func (g *guard) dropBody(w http.ResponseWriter, rc *http.ResponseController, r *http.Request) bool {
	_ = rc.SetReadDeadline(time.Now().Add(g.lim.ReadTimeout))
	_, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err == nil {
		// No deadline once the body is in: net/http then watches the
		// connection for the client going away, and a deadline passing
		// there would cancel the request.
		_ = rc.SetReadDeadline(time.Time{})
		return true
	}
	// Any read left (net/http closing the body) fails at once.
	_ = rc.SetReadDeadline(time.Now())
	status := http.StatusBadRequest
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		status = http.StatusRequestTimeout
	}
	w.Header().Set("Connection", "close")
	http.Error(w, fmt.Sprintf("request body: %s (this gateway reads no request body; at most %d bytes within %s)",
		http.StatusText(status), maxRequestBody, g.lim.ReadTimeout), status)
	return false
}

// progressWriter moves the connection's write deadline WriteTimeout ahead
// before each write of at most progressChunk bytes, so that a response
// ends (with a write error, which cuts it) once its client has taken
// nothing for that long, whatever the response's size.
type progressWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	set     time.Time // when the deadline was last moved
}

// extend moves the write deadline, unless it was moved very recently
// (setting it has a cost; the deadline then stays within 1/16 of
// timeout).
func (w *progressWriter) extend() {
	now := time.Now()
	if now.Sub(w.set) < w.timeout/16 {
		return
	}
	w.set = now
	_ = w.rc.SetWriteDeadline(now.Add(w.timeout))
}

func (w *progressWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), progressChunk)]
		w.extend()
		n, err := w.ResponseWriter.Write(chunk)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// Flush implements http.Flusher.
func (w *progressWriter) Flush() {
	w.extend()
	_ = w.rc.Flush()
}

// Unwrap returns the ResponseWriter w wraps, for http.ResponseController.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// connTracker counts open connections and keeps those that could be
// closed without cutting a response (new, or idle between requests)
// oldest first, so that a connection beyond the cap closes the oldest of
// them rather than leaving new clients waiting on a full server.
type connTracker struct {
	max int
	log *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]*trackedConn
	idle  *list.List // of net.Conn: new or idle, oldest first
	open  int        // tracked and not closed by the tracker

	evicted atomic.Int64 // closed to make room
	refused atomic.Int64 // closed at once: every other connection was busy
}

type trackedConn struct {
	elem    *list.Element // in idle, or nil while a request is served
	evicted bool
}

func newConnTracker(max int, log *slog.Logger) *connTracker {
	return &connTracker{max: max, log: log, conns: make(map[net.Conn]*trackedConn), idle: list.New()}
}

// track is the http.Server's ConnState hook. net/http calls it for a new
// connection before serving it, so the count is exact when it decides.
func (t *connTracker) track(c net.Conn, state http.ConnState) {
	var victim net.Conn
	t.mu.Lock()
	tc := t.conns[c]
	switch state {
	case http.StateNew:
		tc = &trackedConn{}
		t.conns[c] = tc
		tc.elem = t.idle.PushBack(c)
		t.open++
		if t.open > t.max {
			victim = t.idle.Remove(t.idle.Front()).(net.Conn) // c itself when all others are busy
			vt := t.conns[victim]
			vt.elem, vt.evicted = nil, true
			t.open--
		}
	case http.StateActive:
		if tc != nil && tc.elem != nil {
			t.idle.Remove(tc.elem)
			tc.elem = nil
		}
	case http.StateIdle:
		if tc != nil && !tc.evicted && tc.elem == nil {
			tc.elem = t.idle.PushBack(c)
		}
	case http.StateClosed, http.StateHijacked:
		if tc != nil {
			if tc.elem != nil {
				t.idle.Remove(tc.elem)
			}
			if !tc.evicted {
				t.open--
			}
			delete(t.conns, c)
		}
	}
	t.mu.Unlock()
	if victim == nil {
		return
	}
	if victim == c {
		if n := t.refused.Add(1); n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th... only
			t.log.Warn("connection refused: every connection is serving a request", "max_conns", t.max, "refused", n)
		}
	} else {
		t.evicted.Add(1)
	}
	_ = victim.Close() // its serving goroutine sees the close and ends
}

// stats returns the open connections and how many were closed to make
// room or refused.
func (t *connTracker) stats() (open int, evicted, refused int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open, t.evicted.Load(), t.refused.Load()
}

// serveUntil serves srv on ln until ctx ends, then shuts down gracefully:
// it stops accepting and lets requests in flight finish for up to grace.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Responses still going at the deadline are cut: their connections
		// close without the end of the body, which every client sees.
		return srv.Close()
	}
	return err
}
