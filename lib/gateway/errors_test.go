package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/carwalk"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestErrorStatus(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("s3: get packs/x: %w", err) }
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"bad request", badRequest("invalid CID"), 400},
		{"not acceptable", notAcceptable("format"), 406},
		{"method", &RequestError{Status: 405, Message: "m", Err: ErrMethodNotAllowed}, 405},
		{"range", &RangeError{Size: 10}, 416},
		{"gateway not found", fmt.Errorf("resolve: %w", ErrNotFound), 404},
		{"streamer not found", fmt.Errorf("%w: zQm", dag.ErrNotFound), 404},
		{"index not found", wrap(index.ErrNotFound), 404},
		{"store not found", wrap(store.ErrNotFound), 404},
		{"corrupt", fmt.Errorf("%w: zQm", dag.ErrCorrupt), 502},
		{"too deep", fmt.Errorf("%w: bafy", carwalk.ErrTooDeep), 422},
		{"corrupt beats not found", errors.Join(dag.ErrCorrupt, dag.ErrNotFound), 502},
		{"deadline", wrap(context.DeadlineExceeded), 504},
		{"os deadline", wrap(os.ErrDeadlineExceeded), 504},
		{"net timeout", wrap(timeoutErr{}), 504},
		{"storage", wrap(errors.New("connection reset")), 502},
		{"canceled", wrap(context.Canceled), 0},
		{"canceled beats not found", errors.Join(context.Canceled, store.ErrNotFound), 0},
		{"budget", fmt.Errorf("%w: no room", budget.ErrExhausted), 503},
		{"client limit", fmt.Errorf("%w: 64 in flight", budget.ErrClientLimit), 429},
		{"shed", budget.ErrShed, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := ErrorStatus(tt.err)
			if status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			if (status == 0) != (msg == "") {
				t.Errorf("message %q for status %d", msg, status)
			}
			if strings.Contains(msg, "packs/x") || strings.Contains(msg, "connection reset") {
				t.Errorf("message leaks storage details: %q", msg)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		status  int
		body    string
		headers map[string]string
	}{
		{"405", &RequestError{Status: 405, Message: "method POST not allowed", Err: ErrMethodNotAllowed},
			405, "method POST not allowed\n", map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{"416", &RangeError{Size: 42}, 416, "range not satisfiable\n",
			map[string]string{"Content-Range": "bytes */42"}},
		{"404", dag.ErrNotFound, 404, "not found\n", nil},
		{"502", errors.New("boom"), 502, "storage failure\n", nil},
		{"504", context.DeadlineExceeded, 504, "storage timed out\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			// Headers of a response that was about to succeed must go.
			w.Header().Set("Etag", `"x.raw"`)
			w.Header().Set("Cache-Control", immutableCacheControl)
			w.Header().Set("Content-Disposition", "attachment")
			w.Header().Set("Content-Length", "99")
			writeError(w, tt.err)
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.status, tt.body)
			}
			h := w.Header()
			if h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", h)
			}
			for _, k := range []string{"Etag", "Cache-Control", "Content-Disposition", "Content-Length"} {
				if h.Get(k) != "" {
					t.Errorf("%s kept on error", k)
				}
			}
			for k, v := range tt.headers {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
		})
	}
}

func TestWriteErrorCanceled(t *testing.T) {
	w := httptest.NewRecorder()
	writeError(w, fmt.Errorf("read: %w", context.Canceled))
	if w.Body.Len() != 0 || w.Code != http.StatusOK || len(w.Header()) != 0 || w.Flushed {
		t.Errorf("wrote %d %q %v for a canceled request", w.Code, w.Body.String(), w.Header())
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// TestRequestErrorClipsEcho checks that request text quoted in an error
// message is cut to MaxEchoBytes (on a UTF-8 boundary, marked with "…"),
// whatever its form, and that ErrorStatus bounds any message.
func TestRequestErrorClipsEcho(t *testing.T) {
	long := strings.Repeat("a", 900<<10)
	utf := strings.Repeat("é", 450<<10)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"string", badRequest("invalid escape in path segment %q", long)},
		{"UTF-8", notAcceptable("format %q not supported", utf)},
		{"error", badRequest("invalid CID %q: %v", "x", errors.New(long))},
		{"stringer", notFound("no %q in %s", "x", stringer(long))},
		{"path", pathError([]string{long, long}, "%q is not a list index", long)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, msg := ErrorStatus(tc.err)
			if len(msg) > 3*(MaxEchoBytes+len("…"))+100 || !strings.Contains(msg, "…") || !utf8.ValidString(msg) {
				t.Errorf("message of %d bytes: %.400q", len(msg), msg)
			}
		})
	}
	// A message built elsewhere (a long method name, say) is cut whole.
	_, msg := ErrorStatus(&RequestError{Status: 405, Message: "method " + long + " not allowed", Err: ErrMethodNotAllowed})
	if len(msg) > MaxMessageBytes+len("…") || !strings.HasSuffix(msg, "…") {
		t.Errorf("message of %d bytes: %.400q", len(msg), msg)
	}
}
