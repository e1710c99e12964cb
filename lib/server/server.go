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
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// Server is the assembled read side.
type Server struct {
	// Handler serves the trustless gateway.
	Handler *gateway.Handler
	// IndexCache, Budget and Denylist (nil: none) are exposed for
	// metrics and logs.
	IndexCache *index.Cache
	Budget     *budget.Budget
	Denylist   *denylist.Watcher
}

// Option configures New.
type Option func(*options)

type options struct {
	handler []gateway.Option
	s3      func(context.Context) (*awss3.Client, error)
}

// WithHandlerOptions adds options to the gateway handler's (logging
// attributes, an observer).
func WithHandlerOptions(opts ...gateway.Option) Option {
	return func(o *options) { o.handler = append(o.handler, opts...) }
}

// WithS3Client sets how an s3:// denylist's client is made (default: from
// the process environment's S3 settings, see s3.ConfigFromEnv).
func WithS3Client(newClient func(context.Context) (*awss3.Client, error)) Option {
	return func(o *options) { o.s3 = newClient }
}

// New builds the read side over idx and packs from c (checked with
// Validate). A configured denylist is loaded before New returns: one that
// cannot be read or parsed fails New, so nothing is ever served unfiltered
// by accident.
func New(ctx context.Context, idx store.IndexStore, packs store.PackStore, c Config, log *slog.Logger, opts ...Option) (*Server, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	o := options{s3: func(ctx context.Context) (*awss3.Client, error) {
		cfg, err := s3.ConfigFromEnv()
		if err != nil {
			return nil, err
		}
		return s3.NewClient(ctx, cfg)
	}}
	for _, opt := range opts {
		opt(&o)
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
	hopts := []gateway.Option{
		gateway.WithLogger(log),
		gateway.WithBudget(bud, c.ResponseFloor, c.AdmissionWait),
		gateway.WithClientKey(clientKey),
		gateway.WithMaxResponseBytes(c.MaxResponseBytes),
		gateway.WithViewerFrom(c.ViewerFrom),
	}
	srv := &Server{IndexCache: cache, Budget: bud}
	if c.Denylist != "" {
		folder, err := openFolder(ctx, c.Denylist, o.s3)
		if err != nil {
			return nil, fmt.Errorf("denylist %s: %w", c.Denylist, err)
		}
		w, err := denylist.Watch(ctx, folder, denylist.WithInterval(c.DenylistInterval), denylist.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("denylist %s: %w", c.Denylist, err)
		}
		srv.Denylist = w
		hopts = append(hopts, gateway.WithDenylist(w.Set))
	}
	srv.Handler = gateway.New(blocks, append(hopts, o.handler...)...)
	return srv, nil
}

// openFolder returns the denylist folder at location: s3://bucket/prefix/
// or a local path.
func openFolder(ctx context.Context, location string, newClient func(context.Context) (*awss3.Client, error)) (denylist.Folder, error) {
	rest, ok := strings.CutPrefix(location, "s3://")
	if !ok {
		return denylist.NewLocalFolder(location)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return nil, fmt.Errorf("want s3://bucket/prefix/")
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	client, err := newClient(ctx)
	if err != nil {
		return nil, err
	}
	return s3.NewFolder(client, bucket, prefix, ".deny"), nil
}

// LogAttrs returns c as log attributes, for a server's start line.
func (c Config) LogAttrs() []any {
	return []any{"index_cache_bytes", c.IndexCacheBytes, "max_index_file_bytes", c.MaxIndexFileBytes,
		"max_block_bytes", c.MaxBlockBytes, "max_response_bytes", c.MaxResponseBytes,
		"memory_budget", c.MemoryBudget, "response_floor", c.ResponseFloor, "read_ahead_share", c.ReadAheadShare,
		"max_per_client", c.MaxPerClient, "client_from", c.ClientFrom, "planner", fmt.Sprintf("%+v", c.Planner),
		"denylist", c.Denylist, "denylist_interval", c.DenylistInterval.String()}
}

// ClientKey returns the gateway's client key for a ClientFrom value.
func ClientKey(from string) (func(*http.Request) string, error) {
	switch {
	case from == "addr":
		return gateway.RemoteAddrKey, nil
	case from == "none":
		return gateway.NoClientKey, nil
	case validHeaderName(from):
		return gateway.HeaderKey(from), nil
	}
	return nil, fmt.Errorf("%q: want addr, none or a header name", from)
}

// validHeaderName reports whether s can name an HTTP header.
func validHeaderName(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n:()<>@,;\\\"/[]?={}")
}
