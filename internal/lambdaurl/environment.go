package lambdaurl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Runtime API header and trailer names (as aws-lambda-go uses them).
const (
	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMS  = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	trailerErrorType  = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody  = "Lambda-Runtime-Function-Error-Body"
)

// invocation is one request handed to an environment.
type invocation struct {
	id       string
	event    []byte
	posted   chan *post    // the function's response or error post
	finished chan struct{} // closed when the HTTP side is done with the post
}

// post is what the function posted for an invocation, read as it streams.
type post struct {
	path    string // "response" or "error"
	body    io.Reader
	trailer http.Header // complete once body reached EOF
}

// FunctionError is an error the function reported in its error trailers
// after it had started streaming.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return "function error " + e.Type + ": " + e.Message }

// err returns the function's mid-stream error from the trailers, if any.
func (p *post) err() error {
	typ, enc := p.trailer.Get(trailerErrorType), p.trailer.Get(trailerErrorBody)
	if typ == "" && enc == "" {
		return nil
	}
	fe := &FunctionError{Type: typ}
	if b, err := base64.StdEncoding.DecodeString(enc); err == nil {
		if json.Unmarshal(b, fe) != nil {
			fe.Message = string(b)
		}
	}
	return fe
}

// environment is one execution environment: a Runtime API on its own
// 127.0.0.1 port and the bootstrap process polling it. It serves one
// invocation at a time (the Server's pool guarantees it).
type environment struct {
	s      *Server
	n      int
	starts int // guarded by s.mu

	mu     sync.Mutex
	next   chan *invocation
	exited chan struct{} // closed when the process has exited
	kill   func()
}

// ensure starts the environment if it is not running (a cold start).
func (e *environment) ensure() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.exited != nil {
		select {
		case <-e.exited:
		default:
			return nil // running
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	next := make(chan *invocation)
	rt := &runtimeAPI{s: e.s, next: next, invocations: make(map[string]*invocation)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", rt.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", rt.handlePost("response"))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", rt.handlePost("error"))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", rt.handleInitError)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // returns http.ErrServerClosed at Close

	cmd := exec.Command(e.s.opts.Bootstrap)
	cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=lambdaurl",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
		"AWS_REGION=us-east-1",
	}, e.s.opts.Env...)
	out := &logWriter{log: e.s.opts.Log, prefix: fmt.Sprintf("env %d: ", e.n)}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = srv.Close()
		return fmt.Errorf("start %s: %w", e.s.opts.Bootstrap, err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		e.s.opts.Log("env %d: bootstrap exited: %v", e.n, err)
		_ = srv.Close()
		close(exited)
	}()
	var once sync.Once
	e.next, e.exited = next, exited
	e.kill = func() {
		once.Do(func() { // never signal a process group id that may be reused
			select {
			case <-exited:
			default:
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		})
	}
	e.s.mu.Lock()
	e.starts++
	e.s.mu.Unlock()
	e.s.opts.Log("env %d: cold start (pid %d, runtime API %s)", e.n, cmd.Process.Pid, ln.Addr())
	return nil
}

// stop kills the environment's process, if any; ensure starts a new one.
func (e *environment) stop() {
	e.mu.Lock()
	kill := e.kill
	e.mu.Unlock()
	if kill != nil {
		kill()
	}
}

// runtimeAPI is the Runtime API of one process of an environment.
type runtimeAPI struct {
	s           *Server
	next        chan *invocation
	mu          sync.Mutex
	invocations map[string]*invocation
}

func (rt *runtimeAPI) handleNext(w http.ResponseWriter, r *http.Request) {
	var inv *invocation
	select {
	case inv = <-rt.next:
	case <-r.Context().Done():
		return
	}
	rt.mu.Lock()
	rt.invocations = map[string]*invocation{inv.id: inv} // one at a time
	rt.mu.Unlock()
	h := w.Header()
	h.Set(headerRequestID, inv.id)
	h.Set(headerDeadlineMS, strconv.FormatInt(time.Now().Add(rt.s.opts.Timeout).UnixMilli(), 10))
	h.Set(headerFunctionARN, "arn:aws:lambda:us-east-1:123456789012:function:lambdaurl")
	h.Set(headerTraceID, "Root=1-00000000-000000000000000000000000;Sampled=0")
	h.Set("Content-Type", "application/json")
	_, _ = w.Write(inv.event)
}

// handlePost hands the function's post to the waiting HTTP request and
// returns when that request is done with it.
func (rt *runtimeAPI) handlePost(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rt.mu.Lock()
		inv := rt.invocations[r.PathValue("id")]
		delete(rt.invocations, r.PathValue("id"))
		rt.mu.Unlock()
		if inv == nil {
			http.Error(w, `{"errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		inv.posted <- &post{path: path, body: r.Body, trailer: r.Trailer} // buffered
		<-inv.finished
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"OK"}`)
	}
}

func (rt *runtimeAPI) handleInitError(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	rt.s.opts.Log("init error: %s", b)
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// logWriter sends a process's output, line by line, to a log function.
type logWriter struct {
	mu     sync.Mutex
	log    func(string, ...any)
	prefix string
	buf    []byte
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.log("%s%s", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		l.log("%s%s", l.prefix, l.buf)
		l.buf = nil
	}
	return len(p), nil
}
