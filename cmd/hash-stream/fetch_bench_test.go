package main

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// BenchmarkFetch compares, on loopback against `hash-stream serve` run
// in-process, hash-stream fetch of a generated file (every block
// verified, written to disk) with one GET of the file's whole CAR read
// and dropped (what `curl -o /dev/null` does, unverified). The file is
// HASH_STREAM_FETCH_BENCH_MIB MiB (default 64):
//
//	HASH_STREAM_FETCH_BENCH_MIB=256 go test -run '^$' -bench Fetch -benchtime 3x ./cmd/hash-stream
func BenchmarkFetch(b *testing.B) {
	mib := 64
	if v := os.Getenv("HASH_STREAM_FETCH_BENCH_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("bad HASH_STREAM_FETCH_BENCH_MIB %q", v)
		}
		mib = n
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "file.bin")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, int64(mib)<<20); err != nil {
		b.Fatal(err)
	}
	f.Close()
	store := filepath.Join(dir, "store")
	var out, errOut testutil.Buffer
	env := &cliEnv{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	if code := run(context.Background(), env, []string{"pack", "write", src, "--dir", store, "--fsync=false", "-iw", "multiple-level"}); code != 0 {
		b.Fatalf("pack write: %s", errOut.String())
	}
	m := containingCID.FindStringSubmatch(out.String())
	if m == nil {
		b.Fatalf("no root in %s", out.String())
	}
	root := m[1]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := benchServe(b, ctx, store)
	gateway := "http://" + addr
	size := int64(mib) << 20

	b.Run("curl whole CAR", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			resp, err := http.Get(gateway + "/ipfs/" + root + "?format=car")
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || n < size {
				b.Fatalf("%d, %d bytes, %v", resp.StatusCode, n, err)
			}
		}
	})
	for _, p := range []string{"1", "8"} {
		b.Run("hash-stream fetch -p "+p, func(b *testing.B) {
			b.SetBytes(size)
			dst := filepath.Join(dir, "out")
			for b.Loop() {
				var errOut testutil.Buffer
				env := &cliEnv{stdout: io.Discard, stderr: &errOut, getenv: func(string) string { return "" }}
				if code := run(ctx, env, []string{"fetch", root, "--gateway", gateway, "-o", dst, "-p", p}); code != 0 {
					b.Fatalf("fetch: %s", errOut.String())
				}
				os.Remove(dst)
			}
		})
	}
}

// benchServe runs `hash-stream serve` over store on a free loopback port
// until ctx ends, and returns its address.
func benchServe(b *testing.B, ctx context.Context, store string) string {
	var logs testutil.Buffer
	addrc := make(chan string, 1)
	env := &cliEnv{stdout: io.Discard, stderr: &logs, getenv: func(string) string { return "" },
		onListen: func(a string) { addrc <- a }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, []string{"serve", "--dir", store, "--listen", "127.0.0.1:0"}) }()
	select {
	case a := <-addrc:
		return a
	case code := <-done:
		b.Fatalf("serve exited %d: %s", code, logs.String())
	}
	return ""
}
