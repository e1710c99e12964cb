package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// DefaultServeBudget is the memory budget of `serve`: what all responses
// together may buffer (read-ahead and blocks), whatever the client count.
const DefaultServeBudget = 320 << 20

// gcHeadroom is what serve's Go memory limit leaves above the budget, for
// the rest of the process (index cache, connections, the runtime).
const gcHeadroom = 192 << 20

// budgetFlags are serve's memory flags.
type budgetFlags struct {
	size, floor, maxBlock int64
	wait                  time.Duration
}

func (b *budgetFlags) register(fs *flagSet) {
	fs.Int64Var(&b.size, "memory-budget", DefaultServeBudget, "bytes all responses together may buffer (read-ahead, blocks); a response waits for room, then answers 503")
	fs.Int64Var(&b.floor, "response-floor", gateway.DefaultResponseFloor, "bytes set aside for each response when it starts (its body buffer and the block it writes)")
	fs.DurationVar(&b.wait, "admission-wait", gateway.DefaultAdmissionWait, "how long a new response waits for budget before it answers 503 with Retry-After")
	fs.Int64Var(&b.maxBlock, "max-block-bytes", streamer.DefaultMaxBlockBytes, "largest block length an index record may give; longer ones are refused as impossible")
}

// options checks the flags and returns the budget and the options that
// use it. Unless GOMEMLIMIT is set, it also sets the Go runtime's soft
// memory limit a little above the budget, so garbage is collected before
// the heap grows far past what the budget holds live.
func (b *budgetFlags) options() (*budget.Budget, gateway.Option, streamer.Option, error) {
	switch {
	case b.size <= 0:
		return nil, nil, nil, fmt.Errorf("%w: --memory-budget must be positive", errUsage)
	case b.floor <= 0 || b.floor > b.size:
		return nil, nil, nil, fmt.Errorf("%w: --response-floor must be positive and at most --memory-budget", errUsage)
	case b.maxBlock <= 0:
		return nil, nil, nil, fmt.Errorf("%w: --max-block-bytes must be positive", errUsage)
	case b.wait <= 0:
		return nil, nil, nil, fmt.Errorf("%w: --admission-wait must be positive", errUsage)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(b.size + gcHeadroom)
	}
	bud := budget.New(b.size)
	return bud, gateway.WithBudget(bud, b.floor, b.wait), streamer.WithMaxBlockBytes(b.maxBlock), nil
}
