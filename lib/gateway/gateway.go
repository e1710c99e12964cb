package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/abort"
	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/denylist"
)

// Handler serves the trustless gateway over a dag.Source: raw blocks and
// CARv1 streams, every block verified before it is written. It is a plain
// http.Handler, used as is by `hash-stream serve` and through the Lambda
// streaming adapter.
type Handler struct {
	blocks dag.Source
	log    *slog.Logger
	// denylist returns the Set a request is checked against (nil: none).
	denylist func(context.Context) *denylist.Set
	// maxCARBytes caps a CAR response (0: no cap). See WithMaxResponseBytes.
	maxCARBytes int64
	logAttrs    func(context.Context) []any

	observe func(Observation)

	// budget bounds what all responses buffer; nil: no bound.
	budget    *budget.Budget
	floor     int64
	admitWait time.Duration
	clientKey func(*http.Request) string
	// viewerFrom names the header a trusted proxy puts the viewer's
	// address in, for the request log ("": none).
	viewerFrom string
}

// Memory budget defaults (see WithBudget).
const (
	// DefaultResponseFloor is what a response sets aside when admitted:
	// its body buffer (256 KiB), a 1 MiB leaf and room for a few nodes.
	DefaultResponseFloor = 1<<20 + 512<<10
	// DefaultAdmissionWait is how long a new response waits for budget
	// before it is refused with 503.
	DefaultAdmissionWait = 10 * time.Second
)

// WithBudget makes every response draw its buffers from b (see package
// budget): each response is admitted with a floor of floor bytes (0:
// DefaultResponseFloor), waiting up to wait (0: DefaultAdmissionWait) for
// one, else it is refused with 503 and Retry-After before anything is read
// (429 when its client is at b's limit). Responses are admitted as their
// client's (WithClientKey), report each write to the budget, so that a
// client that stops reading is seen, and are cut when the budget sheds
// them (see the package doc of budget): the connection is closed with a
// reset, so a write under way fails at once and the client sees a cut
// response.
func WithBudget(b *budget.Budget, floor int64, wait time.Duration) Option {
	return func(h *Handler) {
		h.budget, h.floor, h.admitWait = b, floor, wait
		if h.floor <= 0 {
			h.floor = DefaultResponseFloor
		}
		if h.admitWait <= 0 {
			h.admitWait = DefaultAdmissionWait
		}
	}
}

// maxViewerBytes bounds the viewer address logged: an IPv6 address and a
// port fit well within it; a longer header is clipped, not trusted more.
const maxViewerBytes = 64

// Option configures a Handler.
type Option func(*Handler)

// WithViewerFrom makes each request's log line name the viewer's address
// as the header name carries it (CloudFront-Viewer-Address behind
// CloudFront). Only a header a trusted proxy sets, and overwrites, may be
// named: a client can write any header. Default: none, the log names the
// connection's remote address only.
func WithViewerFrom(name string) Option { return func(h *Handler) { h.viewerFrom = name } }

// WithClientKey sets how the budget tells clients apart (default
// RemoteAddrKey; HeaderKey behind a trusted proxy, NoClientKey for one
// client).
func WithClientKey(fn func(*http.Request) string) Option {
	return func(h *Handler) { h.clientKey = fn }
}

// WithLogger sets the request and error logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithMaxResponseBytes caps the size of a CAR response. A response that
// would be larger is refused before its first byte (413) when its size is
// known from the index, and cut with an error at the cap otherwise, never
// ended as if complete.
func WithMaxResponseBytes(n int64) Option { return func(h *Handler) { h.maxCARBytes = n } }

// WithLogAttrs adds attributes to each request's log line, computed when
// the line is written (for example a Lambda request id, cache counters).
func WithLogAttrs(fn func(context.Context) []any) Option {
	return func(h *Handler) { h.logAttrs = fn }
}

// Observation is what one request did, handed to the function set with
// WithObserver when the request ends (for metrics).
type Observation struct {
	Method string
	Format string // "raw", "car", or "" when the request did not parse
	Status int    // 499: the client left before an answer
	Bytes  int64  // body bytes written
	Blocks int64  // verified blocks
	Reads  int64  // ranged reads issued to the pack store
	// Lookups counts blocks located through the index (not cached).
	Lookups  int64
	TTFB     time.Duration // to the status line; 0 when none was sent
	Duration time.Duration
	Aborted  bool // cut after the status line
}

// WithObserver calls fn with each request's Observation when it ends.
func WithObserver(fn func(Observation)) Option { return func(h *Handler) { h.observe = fn } }

// New returns a Handler reading blocks through s.
func New(s dag.Source, opts ...Option) *Handler {
	h := &Handler{blocks: s, log: slog.New(slog.DiscardHandler), clientKey: RemoteAddrKey}
	for _, o := range opts {
		o(h)
	}
	return h
}

// requestLog collects what one request did, for its log line.
type requestLog struct {
	status  int
	bytes   int64
	stats   dag.Stats
	ttfb    time.Duration
	aborted error
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rl := &requestLog{}
	cw := &countingWriter{ResponseWriter: w, rl: rl, start: start}
	setCORS(w.Header())
	closeAfterChunkedRequest(w, r)
	req, err := ParseRequest(r)
	attrs := []any{"method", r.Method, "path", clip(r.URL.Path, MaxEchoBytes)} // a path may be ~1 MB
	if h.viewerFrom != "" {
		if v := r.Header.Get(h.viewerFrom); v != "" {
			attrs = append(attrs, "viewer", clip(v, maxViewerBytes))
		}
	}
	defer func() {
		if h.observe != nil {
			o := Observation{Method: r.Method, Status: rl.status, Bytes: rl.bytes, Blocks: rl.stats.Blocks.Load(),
				Reads: rl.stats.Reads.Load(), Lookups: rl.stats.Lookups.Load(), TTFB: rl.ttfb,
				Duration: time.Since(start), Aborted: rl.aborted != nil}
			if req != nil {
				o.Format = req.Format.String()
			}
			h.observe(o)
		}
		attrs = append(attrs, "status", rl.status, "bytes", rl.bytes,
			"blocks", rl.stats.Blocks.Load(), "storage_reads", rl.stats.Reads.Load(),
			"index_lookups", rl.stats.Lookups.Load(),
			"ttfb_ms", rl.ttfb.Milliseconds(), "duration_ms", time.Since(start).Milliseconds())
		if h.logAttrs != nil {
			attrs = append(attrs, h.logAttrs(r.Context())...)
		}
		if rl.aborted != nil {
			attrs = append(attrs, "err", rl.aborted.Error())
			h.log.ErrorContext(r.Context(), "response aborted", attrs...)
		} else {
			h.log.InfoContext(r.Context(), "request", attrs...)
		}
	}()
	if r.Method == http.MethodOptions {
		writePreflight(cw)
		cw.commit()
		return
	}
	if err != nil {
		h.fail(cw, rl, err)
		return
	}
	attrs = append(attrs, "cid", req.Root.String(), "format", req.Format.String())
	if req.Format == FormatCAR {
		attrs = append(attrs, "scope", string(req.Car.Scope))
	}
	ctx := r.Context()
	if h.denylist != nil {
		// Before admission: blocked content costs no budget.
		ctx = withDenylist(ctx, h.denylist(ctx))
		if err := checkDenied(ctx, req.Root, req.Segments); err != nil {
			attrs = append(attrs, "blocked", err.Error())
			h.fail(cw, rl, err)
			return
		}
	}
	var acct *budget.Account
	if h.budget != nil {
		client := h.clientKey(r)
		attrs = append(attrs, "client", client)
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		acct, err = h.admit(ctx, client)
		if err != nil {
			h.fail(cw, rl, err)
			return
		}
		defer func() {
			if over := acct.MaxOverdraft(); over > 0 {
				attrs = append(attrs, "budget_overdraft", over)
			}
			if acct.Shed() {
				attrs = append(attrs, "shed", true)
			}
			acct.Close()
		}()
		cw.acct = acct
		acct.OnShed(func() {
			cw.cut.Store(true)
			cancel(budget.ErrShed)
			cutConnection(w, r)
		})
		ctx = budget.NewContext(ctx, acct)
	}
	err = h.serveFormat(ctx, cw, r, req, rl)
	if err == nil {
		cw.commit() // a response without a body (HEAD, 304)
		return
	}
	if !cw.committed {
		// Nothing reached the client yet: answer with the error's status.
		cw.status = 0
		h.fail(cw, rl, err)
		return
	}
	// The status line is out: the response must end as a failure, never as
	// a clean (and therefore seemingly complete) end of stream. A writer
	// that can carry the cause (the Lambda streaming adapter) gets it;
	// net/http's server cuts the connection on this panic, with a reset for
	// HTTP/1.0 (see ConnContext).
	if acct.Shed() {
		err = fmt.Errorf("%w: %w", budget.ErrShed, err)
	}
	rl.aborted = err
	if abort.Response(w, err) {
		return
	}
	resetOnClose(r)
	panic(http.ErrAbortHandler)
}

// admit sets aside the floor of a new response of client, waiting up to
// admitWait.
func (h *Handler) admit(ctx context.Context, client string) (*budget.Account, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, h.admitWait, budget.ErrExhausted)
	defer cancel()
	acct, err := h.budget.Admit(ctx, h.floor, budget.ForClient(client))
	if err != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return nil, context.Canceled // the client left while it waited
	}
	return acct, err
}

// serveFormat answers a parsed request. A panic below it (a bug, or a
// decoder meeting a block it did not expect) becomes this response's error
// and a log line, never the end of the process.
func (h *Handler) serveFormat(ctx context.Context, w http.ResponseWriter, r *http.Request, req *Request, rl *requestLog) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("%w: gateway: panic: %v", dag.ErrInternal, p)
			h.log.ErrorContext(ctx, "panic", "err", err.Error(), "stack", string(debug.Stack()))
		}
	}()
	if req.Format == FormatRaw {
		return h.serveRaw(ctx, w, r, req, rl)
	}
	return h.serveCAR(ctx, w, r, req, rl)
}

func (h *Handler) fail(w *countingWriter, rl *requestLog, err error) {
	if errors.Is(err, context.Canceled) {
		rl.status = 499 // client closed the request; nothing is written
		return
	}
	status, _ := ErrorStatus(err)
	if status >= 500 {
		h.log.Error("request failed", "status", status, "err", err.Error())
	}
	writeError(w, err)
}

// countingWriter holds the status back until the first body bytes go out,
// so that a failure while the first buffer fills still gets its own status
// instead of a cut 200; it records the status, the bytes written and the
// time to the first byte. It writes at most writeChunk bytes at a time and
// reports each write to the response's budget account (a write that does
// not return marks the response stalled), and refuses to write once the
// response is shed.
type countingWriter struct {
	http.ResponseWriter
	rl        *requestLog
	start     time.Time
	status    int  // set by WriteHeader, sent by commit
	committed bool // the status went to the ResponseWriter
	acct      *budget.Account
	cut       atomic.Bool // the response was shed
}

// writeChunk is the most one write to the client carries: a client taking
// less than this within the budget's stall time is stalled.
const writeChunk = 64 << 10

func (c *countingWriter) WriteHeader(status int) {
	if !c.committed && c.status == 0 {
		c.status = status
	}
}

// commit sends the status (200 when none was set).
func (c *countingWriter) commit() {
	if c.committed {
		return
	}
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.committed = true
	c.rl.status = c.status
	c.rl.ttfb = time.Since(c.start)
	c.ResponseWriter.WriteHeader(c.status)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.commit()
	written := 0
	for len(p) > 0 {
		if c.cut.Load() {
			return written, budget.ErrShed
		}
		chunk := p[:min(len(p), writeChunk)]
		c.acct.Sending()
		n, err := c.ResponseWriter.Write(chunk)
		c.acct.Sent()
		written += n
		c.rl.bytes += int64(n)
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

func (c *countingWriter) Flush() {
	c.commit()
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		c.acct.Sending()
		f.Flush()
		c.acct.Sent()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// newBodyWriter buffers the body in chunks large enough for few syscalls
// and small enough that the first bytes go out early.
func newBodyWriter(w http.ResponseWriter) *bufio.Writer { return bufio.NewWriterSize(w, 256<<10) }
