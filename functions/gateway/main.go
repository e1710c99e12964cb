// Command gateway is the Hash Stream trustless gateway as an AWS Lambda
// function (runtime provided.al2023, binary bootstrap) behind a Function URL
// with response streaming. It reads index records and packs from S3, verifies
// every block, and streams raw blocks or CARs.
//
// Build: make build-lambda (CGO_ENABLED=0, -tags lambda.norpc). The S3
// client, the index cache and the handler are built once at init and reused
// by warm invocations.
package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/lambdastream"
	"github.com/hash-stream/hash-stream-aws/lib/server"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

func main() {
	ctx := context.Background()
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		// The runtime reports an init error; the message says what to fix.
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("init failed", "err", err.Error())
		os.Exit(1)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.server.LogLevel}))
	setMemoryLimit(os.Getenv)
	h, err := newHandler(ctx, cfg, log)
	if err != nil {
		log.Error("init failed", "err", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

// setMemoryLimit sets the Go runtime's soft memory limit to 90% of the
// function's memory, unless GOMEMLIMIT says otherwise: the garbage
// collector then works harder before the function reaches its hard limit.
func setMemoryLimit(getenv func(string) string) {
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	if mb, err := strconv.ParseInt(getenv(envFunctionMemory), 10, 64); err == nil && mb > 0 {
		debug.SetMemoryLimit(mb << 20 / 10 * 9)
	}
}

// newHandler opens the S3 stores and builds the read side over them.
func newHandler(ctx context.Context, cfg config, log *slog.Logger) (lambdastream.Handler, error) {
	indexStore, packStore, err := cfg.s3.Open(ctx, s3.WithMaxIndexFileBytes(cfg.server.MaxIndexFileBytes))
	if err != nil {
		return nil, err
	}
	// One request at a time runs in a Lambda instance, so the cache
	// counters' change over a request is that request's.
	var srv *server.Server
	var lastHits, lastMisses, lastFailures atomic.Int64
	logAttrs := func(ctx context.Context) []any {
		hits, misses := srv.IndexCache.Stats()
		dh, dm := hits-lastHits.Swap(hits), misses-lastMisses.Swap(misses)
		attrs := []any{"request_id", lambdastream.RequestID(ctx), "index_cache_hits", dh, "index_cache_misses", dm,
			"denylist_reload_failures", denylistFailures(srv.Denylist, &lastFailures)}
		if cfg.emfNamespace != "" {
			attrs = append(attrs, "_aws", emf(cfg.emfNamespace, time.Now()))
		}
		return attrs
	}
	srv, err = server.New(ctx, indexStore, packStore, cfg.server, log, server.WithHandlerOptions(gateway.WithLogAttrs(logAttrs)),
		// An s3:// denylist reads through the stores' client.
		server.WithS3Client(func(context.Context) (*awss3.Client, error) { return packStore.Client(), nil }))
	if err != nil {
		return nil, err
	}
	log.Info("init", append([]any{"index_bucket", cfg.s3.IndexBucket, "pack_bucket", cfg.s3.PackBucket}, cfg.server.LogAttrs()...)...)
	return lambdastream.New(srv.Handler, lambdastream.WithLogger(log), lambdastream.WithMaxBytes(cfg.server.MaxResponseBytes)), nil
}

// denylistFailures returns the denylist reloads that failed since the last
// request (a metric the stack alarms on): the last good list stays in
// force, but an operator's change is not.
func denylistFailures(w *denylist.Watcher, last *atomic.Int64) int64 {
	if w == nil {
		return 0
	}
	n := w.Failures()
	return n - last.Swap(n)
}
