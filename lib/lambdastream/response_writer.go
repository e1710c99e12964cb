package lambdastream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/hash-stream/hash-stream-aws/lib/abort"
)

// Aborter is implemented by the http.ResponseWriter New gives the handler.
// Its Abort ends the response with an error: the body is closed with an
// *AbortError wrapping err (http.ErrAbortHandler if nil), so the client
// sees the response cut short, never a clean end, and the request's
// context is cancelled. Later writes fail. It may be called from any
// goroutine; the handler should return soon after. Abort after the handler
// returned does nothing.
type Aborter = abort.Aborter

// Abort ends the response being written to w with err, as Aborter
// describes, and reports true, if w or a writer it wraps (through an
// Unwrap() http.ResponseWriter method, as http.ResponseController follows)
// implements Aborter. It reports false otherwise: under net/http's server,
// for one, the handler cuts the response with panic(http.ErrAbortHandler).
// It is abort.Response, which the gateway aborts its responses with.
func Abort(w http.ResponseWriter, err error) bool { return abort.Response(w, err) }

// head is a committed status line and header.
type head struct {
	status  int
	headers map[string]string
	cookies []string
}

// outcome is what the Lambda function waits for: the head, or a failure
// that came before it.
type outcome struct {
	head head
	err  error
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ Aborter             = (*responseWriter)(nil)
)

// responseWriter streams a handler's response into a pipe. The fields
// above mu belong to the handler's side (Header, Write, WriteHeader, Flush
// and run, which the ResponseWriter contract serializes); Abort may come
// from anywhere and only touches what mu guards and the pipe.
type responseWriter struct {
	req    *http.Request
	o      *options
	cancel context.CancelCauseFunc
	pw     *io.PipeWriter
	bw     *bufio.Writer // nil when unbuffered
	out    chan outcome  // receives exactly one outcome

	header        http.Header
	committed     bool
	noBody        bool  // HEAD, or a status that has no body
	contentLength int64 // declared Content-Length, or -1
	written       int64

	mu       sync.Mutex
	failed   error // the first failure
	finished bool  // the handler returned
}

func newResponseWriter(req *http.Request, pw *io.PipeWriter, cancel context.CancelCauseFunc, o *options) *responseWriter {
	w := &responseWriter{
		req:           req,
		o:             o,
		cancel:        cancel,
		pw:            pw,
		out:           make(chan outcome, 1),
		header:        make(http.Header),
		contentLength: -1,
	}
	if o.bufferSize > 0 {
		w.bw = bufio.NewWriterSize(pw, o.bufferSize)
	}
	return w
}

// Header returns the header map; changes after the first Write,
// WriteHeader or Flush are not sent. Trailers are not supported.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader commits the status and header. 1xx statuses are dropped
// (Function URLs cannot send them); a superfluous call is logged and
// ignored; an invalid code aborts the response.
func (w *responseWriter) WriteHeader(code int) {
	switch {
	case code < 100 || code > 999:
		w.fail(fmt.Errorf("lambdastream: invalid WriteHeader code %d", code))
	case w.committed:
		w.o.logger.Warn("lambdastream: superfluous WriteHeader", "request_id", RequestID(w.req.Context()), "code", code)
	case code < 200:
	default:
		w.commit(code, nil)
	}
}

// Write sends p as body bytes, committing a 200 status first if needed.
// For HEAD it discards p; for 204 and 304 it fails with
// http.ErrBodyNotAllowed; beyond a declared Content-Length it fails with
// http.ErrContentLength; past the size cap it fails, and ends the body,
// with ErrBodyTooLarge.
func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.committed && !w.commit(http.StatusOK, p) {
		return 0, w.err()
	}
	if err := w.err(); err != nil {
		return 0, err
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	n := int64(len(p))
	if w.contentLength >= 0 && w.written+n > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.o.maxBytes > 0 && w.written+n > w.o.maxBytes {
		return 0, w.fail(ErrBodyTooLarge)
	}
	var m int
	var err error
	if w.bw != nil {
		m, err = w.bw.Write(p)
	} else {
		m, err = w.pw.Write(p)
	}
	w.written += int64(m)
	if err != nil {
		return m, w.writeErr(err)
	}
	return m, nil
}

// Flush commits the head and sends the buffered body bytes.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush returning the error, for http.ResponseController.
func (w *responseWriter) FlushError() error {
	if !w.committed && !w.commit(http.StatusOK, nil) {
		return w.err()
	}
	if err := w.err(); err != nil {
		return err
	}
	if w.bw != nil && !w.noBody {
		if err := w.bw.Flush(); err != nil {
			return w.writeErr(err)
		}
	}
	return nil
}

// Abort implements Aborter.
func (w *responseWriter) Abort(err error) {
	if err == nil {
		err = http.ErrAbortHandler
	}
	w.fail(&AbortError{Err: err})
}

// commit captures the status and header and hands them to the Lambda
// function. first is the first Write's bytes, for Content-Type sniffing. It
// reports false, committing nothing, if the response already failed.
func (w *responseWriter) commit(code int, first []byte) bool {
	h := w.header.Clone()
	noBody := w.req.Method == http.MethodHead || !bodyAllowed(code)
	if _, ok := h["Content-Type"]; !ok && len(first) > 0 && bodyAllowed(code) {
		h.Set("Content-Type", http.DetectContentType(first))
	}
	contentLength := int64(-1)
	if v := h.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			contentLength = n
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return false
	}
	w.committed, w.noBody, w.contentLength = true, noBody, contentLength
	w.out <- outcome{head: newHead(code, h)}
	return true
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// newHead turns a header into Function URL form: values joined with ", ",
// Set-Cookie as cookies, empty values (a nil Content-Type) and trailer
// declarations dropped.
func newHead(code int, h http.Header) head {
	hd := head{status: code}
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		k = http.CanonicalHeaderKey(k)
		switch {
		case k == "Set-Cookie":
			hd.cookies = append(hd.cookies, vs...)
		case k == "Trailer" || strings.HasPrefix(k, http.TrailerPrefix):
		default:
			if hd.headers == nil {
				hd.headers = make(map[string]string, len(h))
			}
			v := strings.Join(vs, ", ")
			if prev, ok := hd.headers[k]; ok {
				v = prev + ", " + v
			}
			hd.headers[k] = v
		}
	}
	return hd
}

// fail records err as the response's failure unless one came first or the
// handler already returned, then cancels the request and closes the body
// with the first failure, which it returns.
func (w *responseWriter) fail(err error) error {
	w.mu.Lock()
	if w.finished {
		w.mu.Unlock()
		return err
	}
	if w.failed == nil {
		w.failed = err
	}
	err = w.failed
	w.mu.Unlock()
	w.cancel(err)
	_ = w.pw.CloseWithError(err) // always nil
	return err
}

// err returns the response's failure, if any.
func (w *responseWriter) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil && w.finished {
		return errors.New("lambdastream: write after the handler returned")
	}
	return w.failed
}

// writeErr explains a failed pipe write: the response's failure, or why
// the request's context ended (the runtime closed the body, the Lambda
// deadline passed), or err itself.
func (w *responseWriter) writeErr(err error) error {
	if ferr := w.err(); ferr != nil {
		return ferr
	}
	if ctx := w.req.Context(); ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// run serves the request and ends the response: cleanly only if the
// handler returned normally, its context is still live and it wrote all it
// declared.
func (w *responseWriter) run(h http.Handler, done chan<- struct{}) {
	defer close(done)
	ctx := w.req.Context()
	// A context that ends unblocks a write waiting on the runtime.
	stop := context.AfterFunc(ctx, func() { _ = w.pw.CloseWithError(context.Cause(ctx)) })

	err := w.serve(h)
	if err == nil {
		err = w.err()
	}
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err == nil && !w.committed {
		// Nothing written: a declared length can only be short.
		if n, perr := strconv.ParseInt(w.header.Get("Content-Length"), 10, 64); perr == nil && n > 0 && w.req.Method != http.MethodHead {
			err = ErrShortBody
		} else if !w.commit(http.StatusOK, nil) {
			err = w.err()
		}
	}
	if err == nil && w.bw != nil && !w.noBody {
		if ferr := w.bw.Flush(); ferr != nil {
			err = w.writeErr(ferr)
		}
	}
	if err == nil && !w.noBody && w.contentLength >= 0 && w.written < w.contentLength {
		err = ErrShortBody
	}

	w.mu.Lock()
	if w.failed != nil {
		err = w.failed
	}
	w.finished = true
	w.mu.Unlock()

	stop() // from here on the pipe is closed below, not by a leftover goroutine
	if err != nil {
		w.cancel(err)
		_ = w.pw.CloseWithError(err) // always nil
		if !w.committed {
			w.out <- outcome{err: err}
		}
		return
	}
	_ = w.pw.Close() // always nil
	w.cancel(context.Canceled)
}

// serve calls the handler, turning a panic into the error that ends the
// response.
func (w *responseWriter) serve(h http.Handler) (err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		err = abortCause(v, debug.Stack())
		if pe, ok := err.(*PanicError); ok {
			w.o.logger.Error("lambdastream: handler panic", "request_id", RequestID(w.req.Context()), "panic", fmt.Sprint(v), "stack", string(pe.Stack))
		}
	}()
	h.ServeHTTP(w, w.req)
	return nil
}
