package testutil

import (
	"context"
	"testing"
	"time"
)

// WaitTimeout is how long a test waits for something that, in a correct
// program, happens at once: a goroutine reaching a blocking call, a log
// line written, a handler returning. A test waits on the event itself (a
// channel, a counter, a process's exit), never for a time that must be
// long enough; WaitTimeout only bounds a wait that would otherwise hang,
// so it is generous for -race on a loaded 2-core machine, and a test
// waits it out only when it fails. (Slack is its counterpart for a
// failure a test provokes.)
const WaitTimeout = 30 * time.Second

// WaitContext returns a context that ends after WaitTimeout, or when the
// test ends.
func WaitContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// Eventually polls cond until it holds or WaitTimeout passes, and reports
// whether it held: a wait on a condition that no channel announces (a
// counter, a goroutine count, a file on disk).
func Eventually(cond func() bool) bool {
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(time.Millisecond)
	}
	return true
}
