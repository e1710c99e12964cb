// Package lambdaurl is a test rig: it serves a Lambda function binary (a
// bootstrap built with -tags lambda.norpc) behind a local HTTP endpoint
// that behaves like a Function URL in RESPONSE_STREAM mode, for its tests,
// the benchmark of the deployed shapes and the dev command
// internal/cmd/lambda-url (make lambda-url). It enforces the limits AWS
// does:
//
//   - each HTTP request becomes one Function URL event (payload 2.0) handed
//     to the function through its environment's Runtime API (a
//     lambdatest.Runtime, streamed: see InvokeStream there);
//   - the function's streamed response (a JSON prelude, eight NUL bytes,
//     the body) becomes the HTTP response as it arrives;
//   - the first BurstBytes of a body go uncapped, the rest at most
//     RateBytesPerSec; a body is cut (the connection closed before the end)
//     at MaxBytes, and when the function fails midway;
//   - Environments execution environments (one bootstrap process each,
//     started at its first request: a cold start) serve one invocation at
//     a time; a request waits at most QueueWait for a free one, then gets
//     429, as Lambda throttles.
//
// It listens on 127.0.0.1 only: it is a test and laptop tool, with no
// authentication.
package lambdaurl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
)

// AWS's limits of response streaming (Lambda developer guide, "Bandwidth
// limits for response streaming") and of a request payload.
const (
	DefaultBurstBytes      = 6 << 20
	DefaultRateBytesPerSec = 2 << 20
	DefaultMaxBytes        = 200 << 20
	MaxRequestBytes        = 6 << 20
)

// Defaults of the other options.
const (
	DefaultEnvironments = 1
	DefaultQueueWait    = 10 * time.Second
	DefaultTimeout      = 15 * time.Minute // Lambda's maximum function timeout
)

// maxPrelude bounds the JSON prelude read before the eight NUL bytes.
const maxPrelude = 1 << 20

// Options configures Start. Zero fields take the defaults.
type Options struct {
	// Bootstrap is the function binary (for this machine). Required.
	Bootstrap string
	// Env is the function's environment ("KEY=value") on top of the
	// AWS_LAMBDA_* variables Start sets; nothing else is inherited.
	Env []string
	// Addr is where to listen (default 127.0.0.1:0, a free port). Only
	// loopback addresses are accepted.
	Addr string
	// BurstBytes, RateBytesPerSec and MaxBytes are the streaming limits
	// (defaults: AWS's 6 MiB, 2 MiB/s and 200 MiB).
	BurstBytes, RateBytesPerSec, MaxBytes int64
	// Environments is the number of concurrent execution environments.
	Environments int
	// QueueWait is how long a request waits for a free environment before
	// it is throttled with 429.
	QueueWait time.Duration
	// Timeout is the function timeout: an invocation not finished by then
	// is cut and its environment killed (the next request starts a new one).
	Timeout time.Duration
	// Log receives one line per event worth knowing (cold starts, cuts,
	// function errors); nil discards them.
	Log func(format string, args ...any)
}

// Server is a running local Function URL.
type Server struct {
	opts Options
	url  string
	srv  *http.Server
	ln   net.Listener
	pool chan *environment // free environments
	mu   sync.Mutex
	all  []*environment
	seq  int
	done chan struct{}
}

// Start checks opts, listens and serves until Close. Environments start
// lazily, at their first request.
func Start(opts Options) (*Server, error) {
	if opts.Bootstrap == "" {
		return nil, errors.New("lambdaurl: no bootstrap binary")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	setDefault(&opts.BurstBytes, DefaultBurstBytes)
	setDefault(&opts.RateBytesPerSec, DefaultRateBytesPerSec)
	setDefault(&opts.MaxBytes, DefaultMaxBytes)
	if opts.Environments <= 0 {
		opts.Environments = DefaultEnvironments
	}
	if opts.QueueWait <= 0 {
		opts.QueueWait = DefaultQueueWait
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("lambdaurl: address %q: %w", opts.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("lambdaurl: address %q is not loopback: this endpoint has no authentication", opts.Addr)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("lambdaurl: %w", err)
	}
	s := &Server{
		opts: opts,
		url:  "http://" + ln.Addr().String(),
		ln:   ln,
		pool: make(chan *environment, opts.Environments),
		done: make(chan struct{}),
	}
	for i := range opts.Environments {
		e := &environment{s: s, n: i + 1}
		s.all = append(s.all, e)
		s.pool <- e
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }() // returns http.ErrServerClosed at Close
	return s, nil
}

func setDefault(v *int64, d int64) {
	if *v <= 0 {
		*v = d
	}
}

// URL is the endpoint's base URL, http://127.0.0.1:port.
func (s *Server) URL() string { return s.url }

// Close stops serving, cuts requests in flight and kills every
// environment's process.
func (s *Server) Close() error {
	close(s.done)
	err := s.srv.Close()
	s.mu.Lock()
	all := append([]*environment(nil), s.all...)
	s.mu.Unlock()
	for _, e := range all {
		e.stop()
	}
	return err
}

// ColdStarts returns how many bootstrap processes were started so far.
func (s *Server) ColdStarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.all {
		n += e.starts
	}
	return n
}

// functionError is Function URL's answer to a function that failed
// before streaming (AWS answers 502 with this body).
const functionError = `{"Message":"Internal Server Error"}`

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		http.Error(w, `{"Message":"bad request body"}`, http.StatusBadRequest)
		return
	}
	if len(body) > MaxRequestBytes {
		http.Error(w, `{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}`, http.StatusRequestEntityTooLarge)
		return
	}
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("lambdaurl-%d", s.seq)
	s.mu.Unlock()
	event, err := json.Marshal(toEvent(r, body, id))
	if err != nil {
		http.Error(w, functionError, http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Amzn-Requestid", id)

	var e *environment
	wait := time.NewTimer(s.opts.QueueWait)
	defer wait.Stop()
	select {
	case e = <-s.pool:
	case <-wait.C:
		s.opts.Log("%s throttled: no free environment in %s", id, s.opts.QueueWait)
		http.Error(w, `{"Message":"Rate Exceeded."}`, http.StatusTooManyRequests)
		return
	case <-r.Context().Done():
		return
	case <-s.done:
		return
	}
	defer func() { s.pool <- e }()
	if err := e.ensure(); err != nil {
		s.opts.Log("%s: environment %d: %v", id, e.n, err)
		http.Error(w, functionError, http.StatusBadGateway)
		return
	}
	inv := e.rt.InvokeStream(id, event)
	defer inv.Close() // lets the function's post return
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	var p *lambdatest.Post
	select {
	case p = <-inv.Posted():
	case <-e.exited:
		s.opts.Log("%s: environment %d exited during the invocation", id, e.n)
		http.Error(w, functionError, http.StatusBadGateway)
		return
	case <-ctx.Done():
		s.opts.Log("%s: timed out or client gone before a response: environment %d stopped", id, e.n)
		e.stop() // a stuck environment: the next request starts a new one
		http.Error(w, `{"Message":"Task timed out"}`, http.StatusBadGateway)
		return
	}
	if p.Path == lambdatest.PathError {
		s.opts.Log("%s: function error: %v", id, p.Err())
		http.Error(w, functionError, http.StatusBadGateway)
		return
	}
	// At the timeout, kill the environment: that also ends a read of a
	// function that stalls. A client gone shows as a failed write.
	stop := context.AfterFunc(ctx, func() {
		if ctx.Err() == context.DeadlineExceeded {
			e.stop()
		}
	})
	defer stop()
	if err := s.relay(ctx, w, p, id); err != nil {
		s.opts.Log("%s: response cut: %v", id, err)
		// Close the connection without completing the body, as Lambda
		// does: a chunked response must not get its final chunk.
		panic(http.ErrAbortHandler)
	}
}

// errCap is the cut at MaxBytes.
var errCap = errors.New("response over the streaming payload cap")

// relay decodes the function's stream and writes it to w, paced by the
// limits. A non-nil error means the body must be cut.
func (s *Server) relay(ctx context.Context, w http.ResponseWriter, p *lambdatest.Post, id string) error {
	br := bufio.NewReaderSize(p.Body, 64<<10)
	prelude, err := readPrelude(br)
	if err != nil {
		if len(prelude) == 0 && err == io.EOF {
			// An empty stream: AWS answers 200 with an empty body.
			return p.Err()
		}
		http.Error(w, functionError, http.StatusBadGateway)
		return nil
	}
	var pre struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Cookies    []string          `json:"cookies"`
	}
	if err := json.Unmarshal(prelude, &pre); err != nil {
		s.opts.Log("%s: bad prelude %.200q: %v", id, prelude, err)
		http.Error(w, functionError, http.StatusBadGateway)
		return nil
	}
	if pre.StatusCode == 0 {
		pre.StatusCode = http.StatusOK
	}
	h := w.Header()
	for k, v := range pre.Headers {
		h.Set(k, v)
	}
	for _, c := range pre.Cookies {
		h.Add("Set-Cookie", c)
	}
	w.WriteHeader(pre.StatusCode)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	lim := newLimiter(s.opts.BurstBytes, s.opts.RateBytesPerSec)
	var sent int64
	buf := make([]byte, 32<<10)
	for {
		n, rerr := br.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			over := sent+int64(n) > s.opts.MaxBytes
			if over {
				chunk = chunk[:s.opts.MaxBytes-sent]
			}
			if err := lim.wait(ctx, sent+int64(len(chunk))); err != nil {
				return err
			}
			if _, err := w.Write(chunk); err != nil {
				return err
			}
			_ = rc.Flush()
			sent += int64(len(chunk))
			if over {
				return fmt.Errorf("%w (%d bytes)", errCap, s.opts.MaxBytes)
			}
		}
		if rerr == io.EOF {
			return p.Err()
		}
		if rerr != nil {
			return rerr
		}
	}
}

// readPrelude reads up to the eight NUL bytes that end the prelude.
func readPrelude(br *bufio.Reader) ([]byte, error) {
	var prelude []byte
	for {
		b, err := br.ReadBytes(0)
		prelude = append(prelude, b...)
		if i := bytes.Index(prelude, make([]byte, 8)); i >= 0 {
			if i+8 != len(prelude) {
				return prelude, errors.New("lambdaurl: NUL bytes inside the prelude")
			}
			return prelude[:i], nil
		}
		if err != nil {
			return prelude, err
		}
		if len(prelude) > maxPrelude {
			return prelude, errors.New("lambdaurl: prelude too long")
		}
	}
}

// limiter paces a body: the first burst bytes at once, then rate bytes
// per second. It is a token bucket that starts full (burst) and refills at
// rate; the body is one stream, so it never idles long enough to refill
// past what the formula below allows.
type limiter struct {
	start       time.Time
	burst, rate int64
}

func newLimiter(burst, rate int64) *limiter {
	return &limiter{start: time.Now(), burst: burst, rate: rate}
}

// wait returns when total bytes may have been sent.
func (l *limiter) wait(ctx context.Context, total int64) error {
	if total <= l.burst {
		return nil
	}
	at := l.start.Add(time.Duration(float64(total-l.burst) / float64(l.rate) * float64(time.Second)))
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// toEvent builds the Function URL event (payload 2.0) of r.
func toEvent(r *http.Request, body []byte, id string) *events.LambdaFunctionURLRequest {
	headers := make(map[string]string, len(r.Header)+1)
	for k, v := range r.Header {
		if strings.EqualFold(k, "Cookie") {
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	headers["host"] = r.Host
	var cookies []string
	for _, c := range r.Cookies() {
		cookies = append(cookies, c.String())
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := time.Now()
	ev := &events.LambdaFunctionURLRequest{
		Version:        "2.0",
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Cookies:        cookies,
		Headers:        headers,
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID:  "anonymous",
			RequestID:  id,
			APIID:      "lambdaurl",
			DomainName: r.Host,
			Time:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  ip,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = make(map[string]string, len(q))
		for k, v := range q {
			ev.QueryStringParameters[k] = strings.Join(v, ",")
		}
	}
	if len(body) > 0 {
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	}
	return ev
}
