package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hash-stream/hash-stream-aws/internal/faultproxy"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// Timeouts of the clients of the fault tests, from testutil (the same
// headroom for every provoked timeout).
const (
	testHeaderTimeout = testutil.ProvokedTimeout
	testBodyTimeout   = testutil.ProvokedTimeout
	// slack is what a timed failure may take beyond its timeouts on a
	// busy machine running -race.
	slack = testutil.Slack
	// attempts is the SDK's default attempts of a request.
	attempts = 3
	// backoff bounds the SDK's waits between the attempts of a request
	// that timed out (50 ms, then 100 ms, at most).
	backoff = 150 * time.Millisecond
)

// faultyClient returns a client built by s3.NewClient as the programs
// build it (with the short test timeouts) that reaches the server through
// a fault proxy, and the proxy.
func faultyClient(t *testing.T) (*awss3.Client, *faultproxy.Proxy) {
	t.Helper()
	server.Require(t)
	p, err := faultproxy.Start(strings.TrimPrefix(server.Endpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	client, err := s3.NewClient(context.Background(), s3.Config{
		Endpoint: p.URL(), Region: server.Region,
		HeaderTimeout: testHeaderTimeout, BodyTimeout: testBodyTimeout,
	}, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(server.AccessKey, server.SecretKey, "")),
		config.WithSharedConfigFiles(nil), config.WithSharedCredentialsFiles(nil))
	if err != nil {
		t.Fatal(err)
	}
	return client, p
}

// faultyPacks returns a pack store over a new bucket whose client is
// faultyClient's; a direct client of the server for setting up; the
// bucket; and the proxy.
func faultyPacks(t *testing.T, opts ...s3.Option) (*s3.PackStore, *awss3.Client, string, *faultproxy.Proxy) {
	t.Helper()
	client, p := faultyClient(t)
	bucket := server.NewBucket(t)
	return s3.NewPackStore(client, bucket, opts...), server.Client(), bucket, p
}

// putPack stores n random bytes as the pack at path and returns them.
func putPack(t *testing.T, client *awss3.Client, bucket, path string, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	_, _ = r.Read(data)
	putObject(t, client, bucket, path+store.DefaultPackExtension, data)
	return data
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// readAll reads a whole GetRange and reports how long it took.
func readAll(ctx context.Context, packs *s3.PackStore, path string, offset, length int64) ([]byte, time.Duration, error) {
	start := time.Now()
	rc, err := packs.GetRange(ctx, store.Location{Path: path}, offset, length)
	if err != nil {
		return nil, time.Since(start), err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, time.Since(start), err
}

// An S3 that stalls after some bytes on every connection ends the read
// with a timeout after the body timeout, once per allowed resume.
func TestStalledBodyTimesOut(t *testing.T) {
	for _, resumes := range []int{0, 2} {
		t.Run("resumes="+strconv.Itoa(resumes), func(t *testing.T) {
			packs, direct, bucket, p := faultyPacks(t, s3.WithResumes(resumes))
			data := putPack(t, direct, bucket, "stall", 2<<20)
			p.Set(faultproxy.Always(faultproxy.Fault{Kind: faultproxy.Stall, After: 256 << 10}))
			got, elapsed, err := readAll(context.Background(), packs, "stall", 0, -1)
			if !isTimeout(err) || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("got %v, want a body timeout", err)
			}
			if len(got) == 0 || len(got) >= (resumes+1)*256<<10 || !bytes.Equal(got, data[:len(got)]) {
				t.Fatalf("got %d bytes before the error, not a prefix of the pack under %d", len(got), (resumes+1)*256<<10)
			}
			want := time.Duration(resumes+1) * testBodyTimeout
			if elapsed < want || elapsed > want+slack {
				t.Fatalf("failed after %v, want %v (+%v)", elapsed, want, slack)
			}
			if p.Accepted() != resumes+1 {
				t.Fatalf("%d connections, want %d", p.Accepted(), resumes+1)
			}
			t.Logf("stall after 256 KiB, body timeout %v, %d resumes: error after %v with %d bytes: %v", testBodyTimeout, resumes, elapsed, len(got), err)
		})
	}
}

// An S3 that takes the request and sends nothing (a stall before the
// headers), or that accepts and never answers at all, fails GetRange with
// a timeout after the SDK's attempts, each ended by the header timeout.
func TestNoAnswerTimesOut(t *testing.T) {
	for _, f := range []faultproxy.Fault{{Kind: faultproxy.Stall}, {Kind: faultproxy.Blackhole}} {
		t.Run(f.Kind.String(), func(t *testing.T) {
			packs, direct, bucket, p := faultyPacks(t)
			putPack(t, direct, bucket, "quiet", 1000)
			p.Set(faultproxy.Always(f))
			_, elapsed, err := readAll(context.Background(), packs, "quiet", 0, 100)
			if !isTimeout(err) {
				t.Fatalf("got %v, want a timeout", err)
			}
			want := attempts * testHeaderTimeout
			if elapsed < want || elapsed > want+backoff+slack {
				t.Fatalf("failed after %v, want %v (+%v)", elapsed, want, backoff+slack)
			}
			if p.Accepted() != attempts {
				t.Fatalf("%d connections, want one per attempt (%d)", p.Accepted(), attempts)
			}
			t.Logf("%s: error after %v (header timeout %v, %d attempts): %v", f.Kind, elapsed, testHeaderTimeout, attempts, err)
		})
	}
}

// A connection reset part-way through a large read is resumed after the
// bytes received, and the reader gets every byte, once.
func TestResetIsResumed(t *testing.T) {
	server.Require(t)
	direct, bucket := server.Client(), server.NewBucket(t)
	const size = 20 << 20
	data := putPack(t, direct, bucket, "large", size)
	for _, r := range []struct{ offset, length int64 }{{0, -1}, {1<<20 + 3, 18 << 20}} {
		client, p := faultyClient(t) // a new connection pool
		packs := s3.NewPackStore(client, bucket)
		p.Set(faultproxy.First(1, faultproxy.Fault{Kind: faultproxy.Reset, After: 5 << 20}))
		got, elapsed, err := readAll(context.Background(), packs, "large", r.offset, r.length)
		if err != nil {
			t.Fatalf("[%d, +%d): %v", r.offset, r.length, err)
		}
		want := data[r.offset:]
		if r.length >= 0 {
			want = want[:r.length]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("[%d, +%d): got %d bytes, not the %d of the range", r.offset, r.length, len(got), len(want))
		}
		if p.Accepted() != 2 {
			t.Fatalf("[%d, +%d): %d connections, want 2 (the reset one and the resume)", r.offset, r.length, p.Accepted())
		}
		t.Logf("reset at 5 MiB of [%d, +%d) of a 20 MiB pack: %d bytes, all correct, in %v", r.offset, r.length, len(got), elapsed)
	}

	// Without resumes the reset reaches the reader.
	client, p := faultyClient(t)
	p.Set(faultproxy.First(1, faultproxy.Fault{Kind: faultproxy.Reset, After: 5 << 20}))
	got, _, err := readAll(context.Background(), s3.NewPackStore(client, bucket, s3.WithResumes(0)), "large", 0, -1)
	if err == nil || len(got) >= 5<<20 {
		t.Fatalf("without resumes: %d bytes, %v", len(got), err)
	}
}

// A resume asks for the object it began on: a pack replaced in between is
// never stitched onto the bytes already read.
func TestResumeRefusesAReplacedObject(t *testing.T) {
	packs, direct, bucket, p := faultyPacks(t)
	putPack(t, direct, bucket, "replaced", 1<<20)
	p.Set(faultproxy.First(1, faultproxy.Fault{Kind: faultproxy.Reset, After: 256 << 10}))
	rc, err := packs.GetRange(context.Background(), store.Location{Path: "replaced"}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	putPack(t, direct, bucket, "replaced", 1<<20+1)
	_, err = io.ReadAll(rc)
	if !errors.Is(err, s3.ErrChanged) {
		t.Fatalf("got %v, want ErrChanged", err)
	}
	t.Logf("replaced during the read: %v", err)
}

// S3 answering 503 twice, then well: the SDK's retries serve the read.
func TestUnavailableIsRetried(t *testing.T) {
	packs, direct, bucket, p := faultyPacks(t)
	data := putPack(t, direct, bucket, "busy", 100<<10)
	p.Set(faultproxy.First(2, faultproxy.Fault{Kind: faultproxy.Unavailable}))
	got, elapsed, err := readAll(context.Background(), packs, "busy", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if p.Accepted() != 3 {
		t.Fatalf("%d connections, want 3", p.Accepted())
	}
	t.Logf("two 503s, then the pack, in %v", elapsed)
}

// A read whose caller leaves is not resumed.
func TestCanceledReadIsNotResumed(t *testing.T) {
	packs, direct, bucket, p := faultyPacks(t)
	putPack(t, direct, bucket, "left", 1<<20)
	p.Set(faultproxy.Always(faultproxy.Fault{Kind: faultproxy.Stall, After: 128 << 10}))
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := packs.GetRange(ctx, store.Location{Path: "left"}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = io.ReadAll(rc)
	if !errors.Is(err, context.Canceled) || p.Accepted() != 1 {
		t.Fatalf("got %v with %d connections, want context.Canceled and no resume", err, p.Accepted())
	}
	if d := time.Since(start); d > testBodyTimeout {
		t.Fatalf("canceled read ended after %v", d)
	}
}

// A server that never completes the TCP handshake fails the read after
// the SDK's attempts, each ended by the connect timeout.
func TestConnectTimeout(t *testing.T) {
	addr := unresponsiveListener(t)
	const connect = 200 * time.Millisecond
	client, err := s3.NewClient(context.Background(), s3.Config{Endpoint: "http://" + addr, Region: "us-east-1", ConnectTimeout: connect},
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("k", "s", "")),
		config.WithSharedConfigFiles(nil), config.WithSharedCredentialsFiles(nil))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s3.NewPackStore(client, "b").GetRange(context.Background(), store.Location{Path: "x"}, 0, -1)
	elapsed := time.Since(start)
	if !isTimeout(err) {
		t.Fatalf("got %v, want a timeout", err)
	}
	if want := attempts * connect; elapsed < want || elapsed > want+backoff+slack {
		t.Fatalf("failed after %v, want %v", elapsed, want)
	}
	t.Logf("connect timeout %v: error after %v: %v", connect, elapsed, err)
}

// unresponsiveListener returns the address of a socket of 127.0.0.1 that
// listens with a full backlog and never accepts, so a connect to it gets
// no answer to its SYN (Linux drops it). It skips elsewhere.
func unresponsiveListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skip(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skip(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Skip(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	// Fill the backlog: these connects complete, later ones hang.
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err == nil {
		_ = c.Close()
		t.Skip("this system answers connects beyond the backlog")
	}
	return addr
}

// NewClient's HTTP client has the configured timeouts, the defaults when
// none are set.
func TestNewClientTimeouts(t *testing.T) {
	for _, tc := range []struct {
		cfg             s3.Config
		header, connect time.Duration
	}{
		{s3.Config{}, s3.DefaultHeaderTimeout, s3.DefaultConnectTimeout},
		{s3.Config{HeaderTimeout: time.Second, ConnectTimeout: 2 * time.Second}, time.Second, 2 * time.Second},
		{s3.Config{HeaderTimeout: -1, ConnectTimeout: -1}, 0, 0},
	} {
		tc.cfg.Endpoint, tc.cfg.Region = "http://127.0.0.1:1", "us-east-1"
		client, err := s3.NewClient(context.Background(), tc.cfg, config.WithSharedConfigFiles(nil), config.WithSharedCredentialsFiles(nil))
		if err != nil {
			t.Fatal(err)
		}
		b, ok := client.Options().HTTPClient.(*awshttp.BuildableClient)
		if !ok {
			t.Fatalf("HTTP client %T", client.Options().HTTPClient)
		}
		tr := b.GetTransport()
		if tr.ResponseHeaderTimeout != tc.header || tr.TLSHandshakeTimeout != tc.connect || b.GetDialer().Timeout != tc.connect {
			t.Errorf("%+v: header %v, TLS %v, dial %v", tc.cfg, tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout, b.GetDialer().Timeout)
		}
	}
}

// With HASH_STREAM_SOAK=1: the time to error of a stalled and of a
// blackholed S3 with the default timeouts and resumes, as deployed.
func TestDefaultTimeoutsSoak(t *testing.T) {
	if os.Getenv("HASH_STREAM_SOAK") != "1" {
		t.Skip("set HASH_STREAM_SOAK=1 (takes about a minute)")
	}
	server.Require(t)
	direct, bucket := server.Client(), server.NewBucket(t)
	putPack(t, direct, bucket, "soak", 4<<20)
	for _, tc := range []struct {
		fault faultproxy.Fault
		max   time.Duration // the bound the defaults promise
	}{
		// Each connection gives 256 KiB, then stalls: the first body and
		// each resume end by the body timeout.
		{faultproxy.Fault{Kind: faultproxy.Stall, After: 256 << 10}, (s3.DefaultResumes + 1) * (s3.DefaultBodyTimeout + time.Second)},
		// Each attempt ends by the header timeout.
		{faultproxy.Fault{Kind: faultproxy.Stall}, attempts*s3.DefaultHeaderTimeout + backoff + slack},
		{faultproxy.Fault{Kind: faultproxy.Blackhole}, attempts*s3.DefaultHeaderTimeout + backoff + slack},
	} {
		p, err := faultproxy.Start(strings.TrimPrefix(server.Endpoint, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		client, err := s3.NewClient(context.Background(), s3.Config{Endpoint: p.URL(), Region: server.Region},
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(server.AccessKey, server.SecretKey, "")),
			config.WithSharedConfigFiles(nil), config.WithSharedCredentialsFiles(nil))
		if err != nil {
			t.Fatal(err)
		}
		p.Set(faultproxy.Always(tc.fault))
		got, elapsed, err := readAll(context.Background(), s3.NewPackStore(client, bucket), "soak", 0, -1)
		_ = p.Close()
		if !isTimeout(err) || elapsed > tc.max {
			t.Errorf("%s after %d bytes: %v after %v, want a timeout within %v", tc.fault.Kind, tc.fault.After, err, elapsed, tc.max)
		}
		t.Logf("defaults, %s after %d bytes: %d bytes, then a timeout after %v over %d connections", tc.fault.Kind, tc.fault.After, len(got), elapsed.Round(time.Millisecond), p.Accepted())
	}
}
