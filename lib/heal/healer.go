package heal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// Log messages (the msg of the JSON lines): AbortedMessage is the
// gateway's, for a response cut after its first byte (lib/gateway); the
// others are a Healer's. The stack's metric filters match them exactly
// (infra/heal.go keeps a copy, checked by its tests).
const (
	AbortedMessage = "response aborted"
	// InvalidatedMessage: an invalidation was created; "paths" is how
	// many paths it holds, "list" the paths, "id" its id.
	InvalidatedMessage = "heal: invalidated"
	// DroppedMessage: paths of cut responses were not invalidated;
	// "paths" is how many, "list" the paths, "reason" why (one of the
	// Reason constants). Those responses may stay cached: the stack alarms
	// on these lines, and the paths can be invalidated by hand.
	DroppedMessage = "heal: not invalidated"
	// IgnoredMessage: a line that is not a well-formed cut of an /ipfs/
	// path (Warn, at most maxWarnings a delivery).
	IgnoredMessage = "heal: line ignored"
)

// Reasons of a DroppedMessage line.
const (
	ReasonHourlyLimit = "hourly limit"
	ReasonInProgress  = "too many invalidations in progress"
	ReasonFailed      = "invalidation failed"
)

// maxWarnings bounds the IgnoredMessage lines of one Handle.
const maxWarnings = 10

// Invalidator creates one CloudFront invalidation of paths and returns its
// id; *cdn.Invalidator is one.
type Invalidator interface {
	Invalidate(ctx context.Context, paths []string) (string, error)
}

// Healer invalidates the paths of cut responses, within its limits. Its
// methods may be called from several goroutines.
type Healer struct {
	inv     Invalidator
	log     *slog.Logger
	hourly  int
	batch   int
	maxWait time.Duration
	now     func() time.Time
	wait    func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	spent []spend // paths taken from the hourly limit, oldest first
}

type spend struct {
	at time.Time
	n  int
}

// New returns a Healer that creates its invalidations with inv.
func New(inv Invalidator, opts ...Option) *Healer {
	h := &Healer{inv: inv, log: discard(), hourly: DefaultHourlyLimit, batch: MaxWildcardPaths,
		maxWait: DefaultMaxWait, now: time.Now, wait: sleep}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Report is what one Handle did.
type Report struct {
	// Cuts counts the lines of cut responses, Ignored the other lines.
	Cuts, Ignored int
	// Invalidated are the paths invalidated, in the invalidations of
	// Invalidations (their ids, in order); Dropped the paths not.
	Invalidated   []string
	Invalidations []string
	Dropped       []string
}

// Handle invalidates the paths of the cut responses that lines (one
// delivery of the gateway's log lines) report: each line's path through
// Path, the paths together through Coalesce, then in invalidations of at
// most the batch size, within the hourly limit. An invalidation CloudFront
// refuses because too many are in progress is tried again after a wait,
// for at most the Healer's maximum wait in all. What is not invalidated is
// logged (DroppedMessage) and reported; Handle itself does not fail:
// trying the same lines again would pay again for the paths already
// invalidated.
func (h *Healer) Handle(ctx context.Context, lines []string) Report {
	var r Report
	var paths []string
	for i, line := range lines {
		p, err := parseCut(line)
		if err == nil {
			p, err = Path(p)
		}
		if err != nil {
			if r.Ignored < maxWarnings {
				h.log.WarnContext(ctx, IgnoredMessage, "line", i, "err", err.Error())
			}
			r.Ignored++
			continue
		}
		r.Cuts++
		paths = append(paths, p)
	}
	paths = Coalesce(paths)
	n := h.take(len(paths))
	if n < len(paths) {
		h.drop(ctx, &r, paths[n:], ReasonHourlyLimit, nil)
		paths = paths[:n]
	}
	var waited time.Duration
	for len(paths) > 0 {
		b := paths[:min(h.batch, len(paths))]
		id, err := h.invalidate(ctx, b, &waited)
		if err != nil {
			var busy *cftypes.TooManyInvalidationsInProgress
			if errors.As(err, &busy) || ctx.Err() != nil {
				// Waited enough, or out of time: the rest would fare no better.
				b = paths
			}
			reason := ReasonFailed
			if errors.As(err, &busy) {
				reason = ReasonInProgress
			}
			h.refund(len(b))
			h.drop(ctx, &r, b, reason, err)
			paths = paths[len(b):]
			continue
		}
		h.log.InfoContext(ctx, InvalidatedMessage, "paths", len(b), "id", id, "list", b)
		r.Invalidated = append(r.Invalidated, b...)
		r.Invalidations = append(r.Invalidations, id)
		paths = paths[len(b):]
	}
	return r
}

// invalidate creates one invalidation of paths, waiting and trying again
// while CloudFront answers that too many are in progress, as long as the
// waits of this Handle (waited) stay within maxWait.
func (h *Healer) invalidate(ctx context.Context, paths []string, waited *time.Duration) (string, error) {
	d := FirstRetryWait
	for {
		id, err := h.inv.Invalidate(ctx, paths)
		var busy *cftypes.TooManyInvalidationsInProgress
		if err == nil || !errors.As(err, &busy) {
			return id, err
		}
		left := h.maxWait - *waited
		if left <= 0 {
			return "", fmt.Errorf("heal: waited %v: %w", *waited, err)
		}
		d = min(d, left)
		if err := h.wait(ctx, d); err != nil {
			return "", fmt.Errorf("heal: waiting for invalidations in progress: %w", err)
		}
		*waited += d
		d = min(2*d, MaxRetryWait)
	}
}

func (h *Healer) drop(ctx context.Context, r *Report, paths []string, reason string, err error) {
	attrs := []any{"paths", len(paths), "reason", reason, "list", paths}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	h.log.ErrorContext(ctx, DroppedMessage, attrs...)
	r.Dropped = append(r.Dropped, paths...)
}

// take takes up to n paths from the hourly limit and returns how many.
func (h *Healer) take(n int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	used := 0
	keep := h.spent[:0]
	for _, s := range h.spent {
		if now.Sub(s.at) < time.Hour {
			keep = append(keep, s)
			used += s.n
		}
	}
	h.spent = keep
	n = max(min(n, h.hourly-used), 0)
	if n > 0 {
		h.spent = append(h.spent, spend{at: now, n: n})
	}
	return n
}

// refund gives back n paths taken by the last take (their invalidation
// failed: nothing was billed).
func (h *Healer) refund(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k := len(h.spent); k > 0 {
		h.spent[k-1].n = max(h.spent[k-1].n-n, 0)
	}
}
