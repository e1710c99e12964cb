package lambdastream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hash-stream/hash-stream-aws/lib/lambdastream"
)

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// invoke calls the Lambda handler as aws-lambda-go does, reads the whole
// body and closes it, returning the body read error.
func invoke(t *testing.T, h http.Handler, ev *events.LambdaFunctionURLRequest, opts ...lambdastream.Option) (*events.LambdaFunctionURLStreamingResponse, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := lambdastream.New(h, opts...)(ctx, ev)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	if cerr := resp.Close(); cerr != nil {
		t.Errorf("close: %v", cerr)
	}
	return resp, b, err
}

func TestResponse(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		handler http.HandlerFunc
		status  int
		headers map[string]string
		cookies []string
		body    string
	}{
		{
			name:    "no write is 200 with an empty body",
			handler: func(w http.ResponseWriter, r *http.Request) {},
			status:  200,
		},
		{
			name: "status, multi-value headers, cookies",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("X-Multi", "a")
				w.Header().Add("X-Multi", "b")
				w.Header().Set("Content-Type", "application/vnd.ipld.car; version=1")
				http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
				http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", Path: "/"})
				w.WriteHeader(http.StatusTeapot)
				_, _ = io.WriteString(w, "tea")
			},
			status:  http.StatusTeapot,
			headers: map[string]string{"X-Multi": "a, b", "Content-Type": "application/vnd.ipld.car; version=1"},
			cookies: []string{"a=1", "b=2; Path=/"},
			body:    "tea",
		},
		{
			name: "content type sniffed from the first write",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "<!DOCTYPE html><html></html>")
			},
			status:  200,
			headers: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			body:    "<!DOCTYPE html><html></html>",
		},
		{
			name: "nil Content-Type suppresses sniffing",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = nil
				_, _ = io.WriteString(w, "plain")
			},
			status: 200,
			body:   "plain",
		},
		{
			name: "1xx dropped, superfluous WriteHeader ignored, trailers dropped",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "X-Sum")
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusCreated)
				w.WriteHeader(http.StatusInternalServerError)
				w.Header().Set("X-Late", "ignored")
				_, _ = io.WriteString(w, "ok")
			},
			status: http.StatusCreated, // committed at WriteHeader: nothing to sniff yet
			body:   "ok",
		},
		{
			name:   "HEAD has no body",
			method: http.MethodHead,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "5")
				n, err := io.WriteString(w, "hello")
				if n != 5 || err != nil {
					panic(fmt.Sprintf("HEAD write: %d, %v", n, err))
				}
			},
			status:  200,
			headers: map[string]string{"Content-Length": "5", "Content-Type": "text/plain; charset=utf-8"},
		},
		{
			name: "204 refuses a body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
				if _, err := io.WriteString(w, "x"); !errors.Is(err, http.ErrBodyNotAllowed) {
					panic(fmt.Sprintf("204 write: %v", err))
				}
			},
			status: http.StatusNoContent,
		},
		{
			name: "writes beyond Content-Length fail, the declared bytes go through",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "3")
				_, _ = io.WriteString(w, "abc")
				if _, err := io.WriteString(w, "d"); !errors.Is(err, http.ErrContentLength) {
					panic(fmt.Sprintf("extra write: %v", err))
				}
			},
			status:  200,
			headers: map[string]string{"Content-Length": "3", "Content-Type": "text/plain; charset=utf-8"},
			body:    "abc",
		},
		{
			name: "echo request",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, r.URL.Query().Get("q"))
			},
			status:  200,
			headers: map[string]string{"Content-Type": "text/plain"},
			body:    "GET /p q1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			resp, body, err := invoke(t, tt.handler, event(method, "/p", "q=q1"))
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "status", resp.StatusCode, tt.status)
			eq(t, "headers", resp.Headers, tt.headers)
			eq(t, "cookies", resp.Cookies, tt.cookies)
			eq(t, "body", string(body), tt.body)
		})
	}
}

func TestBadRequest(t *testing.T) {
	ev := event("POST", "/", "")
	ev.Body, ev.IsBase64Encoded = "%%%", true
	called := false
	resp, body, err := invoke(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }), ev)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "status", resp.StatusCode, http.StatusBadRequest)
	eq(t, "handler called", called, false)
	if !strings.HasPrefix(string(body), "400 Bad Request") {
		t.Errorf("body %q", body)
	}
}

// TestBadRequestIsShort sends a 900 KB path that is not a valid request
// URI: the 400 quotes only its start.
func TestBadRequestIsShort(t *testing.T) {
	ev := event("GET", "/ipfs/%zz"+strings.Repeat("é", 450<<10), "")
	resp, body, err := invoke(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ev)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "status", resp.StatusCode, http.StatusBadRequest)
	if len(body) > 600 || !strings.Contains(string(body), "…") || !utf8.Valid(body) {
		t.Errorf("body of %d bytes: %.700q", len(body), body)
	}
}

// TestStreaming checks that flushed bytes reach the body reader while the
// handler is still running, and that the Lambda function returns before
// the handler does.
func TestStreaming(t *testing.T) {
	for _, bufSize := range []int{lambdastream.DefaultBufferSize, 0} {
		t.Run(fmt.Sprintf("buffer=%d", bufSize), func(t *testing.T) {
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "first,")
				if bufSize > 0 {
					w.(http.Flusher).Flush()
				}
				<-release
				_, _ = io.WriteString(w, "last")
			})
			resp, err := lambdastream.New(h, lambdastream.WithBufferSize(bufSize))(context.Background(), event("GET", "/", ""))
			if err != nil {
				t.Fatal(err)
			}
			first := make([]byte, len("first,"))
			if _, err := io.ReadFull(resp.Body, first); err != nil {
				t.Fatal(err)
			}
			eq(t, "first bytes", string(first), "first,")
			close(release)
			rest, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "rest", string(rest), "last")
			_ = resp.Close()
		})
	}
}

// TestBufferedWritesWaitForFlush checks that small writes are gathered
// until Flush.
func TestBufferedWritesWaitForFlush(t *testing.T) {
	wrote, flush := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "abc")
		close(wrote)
		<-flush
		_ = http.NewResponseController(w).Flush()
		_, _ = io.WriteString(w, "def")
	})
	resp, err := lambdastream.New(h)(context.Background(), event("GET", "/", ""))
	if err != nil {
		t.Fatal(err)
	}
	<-wrote
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 3)
		_, _ = io.ReadFull(resp.Body, b)
		got <- string(b)
	}()
	// Nothing announces that the read waits: give it a moment. A slow
	// machine can only make this check miss bytes sent before Flush,
	// never fail a writer that holds them.
	select {
	case s := <-got:
		t.Fatalf("read %q before Flush", s)
	case <-time.After(50 * time.Millisecond):
	}
	close(flush)
	eq(t, "flushed", <-got, "abc")
	rest, err := io.ReadAll(resp.Body)
	eq(t, "rest", string(rest), "def")
	eq(t, "err", err, nil)
	_ = resp.Close()
}

var errCorrupt = errors.New("block failed verification")

func TestMidStreamFailure(t *testing.T) {
	tests := []struct {
		name  string
		fail  func(w http.ResponseWriter)
		is    error
		as    any
		logs  string
		bytes string
	}{
		{
			name:  "Abort",
			fail:  func(w http.ResponseWriter) { lambdastream.Abort(w, errCorrupt) },
			is:    errCorrupt,
			as:    new(*lambdastream.AbortError),
			bytes: "head",
		},
		{
			name:  "Abort nil",
			fail:  func(w http.ResponseWriter) { w.(lambdastream.Aborter).Abort(nil) },
			is:    http.ErrAbortHandler,
			as:    new(*lambdastream.AbortError),
			bytes: "head",
		},
		{
			name:  "panic ErrAbortHandler",
			fail:  func(w http.ResponseWriter) { panic(http.ErrAbortHandler) },
			is:    http.ErrAbortHandler,
			as:    new(*lambdastream.AbortError),
			bytes: "head",
		},
		{
			name:  "panic",
			fail:  func(w http.ResponseWriter) { panic("boom") },
			as:    new(*lambdastream.PanicError),
			logs:  "handler panic",
			bytes: "head",
		},
		{
			name: "short body",
			fail: func(w http.ResponseWriter) {
				w.Header().Set("Content-Length", "100")
			},
			is:    lambdastream.ErrShortBody,
			bytes: "head",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
			ctxErr := make(chan error, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer func() { ctxErr <- context.Cause(r.Context()) }()
				if tt.name == "short body" {
					tt.fail(w)
					_, _ = io.WriteString(w, "head")
					return
				}
				_, _ = io.WriteString(w, "head")
				w.(http.Flusher).Flush()
				tt.fail(w)
				// Writes after a failure fail.
				if _, err := io.WriteString(w, "more"); err == nil && tt.name != "panic" {
					panic("write after abort succeeded")
				}
			})
			resp, body, err := invoke(t, h, event("GET", "/", ""), lambdastream.WithLogger(logger))
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			eq(t, "status", resp.StatusCode, 200)
			eq(t, "bytes before the failure", string(body), tt.bytes)
			if err == nil {
				t.Fatal("body ended cleanly")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("body error %v is not %v", err, tt.is)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("body error %T is not %T", err, tt.as)
			}
			if tt.logs != "" && !strings.Contains(logs.String(), tt.logs) {
				t.Errorf("logs %q lack %q", logs.String(), tt.logs)
			}
			if tt.name == "panic" && !strings.Contains(logs.String(), "stack=") {
				t.Errorf("panic logged without stack: %q", logs.String())
			}
			if tt.name == "Abort" {
				if cerr := <-ctxErr; !errors.Is(cerr, errCorrupt) {
					t.Errorf("request context cause %v, want the abort", cerr)
				}
			}
		})
	}
}

func TestFailureBeforeHead(t *testing.T) {
	tests := map[string]http.HandlerFunc{
		"panic":               func(w http.ResponseWriter, r *http.Request) { panic("early") },
		"panic abort":         func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) },
		"Abort":               func(w http.ResponseWriter, r *http.Request) { lambdastream.Abort(w, errCorrupt) },
		"invalid WriteHeader": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(42) },
		"short body": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1")
		},
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err := lambdastream.New(h)(context.Background(), event("GET", "/", ""))
			if err == nil {
				t.Fatalf("no error; response %+v", resp)
			}
			if resp != nil {
				t.Errorf("response with error: %+v", resp)
			}
		})
	}
}

func TestMaxBytes(t *testing.T) {
	writeErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("a"), 8))
		_, err := w.Write(bytes.Repeat([]byte("b"), 8))
		writeErr <- err
	})
	_, body, err := invoke(t, h, event("GET", "/", ""), lambdastream.WithMaxBytes(10), lambdastream.WithBufferSize(0))
	if !errors.Is(err, lambdastream.ErrBodyTooLarge) {
		t.Fatalf("body error %v, want ErrBodyTooLarge", err)
	}
	eq(t, "body", string(body), "aaaaaaaa")
	if err := <-writeErr; !errors.Is(err, lambdastream.ErrBodyTooLarge) {
		t.Errorf("write error %v", err)
	}

	// Exactly at the cap is fine; no cap at all is fine too.
	for _, max := range []int64{16, 0} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(make([]byte, 16))
		})
		if _, body, err := invoke(t, h, event("GET", "/", ""), lambdastream.WithMaxBytes(max)); err != nil || len(body) != 16 {
			t.Errorf("max %d: %d bytes, %v", max, len(body), err)
		}
	}
}

// TestLambdaContextCancelled checks that the end of the Lambda context (a
// deadline, the invocation cut) cancels the request and ends the body with
// an error even if the handler then returns normally.
func TestLambdaContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(stopped)
		_, _ = io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a handler that stops quietly when its context ends
	})
	resp, err := lambdastream.New(h)(ctx, event("GET", "/", ""))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("handler not stopped by the cancelled context")
	}
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("body error %v, want context.Canceled", err)
	}
	_ = resp.Close()
}

// TestDeadlineMargin checks that the request's context ends the margin
// before the invocation's deadline, with ErrDeadline, and that the body
// then ends with that error while the invocation is still live.
func TestDeadlineMargin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a handler that stops quietly when its context ends
	})
	resp, err := lambdastream.New(h, lambdastream.WithDeadlineMargin(time.Minute-50*time.Millisecond))(ctx, event("GET", "/", ""))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if !errors.Is(err, lambdastream.ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("body error %v, want ErrDeadline", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the body ended with the invocation, not before it")
	}
	eq(t, "body before the deadline", string(body), "part")
	_ = resp.Close()

	// Where the request's deadline is: the margin before the invocation's,
	// unless the margin is off or as long as the time left.
	deadline, _ := ctx.Deadline()
	for _, tc := range []struct {
		name string
		opts []lambdastream.Option
		want time.Time
	}{
		{"default", nil, deadline.Add(-lambdastream.DefaultDeadlineMargin)},
		{"set", []lambdastream.Option{lambdastream.WithDeadlineMargin(5 * time.Second)}, deadline.Add(-5 * time.Second)},
		{"off", []lambdastream.Option{lambdastream.WithDeadlineMargin(0)}, deadline},
		{"more than the time left", []lambdastream.Option{lambdastream.WithDeadlineMargin(2 * time.Minute)}, deadline},
	} {
		got := make(chan time.Time, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, _ := r.Context().Deadline()
			got <- d
		})
		resp, err := lambdastream.New(h, tc.opts...)(ctx, event("GET", "/", ""))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		_ = resp.Close()
		if d := <-got; !d.Equal(tc.want) {
			t.Errorf("%s: request deadline %v before the invocation's, want %v", tc.name, deadline.Sub(d), deadline.Sub(tc.want))
		}
	}
}

// TestLambdaContextCancelledUnblocksWrite checks that a write blocked on
// a runtime that does not read fails when the Lambda context ends.
func TestLambdaContextCancelledUnblocksWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	writeErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := w.Write(make([]byte, 1<<20)) // nobody reads
		writeErr <- err
	})
	resp, err := lambdastream.New(h)(ctx, event("GET", "/", ""))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-writeErr:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("write error %v, want the deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("write still blocked")
	}
	_ = resp.Close()
}

// TestBodyClosedEarly is the client going away: the runtime closes the body
// before its end; the handler's context is cancelled and its writes fail,
// and Close returns only once the handler has returned.
func TestBodyClosedEarly(t *testing.T) {
	var returned bool
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		for err == nil {
			_, err = w.Write(make([]byte, 4096))
		}
		if !errors.Is(err, lambdastream.ErrBodyClosed) {
			panic(fmt.Sprintf("write error %v", err))
		}
		<-r.Context().Done()
		// A handler slow to return: the sleep only widens the window in
		// which a Close that does not wait would return first; a Close
		// that waits passes however long it is.
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		returned = true
		mu.Unlock()
	})
	resp, err := lambdastream.New(h, lambdastream.WithBufferSize(0))(context.Background(), event("GET", "/", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 10000)); err != nil {
		t.Fatal(err)
	}
	_ = resp.Close()
	mu.Lock()
	defer mu.Unlock()
	if !returned {
		t.Fatal("Close returned before the handler")
	}
}

func TestContextCancelledAfterReturn(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ctxs <- r.Context() })
	if _, _, err := invoke(t, h, event("GET", "/", "")); err != nil {
		t.Fatal(err)
	}
	if (<-ctxs).Err() == nil {
		t.Fatal("request context live after the handler returned")
	}
}

type wrapper struct{ http.ResponseWriter }

func (w wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestAbortThroughWrapper(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = wrapper{w}
		_, _ = io.WriteString(w, "x")
		_ = http.NewResponseController(w).Flush()
		if !lambdastream.Abort(w, errCorrupt) {
			panic("Abort found no Aborter")
		}
	})
	_, _, err := invoke(t, h, event("GET", "/", ""))
	if !errors.Is(err, errCorrupt) {
		t.Fatalf("body error %v", err)
	}
	if lambdastream.Abort(nopWriter{}, errCorrupt) {
		t.Fatal("Abort on a plain writer reported true")
	}
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) WriteHeader(int)             {}

// TestAbortFromAnotherGoroutine aborts while the handler is blocked writing.
func TestAbortFromAnotherGoroutine(t *testing.T) {
	blocked, aborted := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "x")
		w.(http.Flusher).Flush()
		go func() {
			<-blocked // the write below is under way and waits for a reader
			lambdastream.Abort(w, errCorrupt)
			close(aborted)
		}()
		_, err := w.Write(make([]byte, 1<<20)) // blocks: nobody reads until the abort
		if !errors.Is(err, errCorrupt) {
			panic(fmt.Sprintf("blocked write error %v", err))
		}
	})
	resp, err := lambdastream.New(h, lambdastream.WithBufferSize(0))(context.Background(), event("GET", "/", ""))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		t.Fatal(err)
	}
	// A byte of the 1 MiB write: it has begun, and the unbuffered body
	// holds it until the rest is read.
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		t.Fatal(err)
	}
	close(blocked)
	<-aborted
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, errCorrupt) {
		t.Fatalf("body error %v", err)
	}
	_ = resp.Close()
}

// TestNoGoroutineLeak runs every kind of invocation and checks that the
// goroutine count settles back.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	handlers := []http.HandlerFunc{
		func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") },
		func(w http.ResponseWriter, r *http.Request) {},
		func(w http.ResponseWriter, r *http.Request) { panic("boom") },
		func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "x")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		},
		func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "x")
			lambdastream.Abort(w, errCorrupt)
		},
		func(w http.ResponseWriter, r *http.Request) {
			for {
				if _, err := w.Write(make([]byte, 1024)); err != nil {
					return
				}
			}
		},
	}
	for range 20 {
		for i, h := range handlers {
			resp, err := lambdastream.New(h, lambdastream.WithMaxBytes(64<<10))(context.Background(), event("GET", "/", ""))
			if err != nil {
				continue
			}
			if i%2 == 0 {
				_, _ = io.ReadAll(resp.Body)
			} else {
				_, _ = resp.Body.Read(make([]byte, 1))
			}
			_ = resp.Close()
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
