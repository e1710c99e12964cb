package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/server"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// DefaultListen is where `hash-stream serve` listens by default.
const DefaultListen = "127.0.0.1:3000"

// Environment variables of serve as a service (a container sets them).
const (
	envListen        = "HASH_STREAM_LISTEN"
	envMetricsListen = "HASH_STREAM_METRICS_LISTEN"
)

// DefaultShutdownTimeout is how long serve lets responses in flight finish
// after SIGTERM before it cuts them: under the 30 s a container runtime
// (ECS, Kubernetes) waits by default before it kills the process.
const DefaultShutdownTimeout = 25 * time.Second

// gcHeadroom is what serve's Go memory limit leaves above the budget, for
// the rest of the process (index cache, connections, the runtime). It keeps
// the resident size within the budget and 96 MiB: with more, the heap grows
// to the limit before it is collected, whatever is live (issue 21 measured
// 486 MB with 192 MiB of headroom, and 437 MiB with it under 1,000
// non-reading connections that hold 280 MiB live).
const gcHeadroom = 64 << 20

func serve(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("serve", "", "Serves the IPFS Trustless Gateway over the store: GET|HEAD /ipfs/<cid>[/<path>] as a raw block\nor a CAR, every block verified. Logs one JSON line per request on stderr.", env.stderr)
	// The read side's knobs (package server): each a flag whose default
	// its environment variable sets, as the gateway function reads them.
	cfg := server.DefaultConfig()
	if err := cfg.FromEnv(env.getenv); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var sf storeFlags
	var listen, metricsListen string
	var shutdown time.Duration
	var lim serverLimits
	sf.register(fs, env)
	cfg.RegisterFlags(fs.FlagSet)
	fs.stringVar(&listen, []string{"listen", "l"}, cmp.Or(env.getenv(envListen), DefaultListen), "address to listen on (host:port; env "+envListen+")")
	fs.stringVar(&metricsListen, []string{"metrics-listen"}, env.getenv(envMetricsListen), "address of a separate listener for Prometheus metrics at /metrics (env "+envMetricsListen+"; default off)")
	fs.durationVar(&shutdown, []string{"shutdown-timeout"}, DefaultShutdownTimeout, "on SIGTERM, how long responses in flight may finish before they are cut")
	fs.durationVar(&lim.ReadTimeout, []string{"read-timeout"}, DefaultReadTimeout, "time allowed to read a request's header and body")
	fs.durationVar(&lim.IdleTimeout, []string{"idle-timeout"}, DefaultIdleTimeout, "close a keep-alive connection idle this long")
	fs.durationVar(&lim.WriteTimeout, []string{"write-timeout"}, DefaultWriteTimeout, "drop a client that takes no bytes of its response for this long")
	fs.intVar(&lim.MaxConns, []string{"max-conns"}, defaultMaxConns(), "open connections at most; a new one beyond closes the one idle longest\n("+fmt.Sprint(DefaultMaxConns)+", or less to keep a tenth of the open file limit free)")
	if _, err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-timeout", lim.ReadTimeout}, {"idle-timeout", lim.IdleTimeout}, {"write-timeout", lim.WriteTimeout}, {"shutdown-timeout", shutdown}} {
		if d.v <= 0 {
			return fmt.Errorf("%w: --%s %s: must be positive", errUsage, d.name, d.v)
		}
	}
	if err := checkMaxConns(lim.MaxConns); err != nil {
		return err
	}
	sf.maxIndexFile = cfg.MaxIndexFileBytes
	st, err := sf.open(ctx, env, false)
	if err != nil {
		return err
	}
	// Garbage is collected before the heap grows far past what the budget
	// holds live, unless GOMEMLIMIT says otherwise.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryBudget + gcHeadroom)
	}
	log := slog.New(slog.NewJSONHandler(env.stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	var opts []gateway.Option
	var mx *metrics
	if metricsListen != "" {
		// The metrics read the cache and budget that server.New makes.
		opts = append(opts, gateway.WithObserver(func(o gateway.Observation) { mx.observe(o) }))
	}
	read, err := server.New(ctx, st.index, st.packs, cfg, log, server.WithHandlerOptions(opts...),
		server.WithS3Client(func(ctx context.Context) (*awss3.Client, error) {
			if packs, ok := st.packs.(*s3.PackStore); ok {
				return packs.Client(), nil // an s3:// denylist beside an s3 store: one client
			}
			return newS3Client(ctx, env)
		}))
	if err != nil {
		return err
	}
	if metricsListen != "" {
		mx = newMetrics(read.IndexCache, read.Budget)
	}
	handler := withHealth(read.Handler, st)

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if mx != nil {
		mln, err := net.Listen("tcp", metricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		msrv := &http.Server{Handler: mx.handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
		fmt.Fprintf(env.stdout, "metrics on http://%s/metrics\n", mln.Addr())
		if env.onMetrics != nil {
			env.onMetrics(mln.Addr().String())
		}
	}
	srv, _ := newServer(handler, lim, log)
	addr := ln.Addr().String()
	fmt.Fprintf(env.stdout, "hash-stream gateway on http://%s over %s store %s\n", addr, st.backend, st.where)
	fmt.Fprintf(env.stdout, "try: curl -H 'Accept: application/vnd.ipld.car' http://%s/ipfs/<cid> -o out.car\n", addr)
	if env.onListen != nil {
		env.onListen(addr)
	}
	// Graceful shutdown: stop accepting, let requests in flight finish.
	if err := serveUntil(ctx, srv, ln, shutdown); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, "hash-stream gateway stopped")
	return nil
}
