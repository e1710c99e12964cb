package lambdastream

import (
	"io"
	"log/slog"
)

const (
	// DefaultMaxBytes caps a response body: Lambda streams at most 200 MB
	// per response, less some headroom here for the prelude.
	DefaultMaxBytes int64 = 199_000_000

	// DefaultBufferSize is how many body bytes are gathered before they go
	// to the runtime, unless the handler calls Flush first.
	DefaultBufferSize = 32 << 10
)

// Option configures New.
type Option func(*options)

type options struct {
	maxBytes   int64
	bufferSize int
	logger     *slog.Logger
}

func applyOptions(opts []Option) options {
	o := options{
		maxBytes:   DefaultMaxBytes,
		bufferSize: DefaultBufferSize,
		logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
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

// WithLogger sets the logger for handler panics (Error, with the stack) and
// misuse such as a superfluous WriteHeader (Warn). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}
