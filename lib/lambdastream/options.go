package lambdastream

import (
	"io"
	"log/slog"
	"time"
)

const (
	// DefaultMaxBytes caps a response body: Lambda streams at most 200 MB
	// per response, less some headroom here for the prelude.
	DefaultMaxBytes int64 = 199_000_000

	// DefaultBufferSize is how many body bytes are gathered before they go
	// to the runtime, unless the handler calls Flush first.
	DefaultBufferSize = 32 << 10

	// DefaultDeadlineMargin is how long before the invocation's deadline
	// the request's context ends (with ErrDeadline), so that a response
	// still streaming then ends as a failure the handler and the runtime
	// both see (error trailers, the handler's own abort and log line)
	// rather than being stopped mid-write when Lambda times the invocation
	// out, an ending the Lambda docs do not describe.
	DefaultDeadlineMargin = time.Second
)

// Option configures New.
type Option func(*options)

type options struct {
	maxBytes       int64
	bufferSize     int
	deadlineMargin time.Duration
	logger         *slog.Logger
}

func applyOptions(opts []Option) options {
	o := options{
		maxBytes:       DefaultMaxBytes,
		bufferSize:     DefaultBufferSize,
		deadlineMargin: DefaultDeadlineMargin,
		logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithMaxBytes caps each response body at n bytes (default DefaultMaxBytes).
// The Write that would cross the cap fails with ErrBodyTooLarge and the body
// ends with that error, never silently short. n <= 0 removes the cap.
func WithMaxBytes(n int64) Option {
	return func(o *options) { o.maxBytes = n }
}

// WithBufferSize sets how many body bytes are gathered before they are sent
// (default DefaultBufferSize). n <= 0 sends every Write as it comes.
func WithBufferSize(n int) Option {
	return func(o *options) { o.bufferSize = n }
}

// WithDeadlineMargin ends each request's context d before the Lambda
// context's deadline (default DefaultDeadlineMargin), with the cause
// ErrDeadline: a handler still writing then fails, and the body ends with
// that error while the invocation can still send it. An invocation that
// starts with no more than d left gets no margin. d <= 0 removes it.
func WithDeadlineMargin(d time.Duration) Option {
	return func(o *options) { o.deadlineMargin = d }
}

// WithLogger sets the logger for handler panics (Error, with the stack) and
// misuse such as a superfluous WriteHeader (Warn). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}
