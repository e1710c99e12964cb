package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
)

// envBenchBytes turns on TestMeasureIndexer: the size of the content of
// the CAR it indexes (make bench-indexer sets 1 GiB).
const envBenchBytes = "HASH_STREAM_INDEXER_BENCH_BYTES"

// TestMeasureIndexer indexes one CAR of generated content (a UnixFS file
// of HASH_STREAM_INDEXER_BENCH_BYTES random bytes, one pack, made in a
// temporary folder and never kept) with the real bootstrap under the
// emulator over the S3 server on 127.0.0.1, and reports the invocation's
// throughput (from the function's own log line) and the function
// process's peak RSS (VmHWM).
func TestMeasureIndexer(t *testing.T) {
	v := os.Getenv(envBenchBytes)
	if v == "" {
		t.Skip("set " + envBenchBytes + " (make bench-indexer)")
	}
	size, err := strconv.ParseInt(v, 10, 64)
	if err != nil || size <= 0 {
		t.Fatalf("%s=%q", envBenchBytes, v)
	}
	// Straight to the S3 server: the recording proxy would be in the way.
	r := newRig(t, "AWS_ENDPOINT_URL_S3="+s3srv.Endpoint, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024", "AWS_LAMBDA_FUNCTION_TIMEOUT=900")
	ctx := context.Background()

	dir := t.TempDir()
	start := time.Now()
	content := io.LimitReader(rand.NewChaCha8([32]byte{1}), size)
	_, infos, err := pack.WriteFile(ctx, fs.NewPackStore(dir), bufio.NewReaderSize(content, 1<<20), pack.WithMaxSize(size+size/100+(1<<20)), pack.WithTempDir(dir))
	if err != nil || len(infos) != 1 {
		t.Fatalf("%d packs, %v", len(infos), err)
	}
	carPath := filepath.Join(dir, store.Key(infos[0].Multihash)+store.DefaultPackExtension)
	f, err := os.Open(carPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if _, err := r.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(r.pack), Key: aws.String("ingest/bench.car"), Body: f, ContentLength: aws.Int64(st.Size())}); err != nil {
		t.Fatal(err)
	}
	t.Logf("CAR of %d bytes, %d blocks made and uploaded in %v", st.Size(), len(infos[0].Blobs), time.Since(start).Round(time.Millisecond))
	_ = os.Remove(carPath)

	invoked := time.Now()
	if msg := r.invoke(t, "ingest/bench.car"); msg != "" {
		t.Fatalf("function error: %s", msg)
	}
	wall := time.Since(invoked)
	pid := r.emu.FunctionPID()
	if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); !strings.Contains(string(cmd), "bootstrap") {
		t.Fatalf("process %d is %q, not the function", pid, cmd)
	}
	hwm, err := vmHWM(pid)
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		Msg        string  `json:"msg"`
		Bytes      int64   `json:"bytes"`
		Blocks     int     `json:"blocks"`
		DurationMs int64   `json:"duration_ms"`
		MBPerS     float64 `json:"mb_per_s"`
	}
	if l, err := r.emu.OutputLine(testutil.WaitContext(t), `"msg":"CAR indexed"`); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal([]byte(l), &line); err != nil {
		t.Fatal(err)
	}
	if line.Bytes != st.Size() {
		t.Fatalf("no log line of the CAR (got %+v):\n%s", line, r.emu.Output())
	}
	if keys := s3srv.Keys(t, r.pack, "ingest/"); len(keys) != 0 {
		t.Errorf("ingest object left: %q", keys)
	}
	t.Logf("indexer: %d bytes, %d blocks in %d ms (function) / %v (invoke round trip): %.1f MB/s; function peak RSS (VmHWM) %.1f MiB",
		line.Bytes, line.Blocks, line.DurationMs, wall.Round(time.Millisecond), line.MBPerS, float64(hwm)/(1<<20))
}

// vmHWM returns the peak resident set size of a process, in bytes.
func vmHWM(pid int) (int64, error) {
	if pid == 0 {
		return 0, fmt.Errorf("no function process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
