// Command invalidator is the Hash Stream self-healing function: an AWS
// Lambda (runtime provided.al2023, binary bootstrap) that a CloudWatch Logs
// subscription filter on the gateway's log group invokes with the lines of
// responses cut after their first byte (msg "response aborted"). It
// invalidates their paths on the stack's CloudFront distribution, so no
// edge keeps a cut response (see package heal for what it invalidates and
// its bounds).
//
// Environment: HASH_STREAM_DISTRIBUTION_ID (required), the distribution;
// HASH_STREAM_INVALIDATIONS_PER_HOUR, the most paths it invalidates in an
// hour (default heal.DefaultHourlyLimit); HASH_STREAM_LOG_LEVEL.
//
// Build: make build-invalidator (CGO_ENABLED=0, -tags lambda.norpc). It
// returns an error only for a delivery it cannot decode (Lambda then
// counts an error and retries it); paths it could not invalidate are
// logged (heal.DroppedMessage) for the stack's alarm, not retried: a retry
// would pay again for the paths already invalidated.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"

	"github.com/hash-stream/hash-stream-aws/lib/cdn"
	"github.com/hash-stream/hash-stream-aws/lib/heal"
)

func main() {
	ctx := context.Background()
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("init failed", "err", err.Error())
		os.Exit(1)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.logLevel}))
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("init failed", "err", err.Error())
		os.Exit(1)
	}
	h := newHealer(cfg, cloudfront.NewFromConfig(awsCfg), log)
	log.Info("init", "distribution", cfg.distribution, "invalidations_per_hour", cfg.perHour)
	lambda.Start(handler(h, log))
}

// newHealer wires the distribution's invalidator to a Healer with the
// configured hourly limit.
func newHealer(cfg config, client *cloudfront.Client, log *slog.Logger) *heal.Healer {
	return heal.New(cdn.NewInvalidator(client, cfg.distribution), heal.WithHourlyLimit(cfg.perHour), heal.WithLogger(log))
}

// handler returns the function's handler: one CloudWatch Logs delivery
// decoded (within heal's bounds) and its lines handed to h.
func handler(h *heal.Healer, log *slog.Logger) func(context.Context, events.CloudwatchLogsEvent) error {
	return func(ctx context.Context, ev events.CloudwatchLogsEvent) error {
		d, err := heal.DecodeLogs(ev.AWSLogs.Data)
		if err != nil {
			// Logged by Lambda with the returned error, and counted in the
			// function's Errors metric.
			return err
		}
		lines := heal.Messages(d)
		if len(lines) == 0 {
			log.DebugContext(ctx, "heal: no lines", "message_type", d.MessageType, "log_group", d.LogGroup)
			return nil
		}
		r := h.Handle(ctx, lines)
		log.InfoContext(ctx, "heal: delivery", "log_group", d.LogGroup, "lines", len(lines), "cuts", r.Cuts,
			"ignored", r.Ignored, "invalidated", len(r.Invalidated), "dropped", len(r.Dropped))
		return nil
	}
}
