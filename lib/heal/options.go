package heal

import (
	"context"
	"io"
	"log/slog"
	"time"
)

const (
	// DefaultHourlyLimit is how many paths a Healer invalidates in any
	// hour: 30 an hour is 22,320 paths in a 31-day month, $106.60 past the
	// free 1,000 at $0.005 a path (CloudFront pricing) if the limit were met
	// every hour of it. Cuts are rare (a corrupt block, a storage error
	// mid-response, a response reaching the size or time limit).
	DefaultHourlyLimit = 30

	// MaxWildcardPaths is how many invalidation paths with a * CloudFront
	// allows in progress at one time per distribution (CloudFront
	// Developer Guide, "Invalidating files", Concurrent invalidation
	// request maximum), and so the most one invalidation of a Healer holds.
	MaxWildcardPaths = 15

	// DefaultMaxWait is how long one Handle waits, in all, for earlier
	// invalidations to finish when CloudFront answers that too many are in
	// progress; past it the paths left are dropped (and logged).
	DefaultMaxWait = 2 * time.Minute

	// FirstRetryWait is the first wait after a "too many in progress"
	// answer; each next wait doubles, up to MaxRetryWait.
	FirstRetryWait = 10 * time.Second
	MaxRetryWait   = time.Minute
)

// Option configures New.
type Option func(*Healer)

// WithLogger sets the logger of the invalidations and drops (Info and
// Error, with the messages the stack's metric filters count) and of ignored
// lines (Warn). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(h *Healer) {
		if l != nil {
			h.log = l
		}
	}
}

// WithHourlyLimit sets how many paths are invalidated in any hour (default
// DefaultHourlyLimit); past it paths are dropped and logged. n < 1 is 1.
// The count is kept in the Healer, so in one process: the stack runs the
// function with a reserved concurrency of 1.
func WithHourlyLimit(n int) Option {
	return func(h *Healer) { h.hourly = max(n, 1) }
}

// WithBatchSize sets the most paths one invalidation holds (default and
// maximum MaxWildcardPaths; n < 1 is 1).
func WithBatchSize(n int) Option {
	return func(h *Healer) { h.batch = min(max(n, 1), MaxWildcardPaths) }
}

// WithMaxWait sets how long one Handle waits in all while too many
// invalidations are in progress (default DefaultMaxWait).
func WithMaxWait(d time.Duration) Option {
	return func(h *Healer) { h.maxWait = max(d, 0) }
}

// WithClock sets the Healer's clock (default time.Now), which the hourly
// limit counts by.
func WithClock(now func() time.Time) Option {
	return func(h *Healer) { h.now = now }
}

// WithWait sets how the Healer waits before trying an invalidation again
// (default: a timer, or ctx's end, whichever comes first). Tests pass one
// that returns at once.
func WithWait(wait func(ctx context.Context, d time.Duration) error) Option {
	return func(h *Healer) { h.wait = wait }
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
