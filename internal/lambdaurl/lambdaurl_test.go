package lambdaurl_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/lambdaurl"
	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/fetch"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/ipfs/go-cid"
)

var server *s3test.Server

// built is the gateway function, built once per test binary as make
// build-lambda does (for this machine).
var built lambdatest.GatewayBuild

func bootstrap(t testing.TB) string { return built.Path(t) }

func TestMain(m *testing.M) { s3test.Main(m, &server, built.Remove) }

// Scaled-down limits: 128 KiB uncapped, then 1 MiB/s, cut at 2 MiB (the
// leaves are 1 MiB, so a one-leaf slice fits under the cap).
const (
	burst    = 128 << 10
	rate     = 1 << 20
	maxBytes = 2 << 20
)

// content is a store in S3 holding testdata/ and generated files.
type content struct {
	env  []string
	sums map[cid.Cid][sha256.Size]byte
}

func newContent(t testing.TB, sizes ...int64) (*content, []cid.Cid) {
	t.Helper()
	server.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := server.Client()
	indexBucket, packBucket := server.NewBucket(t), server.NewBucket(t)
	idx, packs := s3.NewIndexStore(client, indexBucket), s3.NewPackStore(client, packBucket)
	if _, err := fixture.Load(ctx, idx, packs); err != nil {
		t.Fatal(err)
	}
	c := &content{sums: map[cid.Cid][sha256.Size]byte{}}
	var roots []cid.Cid
	writers := []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)}
	for _, size := range sizes {
		h := sha256.New()
		root, infos, err := pack.WriteFile(ctx, packs, io.TeeReader(testutil.HashStreamReader("lambdaurl", size), h))
		if err != nil {
			t.Fatal(err)
		}
		if err := pack.AddToIndex(ctx, writers, infos, root.Hash()); err != nil {
			t.Fatal(err)
		}
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		c.sums[root] = sum
		roots = append(roots, root)
	}
	c.env = append(append(server.Env(),
		s3.EnvIndexBucket+"="+indexBucket, s3.EnvPackBucket+"="+packBucket),
		lambdatest.IsolatedEnv(t.TempDir())...)
	return c, roots
}

func start(t testing.TB, bin string, c *content, envs int, queueWait time.Duration) *lambdaurl.Server {
	t.Helper()
	s, err := lambdaurl.Start(lambdaurl.Options{
		Bootstrap:       bin,
		Env:             c.env,
		BurstBytes:      burst,
		RateBytesPerSec: rate,
		MaxBytes:        maxBytes,
		Environments:    envs,
		QueueWait:       queueWait,
		Timeout:         time.Minute,
		Log:             t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func get(ctx context.Context, t *testing.T, url string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// TestFunctionURL runs the real gateway bootstrap behind the local
// Function URL, over S3, with scaled-down limits.
func TestFunctionURL(t *testing.T) {
	bin := bootstrap(t)
	// 1 MiB + 256 KiB: a CAR past the burst and under the cap; 2.5 MiB: a
	// CAR over the cap.
	c, roots := newContent(t, 5<<18, 5<<19)
	mid, big := roots[0], roots[1]
	s := start(t, bin, c, 2, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("raw block", func(t *testing.T) {
		resp, b, err := get(ctx, t, s.URL()+"/ipfs/"+fixture.HelloCID+"?format=raw")
		if err != nil || resp.StatusCode != http.StatusOK || string(b) != "hello hash stream\n" {
			t.Fatalf("status %d body %q err %v", resp.StatusCode, b, err)
		}
		if resp.Header.Get("X-Amzn-Requestid") == "" || resp.Header.Get("Content-Type") != "application/vnd.ipld.raw" {
			t.Fatalf("header %v", resp.Header)
		}
	})

	t.Run("rate after the burst", func(t *testing.T) {
		begin := time.Now()
		resp, b, err := get(ctx, t, s.URL()+"/ipfs/"+mid.String()+"?format=car")
		elapsed := time.Since(begin)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, %d bytes, err %v", resp.StatusCode, len(b), err)
		}
		if resp.ContentLength >= 0 && int64(len(b)) != resp.ContentLength {
			t.Fatalf("%d bytes, Content-Length %d", len(b), resp.ContentLength)
		}
		expected := time.Duration(float64(len(b)-burst) / rate * float64(time.Second))
		t.Logf("%d-byte CAR in %s (limit alone: %s)", len(b), elapsed.Round(time.Millisecond), expected.Round(time.Millisecond))
		// A check of the limiter: it cannot be faster than the rate (30%
		// off for timer slack); a loaded machine only makes it slower.
		if elapsed < expected*7/10 {
			t.Fatalf("%d bytes in %s: faster than %d B/s after a %d-byte burst (expected >= %s)", len(b), elapsed, rate, burst, expected)
		}
	})

	t.Run("cut at the cap", func(t *testing.T) {
		resp, b, err := get(ctx, t, s.URL()+"/ipfs/"+big.String()+"?format=car")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("read of a CAR over the cap: %d bytes, err %v; want a cut", len(b), err)
		}
		if len(b) != maxBytes {
			t.Fatalf("cut after %d bytes, want %d", len(b), maxBytes)
		}
	})

	t.Run("hash-stream fetch", func(t *testing.T) {
		client, err := fetch.New([]string{s.URL()}, fetch.WithSliceSize(1<<20), fetch.WithParallelism(2))
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out")
		begin := time.Now()
		if err := client.FetchFile(ctx, big, out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(b) != c.sums[big] || len(b) != 5<<19 {
			t.Fatalf("fetched %d bytes, not the file", len(b))
		}
		t.Logf("fetched %d bytes in %s over the cap of a single response", len(b), time.Since(begin).Round(time.Millisecond))
	})
	if n := s.ColdStarts(); n < 1 || n > 2 {
		t.Fatalf("%d cold starts with 2 environments", n)
	}
}

// TestThrottle: with one environment busy, a second request waits at most
// QueueWait and gets 429.
func TestThrottle(t *testing.T) {
	bin := bootstrap(t)
	c, roots := newContent(t, 5<<18)
	s := start(t, bin, c, 1, 200*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	started := make(chan struct{})
	var slowErr error
	go func() {
		defer wg.Done()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/ipfs/"+roots[0].String()+"?format=car", nil)
		resp, err := http.DefaultClient.Do(req)
		close(started) // the headers came: the environment is streaming
		if err != nil {
			slowErr = err
			return
		}
		defer resp.Body.Close()
		_, slowErr = io.Copy(io.Discard, resp.Body)
	}()
	<-started
	resp, b, err := get(ctx, t, s.URL()+"/ipfs/"+fixture.HelloCID+"?format=raw")
	if err != nil || resp.StatusCode != http.StatusTooManyRequests || !bytes.Contains(b, []byte("Rate Exceeded")) {
		t.Fatalf("second request: status %d body %q err %v; want 429", resp.StatusCode, b, err)
	}
	wg.Wait()
	if slowErr != nil {
		t.Fatal(slowErr)
	}
	// The environment is free again.
	resp, b, err = get(ctx, t, s.URL()+"/ipfs/"+fixture.HelloCID+"?format=raw")
	if err != nil || resp.StatusCode != http.StatusOK || string(b) != "hello hash stream\n" {
		t.Fatalf("after: status %d body %q err %v", resp.StatusCode, b, err)
	}
	if n := s.ColdStarts(); n != 1 {
		t.Fatalf("%d cold starts with 1 environment", n)
	}
}
