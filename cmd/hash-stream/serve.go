package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// DefaultListen is where `hash-stream serve` listens by default.
const DefaultListen = "127.0.0.1:3000"

// envIndexCacheBytes sets serve's --index-cache-bytes, as it sets the
// Lambda function's index cache.
const envIndexCacheBytes = "HASH_STREAM_INDEX_CACHE_BYTES"

func serve(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("serve", "", "Serves the IPFS Trustless Gateway over the store: GET|HEAD /ipfs/<cid>[/<path>] as a raw block\nor a CAR, every block verified. Logs one JSON line per request on stderr.", env.stderr)
	var sf storeFlags
	var listen, cacheBytes string
	sf.register(fs, env)
	fs.stringVar(&listen, []string{"listen", "l"}, DefaultListen, "address to listen on (host:port)")
	fs.stringVar(&cacheBytes, []string{"index-cache-bytes"}, cmp.Or(env.getenv(envIndexCacheBytes), strconv.Itoa(index.DefaultCacheBytes)),
		"bytes of decoded index records kept in memory (env "+envIndexCacheBytes+"; 0: none)")
	if _, err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	indexCache, err := strconv.ParseInt(cacheBytes, 10, 64)
	if err != nil || indexCache < 0 {
		return fmt.Errorf("%w: bad --index-cache-bytes %q (want an integer >= 0)", errUsage, cacheBytes)
	}
	st, err := sf.open(ctx, env, false)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(env.stderr, nil))
	idx := index.NewReader(st.index, index.WithCache(index.NewCache(indexCache)), index.WithLogger(log))
	s := streamer.New(idx, st.packs, streamer.WithLogger(log))
	handler := gateway.New(s, gateway.WithLogger(log))

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
