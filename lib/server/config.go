package server

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/logging"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// Environment variables of the read side, read by FromEnv: `hash-stream
// serve` (locally and as the ECS task) and the gateway function read the
// same names. The limits shared with the writers are declared in package
// index, the store's location in the store packages.
const (
	EnvIndexCacheBytes  = "HASH_STREAM_INDEX_CACHE_BYTES"
	EnvMaxResponseBytes = "HASH_STREAM_MAX_RESPONSE_BYTES"
	EnvMemoryBudget     = "HASH_STREAM_MEMORY_BUDGET_BYTES"
	EnvResponseFloor    = "HASH_STREAM_RESPONSE_FLOOR_BYTES"
	EnvAdmissionWait    = "HASH_STREAM_ADMISSION_WAIT"
	EnvReadAheadShare   = "HASH_STREAM_READ_AHEAD_SHARE"
	EnvStallAfter       = "HASH_STREAM_STALL_AFTER"
	EnvMaxPerClient     = "HASH_STREAM_MAX_PER_CLIENT"
	EnvClientFrom       = "HASH_STREAM_CLIENT_FROM"
	EnvReadGap          = "HASH_STREAM_READ_GAP_BYTES"
	EnvReadMaxRange     = "HASH_STREAM_READ_MAX_RANGE_BYTES"
	EnvReadConcurrency  = "HASH_STREAM_READ_CONCURRENCY"
	EnvReadAhead        = "HASH_STREAM_READ_AHEAD_BYTES"
	EnvReadLookahead    = "HASH_STREAM_READ_LOOKAHEAD"
	EnvViewerFrom       = "HASH_STREAM_VIEWER_FROM"
	EnvDenylist         = "HASH_STREAM_DENYLIST"
	EnvDenylistInterval = "HASH_STREAM_DENYLIST_INTERVAL"
)

// Defaults of a Config (see DefaultConfig).
const (
	// DefaultMemoryBudget is what all responses together may buffer
	// (read-ahead and blocks), whatever the client count.
	DefaultMemoryBudget = 320 << 20
	// DefaultMaxPerClient is how many responses one client may have in
	// flight (admitted or waiting): far above what a browser (6 per host)
	// or `hash-stream fetch` (8) use, low enough that one address cannot
	// queue thousands.
	DefaultMaxPerClient = 64
	// DefaultReadAheadShare is the percent of the budget that response
	// floors may not take: read-ahead of the responses that drain.
	DefaultReadAheadShare = 25
)

// Config is every setting of the read side. Each is a knob: a flag of
// `hash-stream serve` (RegisterFlags) and an environment variable
// (FromEnv), so no setting exists in one deployment and not another.
type Config struct {
	// IndexCacheBytes bounds the decoded index records kept in memory
	// (0: none).
	IndexCacheBytes int64
	// MaxIndexFileBytes is the largest index file read; it is given to
	// the stores when they are opened (see the store packages).
	MaxIndexFileBytes int64
	// MaxBlockBytes is the largest block length an index record may give.
	MaxBlockBytes int64
	// MaxResponseBytes caps a CAR response (0: no cap).
	MaxResponseBytes int64
	// The memory budget and fair admission (see package budget).
	MemoryBudget   int64
	ResponseFloor  int64
	AdmissionWait  time.Duration
	ReadAheadShare int
	StallAfter     time.Duration
	MaxPerClient   int
	// ClientFrom says how clients are told apart: addr, none, or the
	// name of a header a trusted proxy sets.
	ClientFrom string
	// ViewerFrom names the header a trusted proxy writes the viewer's
	// address in (CloudFront-Viewer-Address), logged with each request
	// ("": none).
	ViewerFrom string
	// Planner tunes the streamer's ranged reads.
	Planner streamer.PlannerConfig
	// LogLevel is the level of the JSON log.
	LogLevel slog.Level
	// Denylist is where the IPIP-383 lists are ("": none): a list file,
	// a folder of *.deny files, or s3://bucket/prefix/ (its *.deny
	// objects). DenylistInterval is how often they are checked for a
	// change.
	Denylist         string
	DenylistInterval time.Duration
}

// DefaultConfig returns the defaults of `hash-stream serve`; the gateway
// function starts from them and sizes the budget to its memory.
func DefaultConfig() Config {
	return Config{
		IndexCacheBytes:   index.DefaultCacheBytes,
		MaxIndexFileBytes: store.DefaultMaxIndexFileBytes,
		MaxBlockBytes:     index.DefaultMaxBlockBytes,
		MemoryBudget:      DefaultMemoryBudget,
		ResponseFloor:     gateway.DefaultResponseFloor,
		AdmissionWait:     gateway.DefaultAdmissionWait,
		ReadAheadShare:    DefaultReadAheadShare,
		StallAfter:        budget.DefaultStallAfter,
		MaxPerClient:      DefaultMaxPerClient,
		ClientFrom:        "addr",
		Planner:           streamer.DefaultPlannerConfig(),
		LogLevel:          slog.LevelInfo,
		DenylistInterval:  denylist.DefaultInterval,
	}
}

// knob is one setting: its flag, its variable, and the value both set.
type knob struct {
	flag, env, usage string
	value            flag.Value
}

func (c *Config) knobs() []knob {
	return []knob{
		{"index-cache-bytes", EnvIndexCacheBytes, "bytes of decoded index records kept in memory (0: none)", &intValue[int64]{&c.IndexCacheBytes, 0}},
		{"max-index-file-bytes", index.EnvMaxIndexFileBytes, "largest index file read; a larger one is refused", &intValue[int64]{&c.MaxIndexFileBytes, 1}},
		{"max-block-bytes", index.EnvMaxBlockBytes, "largest block length an index record may give; longer ones are refused as impossible", &intValue[int64]{&c.MaxBlockBytes, 1}},
		{"max-response-bytes", EnvMaxResponseBytes, "largest CAR response; a larger one is refused before its first byte, or cut (0: no limit)", &intValue[int64]{&c.MaxResponseBytes, 0}},
		{"memory-budget", EnvMemoryBudget, "bytes all responses together may buffer (read-ahead, blocks); a response waits for room, then answers 503", &intValue[int64]{&c.MemoryBudget, 1}},
		{"response-floor", EnvResponseFloor, "bytes set aside for each response when it starts (its body buffer and the block it writes)", &intValue[int64]{&c.ResponseFloor, 1}},
		{"admission-wait", EnvAdmissionWait, "how long a new response waits for budget before it answers 503 with Retry-After", &durationValue{&c.AdmissionWait}},
		{"read-ahead-share", EnvReadAheadShare, "percent of --memory-budget that response floors may not take: read-ahead for the responses whose clients read", &intValue[int]{&c.ReadAheadShare, 0}},
		{"stall-after", EnvStallAfter, "a response whose client takes nothing of a 64 KiB write for this long is stalled: it gives back its read-ahead,\nand may be cut to admit a client holding fewer responses", &durationValue{&c.StallAfter}},
		{"max-per-client", EnvMaxPerClient, "responses one client may have in flight (admitted or waiting); one more answers 429 (0: no limit)", &intValue[int]{&c.MaxPerClient, 0}},
		{"client-from", EnvClientFrom, "how clients are told apart for fair admission and --max-per-client: addr (the remote address, an IPv6 one by its /64),\nnone (one client: a proxy in front that reports no address), or the name of a header a trusted proxy sets\n(X-Forwarded-For: its last address)", &stringValue{&c.ClientFrom}},
		{"viewer-from", EnvViewerFrom, "header a trusted proxy in front writes the viewer's address in (CloudFront-Viewer-Address),\nlogged with each request; a client can send any header, so name one only behind such a proxy", &stringValue{&c.ViewerFrom}},
		{"read-gap", EnvReadGap, "largest hole between two blocks of a pack still read through rather than split into two ranged reads", &intValue[int64]{&c.Planner.Gap, 0}},
		{"read-max-range", EnvReadMaxRange, "largest merged ranged read", &intValue[int64]{&c.Planner.MaxRange, 1}},
		{"read-concurrency", EnvReadConcurrency, "ranged reads in flight per response", &intValue[int]{&c.Planner.Concurrency, 1}},
		{"read-ahead", EnvReadAhead, "bytes one ranged read may hold ahead of the response", &intValue[int64]{&c.Planner.ReadAhead, 1}},
		{"read-lookahead", EnvReadLookahead, "blocks located through the index ahead of the reads", &intValue[int]{&c.Planner.Lookahead, 1}},
		{"log-level", logging.EnvLevel, "level of the JSON log: debug, info, warn or error", &levelValue{&c.LogLevel}},
		{"denylist", EnvDenylist, "IPIP-383 denylist: a list file, a folder of *.deny files, or s3://bucket/prefix/;\nblocked content answers 410 (or the list's status); a list that cannot be read at start fails the start", &stringValue{&c.Denylist}},
		{"denylist-interval", EnvDenylistInterval, "how often the denylist is checked for a change (a bad new version keeps the last good one)", &durationValue{&c.DenylistInterval}},
	}
}

// RegisterFlags defines every knob as a flag of fs, its default c's value
// (set FromEnv first so the environment gives the defaults).
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	for _, k := range c.knobs() {
		fs.Var(k.value, k.flag, k.usage+" (env "+k.env+")")
	}
}

// FromEnv sets every knob whose variable getenv gives a non-empty value
// (empty is unset, as Lambda shows a variable removed from a function's
// configuration). Every problem is in the error, each naming its variable.
func (c *Config) FromEnv(getenv func(string) string) error {
	var problems []string
	for _, k := range c.knobs() {
		if v := getenv(k.env); v != "" {
			if err := k.value.Set(v); err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: %v", k.env, v, err))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Validate checks the knobs against each other; a message names the flag
// and the variable of the knob to change.
func (c *Config) Validate() error {
	name := func(flag string) string {
		for _, k := range c.knobs() {
			if k.flag == flag {
				return "--" + k.flag + " (" + k.env + ")"
			}
		}
		return flag
	}
	reserve := c.MemoryBudget * int64(c.ReadAheadShare) / 100
	switch {
	case c.ReadAheadShare > 90:
		return fmt.Errorf("%s must be from 0 to 90 (percent)", name("read-ahead-share"))
	case c.ResponseFloor > c.MemoryBudget-reserve:
		return fmt.Errorf("%s must be at most the part of %s that is not %s", name("response-floor"), name("memory-budget"), name("read-ahead-share"))
	case c.AdmissionWait <= 0:
		return fmt.Errorf("%s must be positive", name("admission-wait"))
	case c.StallAfter <= 0:
		return fmt.Errorf("%s must be positive", name("stall-after"))
	}
	if c.ViewerFrom != "" && !validHeaderName(c.ViewerFrom) {
		return fmt.Errorf("%s: %q is not a header name", name("viewer-from"), c.ViewerFrom)
	}
	if _, err := ClientKey(c.ClientFrom); err != nil {
		return fmt.Errorf("%s: %w", name("client-from"), err)
	}
	return nil
}

// intValue is an integer knob (int or int64) of at least min.
type intValue[T int | int64] struct {
	p   *T
	min T
}

func (v *intValue[T]) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatInt(int64(*v.p), 10)
}

func (v *intValue[T]) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || int64(T(n)) != n || T(n) < v.min { // T(n) != n: past an int's range
		return fmt.Errorf("want an integer >= %d", v.min)
	}
	*v.p = T(n)
	return nil
}

// durationValue is a positive duration knob.
type durationValue struct{ p *time.Duration }

func (v *durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New("want a positive duration (e.g. 30s)")
	}
	*v.p = d
	return nil
}

// stringValue is a string knob.
type stringValue struct{ p *string }

func (v *stringValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *stringValue) Set(s string) error { *v.p = s; return nil }

// levelValue is a log level knob.
type levelValue struct{ p *slog.Level }

func (v *levelValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.ToLower(v.p.String())
}

func (v *levelValue) Set(s string) error {
	l, err := logging.ParseLevel(s)
	if err != nil {
		return err
	}
	*v.p = l
	return nil
}
