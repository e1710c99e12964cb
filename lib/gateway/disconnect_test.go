package gateway_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// slowReader delays every Read, and fails once ctx is done.
type slowReader struct {
	ctx   context.Context
	rc    io.ReadCloser
	delay time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
		return 0, s.ctx.Err()
	}
	return s.rc.Read(p[:min(len(p), 64<<10)])
}

func (s *slowReader) Close() error { return s.rc.Close() }

// TestClientDisconnect has a client read the start of a large CAR (a
// 64 MiB file in 8 MiB packs, so many ranged reads) and hang up. The
// handler must return, close every pack reader, start no ranged read once
// its context is done, and leave no goroutine behind.
func TestClientDisconnect(t *testing.T) {
	dir := t.TempDir()
	idx := fs.NewIndexStore(filepath.Join(dir, "index"))
	base := fs.NewPackStore(filepath.Join(dir, "pack"))
	ctx := context.Background()
	const size = 64 << 20
	src := io.LimitReader(rand.NewChaCha8([32]byte{'h', 's'}), size)
	root, infos, err := pack.WriteFile(ctx, base, src, pack.WithMaxSize(8<<20), pack.WithTempDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := pack.AddToIndex(ctx, []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)}, infos, root.Hash()); err != nil {
		t.Fatal(err)
	}
	if len(infos) < 8 {
		t.Fatalf("%d packs", len(infos))
	}

	for _, tc := range []struct {
		name  string
		query string
		// slow: storage answers slowly (the handler waits on reads, not
		// on the client).
		slow bool
	}{
		{"client stops reading", "format=car", false},
		{"client stops reading, dups=y", "format=car&car-dups=y", false},
		{"client stops reading, entity-bytes", "format=car&entity-bytes=1000000:60000000", false},
		{"slow storage", "format=car", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var late atomic.Int64 // ranged reads started with a done context
			packs := &packHooks{PackStore: base}
			packs.getRange = func(ctx context.Context, _ int64, loc store.Location, off, length int64) (io.ReadCloser, error) {
				if ctx.Err() != nil {
					late.Add(1)
				}
				rc, err := base.GetRange(ctx, loc, off, length)
				if err != nil || !tc.slow {
					return rc, err
				}
				return &slowReader{ctx: ctx, rc: rc, delay: 2 * time.Millisecond}, nil
			}
			h := gateway.New(streamer.New(index.NewReader(idx), packs))
			done := make(chan struct{})
			var callsAtCancel atomic.Int64
			callsAtCancel.Store(-1)
			wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(done)
				stop := context.AfterFunc(r.Context(), func() { callsAtCancel.Store(packs.calls.Load()) })
				defer stop()
				h.ServeHTTP(w, r)
			})

			before := runtime.NumGoroutine()
			srv := httptest.NewServer(wrapped)
			transport := &http.Transport{}
			client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

			resp, err := client.Get(srv.URL + "/ipfs/" + root.String() + "?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			head := make([]byte, 512<<10)
			if _, err := io.ReadFull(resp.Body, head); err != nil {
				t.Fatal(err)
			}
			if b, err := parseCAR(head); len(b.blocks) == 0 || !b.blocks[0].cid.Equals(root) {
				t.Fatalf("the first bytes are not the CAR of the file: %v", err)
			}
			resp.Body.Close() // unread body: the connection is closed
			start := time.Now()

			select {
			case <-done:
			case <-time.After(testutil.WaitTimeout):
				t.Fatalf("the handler did not return within %v of the client hanging up", testutil.WaitTimeout)
			}
			t.Logf("handler returned %v after the hang-up; %d ranged reads, %d MiB read of %d MiB; %d started after the cancel",
				time.Since(start).Round(time.Millisecond), packs.calls.Load(), packs.bytes.Load()>>20, size>>20, late.Load())
			if !testutil.Eventually(func() bool { return packs.open.Load() == 0 }) {
				t.Errorf("%d pack readers left open", packs.open.Load())
			}
			calls := packs.calls.Load() // checked again once every goroutine is gone
			if n := late.Load(); n > 0 {
				t.Errorf("%d ranged reads started with a done context", n)
			}
			if at := callsAtCancel.Load(); at >= 0 && calls-at > int64(streamer.DefaultConcurrency) {
				t.Errorf("%d ranged reads started after the request's context ended (bound %d)", calls-at, streamer.DefaultConcurrency)
			}
			// The streamer holds at most Concurrency reads of ReadAhead
			// bytes ahead of the writer, plus a pack's worth in flight.
			if n, bound := packs.bytes.Load(), int64(streamer.DefaultConcurrency*streamer.DefaultReadAhead+8<<20); n > bound {
				t.Errorf("read %d MiB of storage for a client that took 512 KiB (bound %d MiB)", n>>20, bound>>20)
			}

			transport.CloseIdleConnections()
			srv.Close()
			if !testutil.Eventually(func() bool { return runtime.NumGoroutine() <= before }) {
				var buf bytes.Buffer
				_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
				t.Errorf("%d goroutines, %d before the request:\n%s", runtime.NumGoroutine(), before, buf.String())
			}
			// No goroutine of the request is left to start a read: any that
			// started after the handler returned is counted by now.
			if n := packs.calls.Load(); n != calls {
				t.Errorf("%d ranged reads started after the handler returned", n-calls)
			}
		})
	}
}
