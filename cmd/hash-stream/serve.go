package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// DefaultListen is where `hash-stream serve` listens by default.
const DefaultListen = "127.0.0.1:3000"

func serve(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("serve", "", "Serves the IPFS Trustless Gateway over the store: GET|HEAD /ipfs/<cid>[/<path>] as a raw block\nor a CAR, every block verified. Logs one JSON line per request on stderr.", env.stderr)
	var sf storeFlags
	var bf budgetFlags
	var listen string
	sf.register(fs, env)
	bf.register(fs)
	fs.stringVar(&listen, []string{"listen", "l"}, DefaultListen, "address to listen on (host:port)")
	if _, err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	_, withBudget, withMaxBlock, err := bf.options()
	if err != nil {
		return err
	}
	st, err := sf.open(ctx, env, false)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(env.stderr, nil))
	s := streamer.New(index.NewReader(st.index), st.packs, streamer.WithLogger(log), withMaxBlock)
	handler := gateway.New(s, gateway.WithLogger(log), withBudget)

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	addr := ln.Addr().String()
	fmt.Fprintf(env.stdout, "hash-stream gateway on http://%s over %s store %s\n", addr, st.backend, st.where)
	fmt.Fprintf(env.stdout, "try: curl -H 'Accept: application/vnd.ipld.car' http://%s/ipfs/<cid> -o out.car\n", addr)
	if env.onListen != nil {
		env.onListen(addr)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown: stop accepting, let requests in flight finish.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	fmt.Fprintln(env.stdout, "hash-stream gateway stopped")
	return nil
}
