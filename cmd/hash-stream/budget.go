package main

import (
	"cmp"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// DefaultServeBudget is the memory budget of `serve`: what all responses
// together may buffer (read-ahead and blocks), whatever the client count.
const DefaultServeBudget = 320 << 20

// Defaults of serve's fairness flags (see package budget).
const (
	// DefaultMaxPerClient is how many responses one client may have in
	// flight (admitted or waiting): far above what a browser (6 per host)
	// or `hash-stream fetch` (8) use, low enough that one address cannot
	// queue thousands.
	DefaultMaxPerClient = 64
	// DefaultReadAheadShare is the percent of the budget that response
	// floors may not take: read-ahead of the responses that drain.
	DefaultReadAheadShare = 25
)

// envClientFrom sets serve's --client-from (a container behind a load
// balancer sets it to the header the balancer writes).
const envClientFrom = "HASH_STREAM_CLIENT_FROM"

// gcHeadroom is what serve's Go memory limit leaves above the budget, for
// the rest of the process (index cache, connections, the runtime). It keeps
// the resident size within the budget and 96 MiB: with more, the heap grows
// to the limit before it is collected, whatever is live (issue 21 measured
// 486 MB with 192 MiB of headroom, and 437 MiB with it under 1,000
// non-reading connections that hold 280 MiB live).
const gcHeadroom = 64 << 20

// budgetFlags are serve's memory and fairness flags.
type budgetFlags struct {
	size, floor, maxBlock int64
	wait, stallAfter      time.Duration
	maxPerClient, share   int
	clientFrom            string
}

func (b *budgetFlags) register(fs *flagSet, env *cliEnv) {
	fs.Int64Var(&b.size, "memory-budget", DefaultServeBudget, "bytes all responses together may buffer (read-ahead, blocks); a response waits for room, then answers 503")
	fs.Int64Var(&b.floor, "response-floor", gateway.DefaultResponseFloor, "bytes set aside for each response when it starts (its body buffer and the block it writes)")
	fs.DurationVar(&b.wait, "admission-wait", gateway.DefaultAdmissionWait, "how long a new response waits for budget before it answers 503 with Retry-After")
	fs.Int64Var(&b.maxBlock, "max-block-bytes", streamer.DefaultMaxBlockBytes, "largest block length an index record may give; longer ones are refused as impossible")
	fs.IntVar(&b.share, "read-ahead-share", DefaultReadAheadShare, "percent of --memory-budget that response floors may not take: read-ahead for the responses whose clients read")
	fs.DurationVar(&b.stallAfter, "stall-after", budget.DefaultStallAfter, "a response whose client takes nothing of a 64 KiB write for this long is stalled: it gives back its read-ahead,\nand may be cut to admit a client holding fewer responses")
	fs.IntVar(&b.maxPerClient, "max-per-client", DefaultMaxPerClient, "responses one client may have in flight (admitted or waiting); one more answers 429 (0: no limit)")
	fs.StringVar(&b.clientFrom, "client-from", cmp.Or(env.getenv(envClientFrom), "addr"), "how clients are told apart for fair admission and --max-per-client: addr (the remote address, an IPv6 one by its /64),\nnone (one client: a proxy in front that reports no address), or the name of a header a trusted proxy sets\n(X-Forwarded-For: its last address) (env "+envClientFrom+")")
}

// options checks the flags and returns the budget and the options that
// use it. Unless GOMEMLIMIT is set, it also sets the Go runtime's soft
// memory limit a little above the budget, so garbage is collected before
// the heap grows far past what the budget holds live.
func (b *budgetFlags) options() (*budget.Budget, []gateway.Option, streamer.Option, error) {
	reserve := b.size * int64(b.share) / 100
	switch {
	case b.size <= 0:
		return nil, nil, nil, fmt.Errorf("%w: --memory-budget must be positive", errUsage)
	case b.share < 0 || b.share > 90:
		return nil, nil, nil, fmt.Errorf("%w: --read-ahead-share must be from 0 to 90 (percent)", errUsage)
	case b.floor <= 0 || b.floor > b.size-reserve:
		return nil, nil, nil, fmt.Errorf("%w: --response-floor must be positive and at most the part of --memory-budget that is not --read-ahead-share", errUsage)
	case b.maxBlock <= 0:
		return nil, nil, nil, fmt.Errorf("%w: --max-block-bytes must be positive", errUsage)
	case b.wait <= 0:
		return nil, nil, nil, fmt.Errorf("%w: --admission-wait must be positive", errUsage)
	case b.stallAfter <= 0:
		return nil, nil, nil, fmt.Errorf("%w: --stall-after must be positive", errUsage)
	case b.maxPerClient < 0:
		return nil, nil, nil, fmt.Errorf("%w: --max-per-client must be at least 0", errUsage)
	}
	key, err := clientKey(b.clientFrom)
	if err != nil {
		return nil, nil, nil, err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(b.size + gcHeadroom)
	}
	bud := budget.New(b.size, budget.WithReserve(reserve), budget.WithStallAfter(b.stallAfter), budget.WithMaxPerClient(b.maxPerClient))
	opts := []gateway.Option{gateway.WithBudget(bud, b.floor, b.wait), gateway.WithClientKey(key)}
	return bud, opts, streamer.WithMaxBlockBytes(b.maxBlock), nil
}

// clientKey returns the client key of a --client-from value.
func clientKey(from string) (func(*http.Request) string, error) {
	switch {
	case from == "addr":
		return gateway.RemoteAddrKey, nil
	case from == "none":
		return gateway.NoClientKey, nil
	case from != "" && !strings.ContainsAny(from, " \t\r\n:()<>@,;\\\"/[]?={}"):
		return gateway.HeaderKey(from), nil
	}
	return nil, fmt.Errorf("%w: --client-from %q: want addr, none or a header name", errUsage, from)
}
