package lambdaurl_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/lambdaurl"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// BenchmarkShapes measures, in one run, three ways of getting large
// content through the deployed shape, the real function behind a local
// Function URL with Lambda's real limits (6 MiB uncapped, then 2 MiB/s,
// cut at 200 MiB; 4 execution environments):
//
//   - one stream: a GET of the CAR of the largest file under the
//     function's 199,000,000-byte response cap (a larger one answers 413);
//   - `hash-stream fetch` of a HASH_STREAM_BENCH_SHAPES_MIB file (default
//     1024): parallel leaf-aligned 4 MiB slices, every block verified, with
//     the client's peak RSS;
//   - @helia/verified-fetch (Node, the gateway-only recipe of
//     cmd/hash-stream/testdata/verified-fetch.mjs), block by block, when
//     Node and the package are installed.
//
// It takes minutes (the single stream alone ~90 s) and is skipped unless
// HASH_STREAM_BENCH_SHAPES=1:
//
//	HASH_STREAM_BENCH_SHAPES=1 go test -run '^$' -bench Shapes -benchtime 1x -timeout 30m ./internal/lambdaurl
func BenchmarkShapes(b *testing.B) {
	if os.Getenv("HASH_STREAM_BENCH_SHAPES") != "1" {
		b.Skip("minutes long: set HASH_STREAM_BENCH_SHAPES=1")
	}
	mib := int64(1024)
	if v := os.Getenv("HASH_STREAM_BENCH_SHAPES_MIB"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		mib = n
	}
	const single = 190_000_000 // a CAR just under the function's cap
	bin := bootstrap(b)
	c, roots := newContent(b, mib<<20, single)
	s, err := lambdaurl.Start(lambdaurl.Options{Bootstrap: bin, Env: c.env, Environments: 4, Log: func(string, ...any) {}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cli := filepath.Join(b.TempDir(), "hash-stream")
	if out, err := exec.Command("go", "build", "-o", cli, "github.com/hash-stream/hash-stream-aws/cmd/hash-stream").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	big := roots[0]
	want := c.sums[big]
	ctx := context.Background()
	for range b.N {
		// One stream, as curl.
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/ipfs/"+roots[1].String()+"?format=car", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("single stream: status %d, %d bytes, %v", resp.StatusCode, n, err)
		}
		singleRate := float64(n) / time.Since(start).Seconds() / 1e6
		b.ReportMetric(singleRate, "single-MB/s")

		// hash-stream fetch, as a user runs it.
		out := filepath.Join(b.TempDir(), "out.bin")
		start = time.Now()
		cmd := exec.Command(cli, "fetch", big.String(), "--gateway", s.URL(), "-o", out)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("fetch: %v\n%s", err, stderr.String())
		}
		fetchRate := float64(mib<<20) / time.Since(start).Seconds() / 1e6
		got, err := os.ReadFile(out)
		if err != nil || sha256.Sum256(got) != want {
			b.Fatalf("fetch: the file differs (%v)", err)
		}
		os.Remove(out)
		b.ReportMetric(fetchRate, "fetch-MB/s")
		b.ReportMetric(fetchRate/singleRate, "fetch/single")
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			b.ReportMetric(float64(ru.Maxrss)/1024, "fetch-RSS-MiB")
		}

		// @helia/verified-fetch, block by block.
		node, err := exec.LookPath("node")
		if err != nil {
			b.Log("node not found: verified-fetch not measured")
			continue
		}
		script := filepath.Join(testutil.RepoRoot(), "cmd", "hash-stream", "testdata", "verified-fetch.mjs")
		start = time.Now()
		vf := exec.Command(node, script, "--timeout", "900000", s.URL(), big.String()+"="+hex.EncodeToString(want[:]))
		if out, err := vf.CombinedOutput(); err != nil {
			b.Logf("verified-fetch not measured: %v\n%s", err, out)
			continue
		}
		b.ReportMetric(float64(mib<<20)/time.Since(start).Seconds()/1e6, "verified-fetch-MB/s")
		if ru, ok := vf.ProcessState.SysUsage().(*syscall.Rusage); ok {
			b.ReportMetric(float64(ru.Maxrss)/1024, "verified-fetch-RSS-MiB")
		}
	}
}
