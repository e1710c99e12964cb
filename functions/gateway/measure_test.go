package main

// Measured figures of the function (size, start-up, memory), printed with
// t.Logf. Targets: bootstrap < 20 MB, process start to first GET /next
// < 50 ms, peak RSS < 64 MiB for a 100 MB CAR. Only generous sanity bounds
// are asserted; timings are never asserted.

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// TestBootstrapSize builds the release binary (make build-lambda: arm64,
// -tags lambda.norpc -trimpath -ldflags="-s -w", CGO_ENABLED=0) and
// reports its size.
func TestBootstrapSize(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the function")
	}
	out := filepath.Join(t.TempDir(), "bootstrap")
	if err := lambdatest.BuildGateway(out, "arm64"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	const target = 20_000_000
	t.Logf("bootstrap linux/arm64 (release flags): %d bytes (%.1f MB; target < 20 MB)", fi.Size(), float64(fi.Size())/1e6)
	if fi.Size() >= target {
		t.Errorf("bootstrap is %d bytes, over the 20 MB target", fi.Size())
	}
	if local, err := os.Stat(bootstrap(t)); err == nil {
		t.Logf("bootstrap linux/amd64 (release flags): %d bytes (%.1f MB)", local.Size(), float64(local.Size())/1e6)
	}
}

// TestStartup measures, over a few cold starts, the time from exec of the
// bootstrap to its first GET /next on the fake Runtime API (init done: the
// configuration read, the S3 client and the handler built), and to its
// first answer; then the same through the Runtime Interface Emulator, from
// starting the emulator to the first answered invoke.
func TestStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the function")
	}
	bootstrap(t)
	// An event that needs no S3 request: the figures are the function's own.
	event := lambdatest.FunctionURLEvent(http.MethodGet, "/ipfs/not-a-cid", "format=raw")
	env := append(isolatedEnv(t),
		"AWS_ENDPOINT_URL_S3=http://127.0.0.1:9", // never contacted
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		s3.EnvIndexBucket+"=index", s3.EnvPackBucket+"=packs",
	)
	const runs = 7
	var toNext, toAnswer []time.Duration
	var rss int64
	for range runs {
		rt := lambdatest.NewRuntime(t)
		inv := rt.Invoke(event) // queued: the first GET /next gets it at once
		f := startFunction(t, rt, env...)
		res := wait(t, inv)
		if resp := decode(t, res); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
		toNext = append(toNext, res.Fetched.Sub(f.started))
		toAnswer = append(toAnswer, res.Done.Sub(f.started))
		if hwm, err := procStatus(f.cmd.Process.Pid, "VmHWM"); err == nil {
			rss = max(rss, hwm)
		}
	}
	t.Logf("fake Runtime API, %d cold starts: exec to first GET /next min %v, median %v, max %v (target < 50 ms); to first answer median %v",
		runs, slices.Min(toNext).Round(10*time.Microsecond), median(toNext).Round(10*time.Microsecond),
		slices.Max(toNext).Round(10*time.Microsecond), median(toAnswer).Round(10*time.Microsecond))
	t.Logf("peak RSS after init and one small request: %.1f MiB", float64(rss)/(1<<20))
	if median(toNext) > 5*time.Second {
		t.Errorf("the function took %v to start: something is wrong", median(toNext))
	}

	// The real emulator: its own start, the function's init at the first
	// invoke, the answer.
	lambdatest.EmulatorPath(t)
	var emu []time.Duration
	for range 3 {
		start := time.Now()
		e := lambdatest.StartEmulator(t, bootstrap(t), env...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := e.InvokeHTTP(ctx, event)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
		emu = append(emu, time.Since(start))
	}
	t.Logf("Runtime Interface Emulator, 3 starts: emulator start to first answered invoke min %v, median %v (includes the emulator's own start and the test's 20 ms polling for its port)",
		slices.Min(emu).Round(time.Millisecond), median(emu).Round(time.Millisecond))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestPeakRSS streams a 100 MiB file's CAR through the fake Runtime API
// with the default settings and reports the function process's peak RSS
// (VmHWM).
func TestPeakRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("streams a 100 MiB CAR")
	}
	bootstrap(t)
	b := newBuckets(t)
	t0 := time.Now()
	g := b.writeFile(t, "gateway function peak rss ", 100<<20)
	t.Logf("loaded 100 MiB into S3 in %v", time.Since(t0).Round(time.Millisecond))

	rt := lambdatest.NewRuntime(t)
	f := startFunction(t, rt, functionEnv(t, b, s3srv.Endpoint)...)
	// A first request initializes what a warm instance keeps (S3
	// connections, the index cache's first entries are per root).
	warm := invoke(t, rt, lambdatest.FunctionURLEvent(http.MethodGet, "/ipfs/not-a-cid", "format=raw"))
	decode(t, warm)
	idle, _ := procStatus(f.cmd.Process.Pid, "VmHWM")
	cpu0, _ := procCPU(f.cmd.Process.Pid)
	res := invoke(t, rt, carEvent(g.root, "dag-scope=all"))
	cpu1, _ := procCPU(f.cmd.Process.Pid)
	hwm, err := procStatus(f.cmd.Process.Pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	rss, _ := procStatus(f.cmd.Process.Pid, "VmRSS")
	if err := res.Err(); err != nil {
		t.Fatalf("function error: %v", err)
	}
	resp := decode(t, res)
	checkFileCAR(t, resp.Body, g)
	d := res.Done.Sub(res.Fetched)
	t.Logf("%d-byte CAR in %v (%.0f MB/s), function CPU %v: function peak RSS (VmHWM) %.1f MiB (%.1f MiB before it), RSS after %.1f MiB (target < 64 MiB)",
		len(resp.Body), d.Round(time.Millisecond), float64(len(resp.Body))/d.Seconds()/1e6, cpu1-cpu0,
		float64(hwm)/(1<<20), float64(idle)/(1<<20), float64(rss)/(1<<20))
	if hwm > 256<<20 {
		t.Errorf("peak RSS %.1f MiB: the function holds the response in memory", float64(hwm)/(1<<20))
	}
}

// BenchmarkColdStart measures a cold start without the -race test
// binary's overhead: exec of the bootstrap to its first GET /next on the
// fake Runtime API (ms/next), and to its answer to a first event that needs
// no S3 request (ms/answer). go test -run '^$' -bench ColdStart ./functions/gateway
func BenchmarkColdStart(b *testing.B) {
	bootstrap(b)
	env := append(isolatedEnv(b),
		"AWS_ENDPOINT_URL_S3=http://127.0.0.1:9", // never contacted
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		s3.EnvIndexBucket+"=index", s3.EnvPackBucket+"=packs",
	)
	event := lambdatest.FunctionURLEvent(http.MethodGet, "/ipfs/not-a-cid", "format=raw")
	var next, answer time.Duration
	for b.Loop() {
		// A Runtime per start: a killed process's pending GET /next could
		// take the next event from a shared one.
		rt := lambdatest.NewRuntime(b)
		inv := rt.Invoke(event)
		f := startFunction(b, rt, env...)
		res := wait(b, inv)
		next += res.Fetched.Sub(f.started)
		answer += res.Done.Sub(f.started)
		f.stop()
	}
	b.ReportMetric(float64(next.Microseconds())/1e3/float64(b.N), "ms/next")
	b.ReportMetric(float64(answer.Microseconds())/1e3/float64(b.N), "ms/answer")
}
