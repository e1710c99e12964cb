// Package server assembles the read side once. From one Config, New builds
// the index cache, the index reader, the streamer, the memory budget and
// the gateway handler over an index store and a pack store:
//
//	stores → index.Cache → index.Reader → streamer.Streamer (a dag.Source) → gateway.Handler
//
// `hash-stream serve` (locally and as the ECS task) and the gateway Lambda
// function both build their handler here, so every setting exists in both:
// each is a flag (Config.RegisterFlags) and an environment variable
// (Config.FromEnv), declared once in this package.
package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// Server is the assembled read side.
type Server struct {
	// Handler serves the trustless gateway.
	Handler *gateway.Handler
	// IndexCache and Budget are exposed for metrics and logs.
	IndexCache *index.Cache
	Budget     *budget.Budget
}

// New builds the read side over idx and packs from c (checked with
// Validate). opts are added to the handler's (logging attributes, an
// observer).
func New(idx store.IndexStore, packs store.PackStore, c Config, log *slog.Logger, opts ...gateway.Option) (*Server, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	clientKey, err := ClientKey(c.ClientFrom)
	if err != nil {
		return nil, err
	}
	cache := index.NewCache(c.IndexCacheBytes)
	reader := index.NewReader(idx, index.WithCache(cache), index.WithLogger(log))
	blocks := streamer.New(reader, packs, streamer.WithLogger(log), streamer.WithPlanner(c.Planner), streamer.WithMaxBlockBytes(c.MaxBlockBytes))
	bud := budget.New(c.MemoryBudget, budget.WithReserve(c.MemoryBudget*int64(c.ReadAheadShare)/100),
		budget.WithStallAfter(c.StallAfter), budget.WithMaxPerClient(c.MaxPerClient))
	hopts := append([]gateway.Option{
		gateway.WithLogger(log),
		gateway.WithBudget(bud, c.ResponseFloor, c.AdmissionWait),
		gateway.WithClientKey(clientKey),
		gateway.WithMaxResponseBytes(c.MaxResponseBytes),
	}, opts...)
	return &Server{Handler: gateway.New(blocks, hopts...), IndexCache: cache, Budget: bud}, nil
}

// LogAttrs returns c as log attributes, for a server's start line.
func (c Config) LogAttrs() []any {
	return []any{"index_cache_bytes", c.IndexCacheBytes, "max_index_file_bytes", c.MaxIndexFileBytes,
		"max_block_bytes", c.MaxBlockBytes, "max_response_bytes", c.MaxResponseBytes,
		"memory_budget", c.MemoryBudget, "response_floor", c.ResponseFloor, "read_ahead_share", c.ReadAheadShare,
		"max_per_client", c.MaxPerClient, "client_from", c.ClientFrom, "planner", fmt.Sprintf("%+v", c.Planner)}
}

// ClientKey returns the gateway's client key for a ClientFrom value.
func ClientKey(from string) (func(*http.Request) string, error) {
	switch {
	case from == "addr":
		return gateway.RemoteAddrKey, nil
	case from == "none":
		return gateway.NoClientKey, nil
	case from != "" && !strings.ContainsAny(from, " \t\r\n:()<>@,;\\\"/[]?={}"):
		return gateway.HeaderKey(from), nil
	}
	return nil, fmt.Errorf("%q: want addr, none or a header name", from)
}
