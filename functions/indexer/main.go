// Command indexer is the Hash Stream ingest function: an AWS Lambda
// (runtime provided.al2023, binary bootstrap) invoked by the S3
// ObjectCreated events of the pack bucket's ingest prefix. Each CAR dropped
// there is verified block by block, and held to the gateway's limits
// (HASH_STREAM_MAX_BLOCK_BYTES, HASH_STREAM_MAX_INDEX_FILE_BYTES, as the
// gateway function reads them), stored as a pack by a server-side copy
// and indexed with both index writers, then its ingest object is deleted;
// a CAR that fails verification or passes a limit is moved to the
// rejected prefix (see package ingest).
//
// Build: make build-lambda (CGO_ENABLED=0, -tags lambda.norpc). An error
// return makes Lambda retry the asynchronous event, then send it to the
// failure queue the stack configures (an on-failure destination).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/hash-stream/hash-stream-aws/lib/ingest"
)

func main() {
	ctx := context.Background()
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		// The runtime reports an init error; the message says what to fix.
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("init failed", "err", err.Error())
		os.Exit(1)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.logLevel}))
	x, err := newIndexer(ctx, cfg, log)
	if err != nil {
		log.Error("init failed", "err", err.Error())
		os.Exit(1)
	}
	lambda.Start(handler(x, log))
}

// newIndexer opens the S3 stores the environment names (s3.Env.Open, as
// the CLI and the gateway function open theirs) and wires them and the
// pack bucket's objects to an ingest.Indexer.
func newIndexer(ctx context.Context, cfg config, log *slog.Logger) (*ingest.Indexer, error) {
	idx, packs, err := cfg.s3.Open(ctx)
	if err != nil {
		return nil, err
	}
	x, err := ingest.New(packs.Objects(), packs, idx,
		ingest.WithIngestPrefix(cfg.ingest), ingest.WithRejectedPrefix(cfg.rejected),
		ingest.WithPackPrefix(cfg.s3.PackPrefix), ingest.WithWriters(cfg.writers), ingest.WithLimits(cfg.limits), ingest.WithLogger(log))
	if err != nil {
		return nil, err
	}
	log.Info("init", "index_bucket", cfg.s3.IndexBucket, "index_prefix", cfg.s3.IndexPrefix,
		"pack_bucket", cfg.s3.PackBucket, "pack_prefix", cfg.s3.PackPrefix,
		"ingest_prefix", cfg.ingest, "rejected_prefix", cfg.rejected, "index_writer", cfg.writers,
		"max_block_bytes", cfg.limits.MaxBlockBytes, "max_index_file_bytes", cfg.limits.MaxFileBytes)
	return x, nil
}

// handler returns the function's handler: the event's objects (objects)
// indexed, an error (logged once, here) when one failed in a way a retry
// may fix.
func handler(x *ingest.Indexer, log *slog.Logger) func(context.Context, events.S3Event) error {
	return func(ctx context.Context, ev events.S3Event) error {
		err := x.Handle(ctx, objects(ctx, log, ev)...)
		if err != nil {
			log.ErrorContext(ctx, "event failed: Lambda retries it", "records", len(ev.Records), "err", err.Error())
		}
		return err
	}
}
