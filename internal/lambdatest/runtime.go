package lambdatest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Runtime API header and trailer names, as aws-lambda-go uses them.
const (
	HeaderRequestID   = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMS  = "Lambda-Runtime-Deadline-Ms"
	HeaderFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID     = "Lambda-Runtime-Trace-Id"
	HeaderErrorType   = "Lambda-Runtime-Function-Error-Type"
	TrailerErrorType  = "Lambda-Runtime-Function-Error-Type"
	TrailerErrorBody  = "Lambda-Runtime-Function-Error-Body"
)

const (
	// DefaultTimeout is the deadline Runtime gives each invocation.
	DefaultTimeout = 30 * time.Second
	// DefaultFunctionARN is the function ARN Runtime sends.
	DefaultFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:lambdatest"
)

// Runtime is a fake Lambda Runtime API on 127.0.0.1, the one this
// repository has. It serves GET /2018-06-01/runtime/invocation/next from a
// queue of events and takes what the function posts to .../{id}/response,
// .../{id}/error and /2018-06-01/runtime/init/error: it records the post
// of an event queued with Invoke, and hands the post of one queued with
// InvokeStream to the caller as it arrives (package lambdaurl serves a
// local Function URL that way). Its zero value is not usable: see
// NewRuntime and ListenRuntime.
type Runtime struct {
	addr    string
	timeout time.Duration
	arn     string
	queue   chan *Invocation
	srv     *http.Server
	closed  chan struct{}
	close   sync.Once

	mu          sync.Mutex
	invocations map[string]*Invocation
	seq         int
	initErrors  []Result
}

// RuntimeOption configures NewRuntime.
type RuntimeOption func(*Runtime)

// WithTimeout sets the deadline given to each invocation (default
// DefaultTimeout).
func WithTimeout(d time.Duration) RuntimeOption { return func(rt *Runtime) { rt.timeout = d } }

// WithFunctionARN sets the invoked function ARN (default DefaultFunctionARN).
func WithFunctionARN(arn string) RuntimeOption { return func(rt *Runtime) { rt.arn = arn } }

// NewRuntime starts a fake Runtime API on a free 127.0.0.1 port (see
// ListenRuntime); it stops when the test ends.
func NewRuntime(t testing.TB, opts ...RuntimeOption) *Runtime {
	t.Helper()
	rt, err := ListenRuntime(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// ListenRuntime starts a fake Runtime API on a free 127.0.0.1 port, outside
// a test (a dev command's); it serves until Close.
func ListenRuntime(opts ...RuntimeOption) (*Runtime, error) {
	rt := &Runtime{
		timeout:     DefaultTimeout,
		arn:         DefaultFunctionARN,
		queue:       make(chan *Invocation, 64),
		closed:      make(chan struct{}),
		invocations: make(map[string]*Invocation),
	}
	for _, opt := range opts {
		opt(rt)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdatest: listen: %w", err)
	}
	rt.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", rt.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", rt.post(PathResponse))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", rt.post(PathError))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", rt.initError)
	rt.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rt.srv.Serve(ln) }() // returns http.ErrServerClosed at Close
	return rt, nil
}

// Close stops serving and lets go the posts of streamed invocations still
// waiting for their caller.
func (rt *Runtime) Close() error {
	rt.close.Do(func() { close(rt.closed) })
	return rt.srv.Close()
}

// Addr is the host:port to give the function as AWS_LAMBDA_RUNTIME_API.
func (rt *Runtime) Addr() string { return rt.addr }

// Start runs the function binary with AWS_LAMBDA_RUNTIME_API set to Addr,
// a few AWS_LAMBDA_* variables, and env ("KEY=value") on top; nothing else
// is inherited. The process is killed when the test ends; its output is
// logged if the test failed.
func (rt *Runtime) Start(t testing.TB, binary string, env ...string) {
	t.Helper()
	_, _ = startProcess(t, binary, append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + rt.addr,
		"AWS_LAMBDA_FUNCTION_NAME=lambdatest",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_REGION=us-east-1",
	}, env...), nil)
}

// Invoke queues event for the function and returns at once. The
// function's post is recorded whole: see Invocation.Wait.
func (rt *Runtime) Invoke(event []byte) *Invocation { return rt.invoke("", event, false) }

// InvokeStream queues event under the request id id (one of Runtime's own
// if empty) and returns at once. The function's post is not recorded but
// handed over on Posted as it arrives, and the function's post waits until
// the caller calls the invocation's Close: the caller reads the body at its
// own pace, as a Function URL's client does, so the function's writes wait
// for the caller's reads. The caller must call Close once done, whether a
// post came or not. Wait then returns the post's Path, Header, Trailer and
// times, with no Body.
func (rt *Runtime) InvokeStream(id string, event []byte) *Invocation {
	return rt.invoke(id, event, true)
}

func (rt *Runtime) invoke(id string, event []byte, stream bool) *Invocation {
	rt.mu.Lock()
	rt.seq++
	if id == "" {
		id = fmt.Sprintf("lambdatest-%d", rt.seq)
	}
	inv := &Invocation{
		ID:        id,
		Event:     event,
		Queued:    time.Now(),
		firstByte: make(chan struct{}),
		done:      make(chan struct{}),
	}
	if stream {
		inv.posts = make(chan *Post, 1)
		inv.released = make(chan struct{})
	}
	rt.invocations[inv.ID] = inv
	rt.mu.Unlock()
	rt.queue <- inv
	return inv
}

// InitErrors returns what the function posted to /runtime/init/error.
func (rt *Runtime) InitErrors() []Result {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]Result(nil), rt.initErrors...)
}

func (rt *Runtime) next(w http.ResponseWriter, r *http.Request) {
	var inv *Invocation
	select {
	case inv = <-rt.queue:
	case <-r.Context().Done():
		return
	}
	inv.mu.Lock()
	inv.fetched = time.Now()
	inv.mu.Unlock()
	deadline := time.Now().Add(rt.timeout)
	h := w.Header()
	h.Set(HeaderRequestID, inv.ID)
	h.Set(HeaderDeadlineMS, strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set(HeaderFunctionARN, rt.arn)
	h.Set(HeaderTraceID, "Root=1-00000000-000000000000000000000000;Sampled=0")
	h.Set("Content-Type", "application/json")
	_, _ = w.Write(inv.Event)
}

// post returns a handler that records an invocation's response or error
// (path), reading the body as it streams in.
func (rt *Runtime) post(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { rt.record(path, w, r) }
}

func (rt *Runtime) record(path string, w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	inv := rt.invocations[r.PathValue("id")]
	rt.mu.Unlock()
	if inv == nil {
		http.Error(w, `{"errorType":"InvalidRequestID"}`, http.StatusBadRequest)
		return
	}
	select {
	case <-inv.done:
		http.Error(w, `{"errorType":"InvalidStateTransition"}`, http.StatusBadRequest)
		return
	default:
	}
	res := Result{
		Path:        path,
		ContentType: r.Header.Get("Content-Type"),
		Header:      r.Header.Clone(),
	}
	if inv.posts != nil {
		rt.handOver(inv, res, w, r)
		return
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			inv.mu.Lock()
			inv.markFirstByte()
			inv.received = append(inv.received, buf[:n]...)
			inv.mu.Unlock()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			res.ReadErr = err
			break
		}
	}
	inv.mu.Lock()
	res.Body = inv.received
	inv.mu.Unlock()
	res.Trailer = r.Trailer.Clone()
	inv.finish(res)
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// handOver gives the post of a streamed invocation to its caller (see
// InvokeStream) and returns once the caller is done with it. A second post
// for the invocation is refused; the invocation is forgotten after, so that
// a long-running Runtime does not keep every event.
func (rt *Runtime) handOver(inv *Invocation, res Result, w http.ResponseWriter, r *http.Request) {
	inv.mu.Lock()
	taken := inv.posted
	inv.posted = true
	inv.mu.Unlock()
	if taken {
		http.Error(w, `{"errorType":"InvalidStateTransition"}`, http.StatusBadRequest)
		return
	}
	inv.posts <- &Post{ // buffered: the only post
		Path:    res.Path,
		Header:  res.Header,
		Body:    &firstByteReader{r: r.Body, inv: inv},
		Trailer: r.Trailer,
	}
	select {
	case <-inv.released:
	case <-rt.closed:
	case <-r.Context().Done():
	}
	res.Trailer = r.Trailer.Clone()
	inv.finish(res)
	rt.mu.Lock()
	delete(rt.invocations, inv.ID)
	rt.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// firstByteReader marks an invocation's first body bytes as they are read.
type firstByteReader struct {
	r   io.Reader
	inv *Invocation
}

func (f *firstByteReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 {
		f.inv.mu.Lock()
		f.inv.markFirstByte()
		f.inv.mu.Unlock()
	}
	return n, err
}

func (rt *Runtime) initError(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	rt.mu.Lock()
	rt.initErrors = append(rt.initErrors, Result{Path: PathInitError, ContentType: r.Header.Get("Content-Type"), Header: r.Header.Clone(), Body: b, ReadErr: err, Done: time.Now()})
	rt.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// Invocation is one event queued on a Runtime.
type Invocation struct {
	// ID is the request id sent as Lambda-Runtime-Aws-Request-Id.
	ID string
	// Event is the payload.
	Event []byte
	// Queued is when Invoke queued it.
	Queued time.Time

	firstByte chan struct{} // closed at the first body bytes
	done      chan struct{} // closed with result set
	posts     chan *Post    // InvokeStream's: the post, handed over
	released  chan struct{} // InvokeStream's: closed by Close
	release   sync.Once

	mu          sync.Mutex
	fetched     time.Time
	firstByteAt time.Time
	received    []byte
	posted      bool // InvokeStream's: a post was handed over
	result      Result
}

// markFirstByte notes the first body bytes; inv.mu is held.
func (inv *Invocation) markFirstByte() {
	if inv.firstByteAt.IsZero() {
		inv.firstByteAt = time.Now()
		close(inv.firstByte)
	}
}

// Posted delivers the function's post of an invocation queued with
// InvokeStream, once, as it arrives; it is nil for one queued with Invoke.
func (inv *Invocation) Posted() <-chan *Post { return inv.posts }

// Close tells the function's post of an invocation queued with InvokeStream
// that the caller is done with it: the post returns to the function (a post
// not yet come returns at once when it comes). It does nothing for one
// queued with Invoke, and may be called more than once.
func (inv *Invocation) Close() {
	if inv.released != nil {
		inv.release.Do(func() { close(inv.released) })
	}
}

// Received returns a copy of the body bytes received so far: the bytes
// a client would have seen while the function still streams.
func (inv *Invocation) Received() []byte {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return bytes.Clone(inv.received)
}

// FirstByte is closed when the first bytes of the function's response
// (the prelude, for a streaming response) arrive.
func (inv *Invocation) FirstByte() <-chan struct{} { return inv.firstByte }

// Done is closed when the function's response or error has been read
// whole (or its connection broke).
func (inv *Invocation) Done() <-chan struct{} { return inv.done }

// Wait returns the invocation's result once Done, or ctx's error.
func (inv *Invocation) Wait(ctx context.Context) (*Result, error) {
	select {
	case <-inv.done:
		inv.mu.Lock()
		defer inv.mu.Unlock()
		res := inv.result
		return &res, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("lambdatest: invocation %s: %w", inv.ID, ctx.Err())
	}
}

func (inv *Invocation) finish(res Result) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	select {
	case <-inv.done:
		return // a second post for one invocation: keep the first
	default:
	}
	res.Queued, res.Fetched, res.FirstByte, res.Done = inv.Queued, inv.fetched, inv.firstByteAt, time.Now()
	inv.result = res
	close(inv.done)
}

// Paths a function posts a result to.
const (
	PathResponse  = "response"
	PathError     = "error"
	PathInitError = "init/error"
)

// Result is what a function posted for an invocation.
type Result struct {
	// Path is PathResponse, PathError or PathInitError.
	Path string
	// ContentType is the post's Content-Type: HTTPContentType for a
	// Function URL streaming response.
	ContentType string
	// Header is the post's header.
	Header http.Header
	// Body is the whole body received.
	Body []byte
	// Trailer holds the trailers after the body: the error trailers of a
	// stream that failed midway.
	Trailer http.Header
	// ReadErr is the error that broke reading the body, if any.
	ReadErr error
	// Queued, Fetched, FirstByte and Done are when the event was queued,
	// handed to the function, when the first body bytes arrived (zero if
	// none) and when the body ended.
	Queued, Fetched, FirstByte, Done time.Time
}

// FunctionError is the error a function reported, decoded from the error
// trailers of a response or from the body of an error post.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Err returns the function's error: the decoded error trailers of a
// response stream, the body of an error post, or an error for a body that
// broke off; nil for a clean response.
func (r *Result) Err() error {
	if r.ReadErr != nil {
		return fmt.Errorf("lambdatest: %s body broke off: %w", r.Path, r.ReadErr)
	}
	switch r.Path {
	case PathError, PathInitError:
		return postedError(r.Header, r.Body)
	}
	return trailerError(r.Trailer)
}

// Post is the function's post for an invocation queued with InvokeStream,
// handed over as it arrives.
type Post struct {
	// Path is PathResponse or PathError.
	Path string
	// Header is the post's header.
	Header http.Header
	// Body is the post's body, read at the caller's pace until the
	// invocation's Close.
	Body io.Reader
	// Trailer holds the trailers after the body once Body returned
	// io.EOF: the error trailers of a stream that failed midway.
	Trailer http.Header
}

// maxErrorPost bounds what Post.Err reads of an error post.
const maxErrorPost = 64 << 10

// Err returns the function's error: for an error post, the body (read
// here, at most 64 KiB) decoded; for a response, its decoded error
// trailers once Body returned io.EOF; nil for a clean response.
func (p *Post) Err() error {
	if p.Path != PathResponse {
		b, _ := io.ReadAll(io.LimitReader(p.Body, maxErrorPost))
		return postedError(p.Header, b)
	}
	return trailerError(p.Trailer)
}

// postedError decodes the body of an error or init error post.
func postedError(header http.Header, body []byte) error {
	fe := &FunctionError{Type: header.Get(HeaderErrorType)}
	if err := json.Unmarshal(body, fe); err != nil {
		fe.Message = string(body)
	}
	return fe
}

// trailerError decodes the error trailers of a response stream; nil when
// there are none.
func trailerError(trailer http.Header) error {
	typ := trailer.Get(TrailerErrorType)
	enc := trailer.Get(TrailerErrorBody)
	if typ == "" && enc == "" {
		return nil
	}
	fe := &FunctionError{Type: typ}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return errors.Join(fe, fmt.Errorf("lambdatest: error trailer body: %w", err))
	}
	if err := json.Unmarshal(b, fe); err != nil {
		fe.Message = string(b)
	}
	return fe
}
