package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/carwalk"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/store"
)

var (
	// ErrNotFound is returned (wrapped) for content the gateway does not
	// hold. dag.ErrNotFound and store.ErrNotFound (which
	// index.ErrNotFound wraps) map to the same status (404).
	ErrNotFound = errors.New("not found")
	// ErrMethodNotAllowed is returned by ParseRequest for methods other
	// than GET and HEAD (405).
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrNotAcceptable is wrapped by every error that refuses the requested
	// response format or CAR variant (406).
	ErrNotAcceptable = errors.New("not acceptable")
	// ErrBadRequest is wrapped by every error about an unparsable CID, path,
	// header or query parameter (400).
	ErrBadRequest = errors.New("bad request")
)

// RequestError is an error about the request itself. Status is the HTTP
// status to answer with (4xx) and Message a short text for the body.
type RequestError struct {
	Status  int
	Message string
	// Err is the sentinel (ErrBadRequest, ErrNotAcceptable,
	// ErrMethodNotAllowed, ErrNotFound) or the parse error behind it.
	Err error
}

func (e *RequestError) Error() string { return "gateway: " + e.Message }

// Unwrap returns the error behind e.
func (e *RequestError) Unwrap() error { return e.Err }

// RangeError is returned for a Range header no byte of a
// Size-byte block satisfies (416).
type RangeError struct {
	Size int64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("gateway: range not satisfiable for a %d-byte block", e.Size)
}

// MaxEchoBytes bounds each piece of the request (a path, a segment, a CID
// as written, a query value) that an error message repeats: longer ones are
// cut there and end with "…". MaxMessageBytes bounds a whole error body.
// A URL may be up to the server's header limit (1 MiB by default), and an
// error body should not hand it back.
const (
	MaxEchoBytes    = 256
	MaxMessageBytes = 1024
)

// requestError builds a *RequestError whose message is format with args,
// every string, error or Stringer among args (request text, CIDs) cut to
// MaxEchoBytes. Every message that quotes the request is built here.
func requestError(status int, sentinel error, format string, args ...any) *RequestError {
	clipped := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			clipped[i] = clip(v, MaxEchoBytes)
		case error:
			clipped[i] = clip(v.Error(), MaxEchoBytes)
		case fmt.Stringer:
			clipped[i] = clip(v.String(), MaxEchoBytes)
		default:
			clipped[i] = a
		}
	}
	return &RequestError{Status: status, Message: fmt.Sprintf(format, clipped...), Err: sentinel}
}

func badRequest(format string, args ...any) error {
	return requestError(http.StatusBadRequest, ErrBadRequest, format, args...)
}

func notAcceptable(format string, args ...any) error {
	return requestError(http.StatusNotAcceptable, ErrNotAcceptable, format, args...)
}

// clip cuts s to at most max bytes, on a UTF-8 boundary, marking a cut
// with "…".
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ErrorStatus maps err to the HTTP status and the short text body to answer
// with. It is the only place where errors become statuses:
//
//   - context.Canceled (the client went away): status 0, write nothing;
//   - *RequestError: its Status and Message, cut to MaxMessageBytes (400,
//     404, 405, 406, 413);
//   - *RangeError: 416;
//   - *BlockedError: the denylist rule's status (410 by default, 451),
//     body "blocked", cacheable for BlockedMaxAge seconds;
//   - budget.ErrClientLimit: 429 with Retry-After, the client has the
//     most responses in flight it may have;
//   - budget.ErrExhausted (or budget.ErrShed): 503 with Retry-After, the
//     server is at its memory budget;
//   - dag.ErrInternal (a panic): 500;
//   - carwalk.ErrTooDeep: 422, the DAG is deeper than the walk goes;
//   - dag.ErrBadRecord: 502, the index gives an impossible location;
//   - dag.ErrCorrupt: 502, the store returned bytes that do not match
//     their CID;
//   - *dag.CodecError: 501 "unsupported codec 0x…", links or a path
//     had to be read from a block whose codec this gateway does not decode
//     (the block itself is served: raw, dag-scope=block or entity);
//   - ErrNotFound, dag.ErrNotFound (a Source without the block) and
//     store.ErrNotFound (which index.ErrNotFound wraps): 404;
//   - context.DeadlineExceeded or a timeout: 504;
//   - anything else: 502. The handler's only I/O is the store, so an
//     unclassified error is a storage failure; its text (bucket names,
//     keys) is not echoed.
func ErrorStatus(err error) (int, string) {
	var reqErr *RequestError
	var rangeErr *RangeError
	var netErr net.Error
	var codecErr *dag.CodecError
	var blocked *BlockedError
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.As(err, &blocked):
		return blocked.Rule.Status, "blocked"
	case errors.Is(err, context.Canceled):
		return 0, ""
	case errors.As(err, &reqErr):
		return reqErr.Status, clip(reqErr.Message, MaxMessageBytes)
	case errors.Is(err, budget.ErrClientLimit):
		return http.StatusTooManyRequests, "too many responses in flight for this client: retry when one ends"
	case errors.Is(err, budget.ErrExhausted), errors.Is(err, budget.ErrShed):
		return http.StatusServiceUnavailable, "the gateway is at its memory budget: retry later"
	case errors.Is(err, dag.ErrInternal):
		return http.StatusInternalServerError, "internal error"
	case errors.Is(err, carwalk.ErrTooDeep):
		return http.StatusUnprocessableEntity, fmt.Sprintf("the DAG is more than %d levels deep, deeper than this gateway walks: fetch its lower parts with their own CIDs", carwalk.DefaultMaxDepth)
	case errors.Is(err, dag.ErrBadRecord):
		return http.StatusBadGateway, "the index gives an impossible location for a block"
	case errors.As(err, &rangeErr):
		return http.StatusRequestedRangeNotSatisfiable, "range not satisfiable"
	case errors.Is(err, dag.ErrCorrupt):
		return http.StatusBadGateway, "storage returned a block that failed verification"
	case errors.As(err, &codecErr):
		return http.StatusNotImplemented, fmt.Sprintf("unsupported codec 0x%x: this gateway cannot read links or paths from its blocks; it serves the block itself (format=raw, dag-scope=block or entity)", codecErr.Codec)
	case errors.Is(err, dag.ErrDecode):
		// The bytes match the CID, but its codec cannot read them (a CID
		// with the wrong codec).
		return http.StatusBadGateway, "a block does not decode with its CID's codec"
	case errors.Is(err, ErrNotFound), errors.Is(err, dag.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return http.StatusGatewayTimeout, "storage timed out"
	default:
		return http.StatusBadGateway, "storage failure"
	}
}

// retryAfterSeconds is the Retry-After of a 503: responses to stream
// last seconds, so budget frees up within seconds.
const retryAfterSeconds = "2"

// writeError answers err with the status and short text body of
// ErrorStatus. Headers set earlier for a successful response (Etag,
// caching, Content-Disposition, lengths) are removed so an error is never
// cached as immutable content. For context.Canceled nothing is written.
func writeError(w http.ResponseWriter, err error) {
	status, msg := ErrorStatus(err)
	if status == 0 {
		return
	}
	h := w.Header()
	for _, k := range []string{"Etag", "Cache-Control", "Content-Disposition", "Content-Length",
		"Content-Range", "Accept-Ranges", "Content-Location", "X-Ipfs-Roots", "Content-Encoding"} {
		h.Del(k)
	}
	var blocked *BlockedError
	if errors.As(err, &blocked) {
		h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", BlockedMaxAge))
	}
	switch status {
	case http.StatusMethodNotAllowed:
		h.Set("Allow", corsAllowMethods)
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		h.Set("Retry-After", retryAfterSeconds)
	case http.StatusRequestedRangeNotSatisfiable:
		var rangeErr *RangeError
		if errors.As(err, &rangeErr) {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(rangeErr.Size, 10))
		}
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}
