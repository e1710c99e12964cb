package gateway_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ipfs/go-cid"

	"github.com/hash-stream/hash-stream-aws/internal/faultproxy"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// Storage faults through the gateway: the index is read straight from the
// S3 server, the packs through a fault proxy, by a client that
// s3.NewClient builds with short timeouts.
const (
	s3HeaderTimeout = testutil.ProvokedTimeout
	s3BodyTimeout   = testutil.ProvokedTimeout
	s3Attempts      = 3                      // the SDK's default
	s3Backoff       = 150 * time.Millisecond // the SDK's most between attempts of timeouts
	s3Slack         = testutil.Slack
)

// s3Faults is an S3 index and pack store pair whose pack reads go through
// a fault proxy.
type s3Faults struct {
	idx    store.IndexStore
	direct store.PackStore // for writing
	bucket string
	proxy  *faultproxy.Proxy
	// proxyClient returns a pack store over the bucket of direct, through
	// the proxy, with a client (and connection pool) of its own.
	proxyClient func(opts ...s3.Option) store.PackStore
	// proxyClientNoReuse is proxyClient with a client that opens a
	// connection for every request: a fault "after N bytes" of a
	// connection is then one of each response, whatever reads came
	// before it.
	proxyClientNoReuse func(opts ...s3.Option) store.PackStore
}

func newS3Faults(t *testing.T) s3Faults {
	t.Helper()
	s3Server.Require(t)
	p, err := faultproxy.Start(strings.TrimPrefix(s3Server.Endpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	direct := s3Server.Client()
	bucket := s3Server.NewBucket(t)
	newClient := func() *awss3.Client {
		client, err := s3.NewClient(context.Background(), s3.Config{
			Endpoint: p.URL(), Region: s3Server.Region,
			HeaderTimeout: s3HeaderTimeout, BodyTimeout: s3BodyTimeout,
		}, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s3Server.AccessKey, s3Server.SecretKey, "")),
			config.WithSharedConfigFiles(nil), config.WithSharedCredentialsFiles(nil))
		if err != nil {
			t.Fatal(err)
		}
		return client
	}
	return s3Faults{
		idx:    s3.NewIndexStore(direct, s3Server.NewBucket(t)),
		direct: s3.NewPackStore(direct, bucket),
		bucket: bucket,
		proxy:  p,
		proxyClient: func(opts ...s3.Option) store.PackStore {
			return s3.NewPackStore(newClient(), bucket, opts...)
		},
		proxyClientNoReuse: func(opts ...s3.Option) store.PackStore {
			client := newClient()
			client = awss3.New(client.Options(), func(o *awss3.Options) {
				o.HTTPClient = o.HTTPClient.(*awshttp.BuildableClient).WithTransportOptions(func(tr *http.Transport) { tr.DisableKeepAlives = true })
			})
			return s3.NewPackStore(client, bucket, opts...)
		},
	}
}

// timedFetch is fetch that also reports how long the request took.
func timedFetch(t *testing.T, srv string, target string) (response, time.Duration) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv+target, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{readErr: err}, time.Since(start)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes(), readErr: err}, time.Since(start)
}

// S3 stalling after 1.5 MiB of each response: the CAR of random-3m.bin
// is cut within the body timeout after its first bytes (leaf 0) went out.
// A connection per request: with keep-alive, the read of leaf 0 and leaf 1
// sometimes went over the connection that had just carried leaf 2 and the
// root (about 1 MiB), and stalled before leaf 0 was whole.
func TestS3StallCutsTheCAR(t *testing.T) {
	s := newS3Faults(t)
	f := writeFaultFile(t, s.idx, s.direct)
	srv := newServer(t, s.idx, s.proxyClientNoReuse(s3.WithResumes(0)), nil)
	s.proxy.Set(faultproxy.Always(faultproxy.Fault{Kind: faultproxy.Stall, After: 3 << 19}))
	r, elapsed := timedFetch(t, srv.URL, "/ipfs/"+f.root.String()+"?format=car")
	checkCutMidStream(t, r, f, f.leaf(1))
	if elapsed < s3BodyTimeout || elapsed > s3BodyTimeout+s3Slack {
		t.Fatalf("cut after %v, want the body timeout %v (+%v)", elapsed, s3BodyTimeout, s3Slack)
	}
	if s.proxy.Struck() == 0 {
		t.Fatal("no connection stalled: the test does not test it")
	}
	t.Logf("stall after 1.5 MiB of each response, body timeout %v: %d bytes, then cut after %v: %v", s3BodyTimeout, len(r.body), elapsed, r.readErr)
}

// S3 that takes requests and answers nothing, or accepts connections and
// never answers: 504 before the first byte, after the SDK's attempts.
func TestS3NoAnswerIs504(t *testing.T) {
	for _, tc := range []struct {
		fault faultproxy.Fault
		query string
	}{
		{faultproxy.Fault{Kind: faultproxy.Stall}, "format=car"},
		{faultproxy.Fault{Kind: faultproxy.Blackhole}, "format=raw"},
	} {
		t.Run(tc.fault.Kind.String(), func(t *testing.T) {
			s := newS3Faults(t)
			f := writeFaultFile(t, s.idx, s.direct)
			srv := newServer(t, s.idx, s.proxyClient(), nil)
			s.proxy.Set(faultproxy.Always(tc.fault))
			r, elapsed := timedFetch(t, srv.URL, "/ipfs/"+f.root.String()+"?"+tc.query)
			checkError(t, r, http.StatusGatewayTimeout)
			want := s3Attempts * s3HeaderTimeout
			if elapsed < want || elapsed > want+s3Backoff+s3Slack {
				t.Fatalf("%d after %v, want %v (+%v)", r.status, elapsed, want, s3Backoff+s3Slack)
			}
			t.Logf("%s, %s: %d %q after %v (header timeout %v, %d attempts)", tc.fault.Kind, tc.query, r.status, bytes.TrimSpace(r.body), elapsed, s3HeaderTimeout, s3Attempts)
		})
	}
}

// S3 answering 503 twice, then well: the SDK's retries serve the CAR.
func TestS3UnavailableIsServed(t *testing.T) {
	s := newS3Faults(t)
	f := writeFaultFile(t, s.idx, s.direct)
	srv := newServer(t, s.idx, s.proxyClient(), nil)
	s.proxy.Set(faultproxy.First(2, faultproxy.Fault{Kind: faultproxy.Unavailable}))
	r := fetch(t, srv, http.MethodGet, "/ipfs/"+f.root.String()+"?format=car")
	if got, ok := fileBytes(t, mustCAR(t, r).byHash(), f.root); r.status != 200 || !ok || !bytes.Equal(got, f.data) {
		t.Fatalf("status %d: the file does not come back whole", r.status)
	}
	if s.proxy.Struck() != 2 {
		t.Fatalf("%d 503s, want 2", s.proxy.Struck())
	}
}

// writeRandomFile stores n random bytes as a UnixFS file in packs of at
// most maxPack bytes, indexes it, and returns its root and bytes.
func writeRandomFile(t *testing.T, idx store.IndexStore, packs store.PackStore, n int, maxPack int64) (cid.Cid, []byte) {
	t.Helper()
	data := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{9}).Read(data)
	ctx := context.Background()
	root, infos, err := pack.WriteFile(ctx, packs, bytes.NewReader(data), pack.WithMaxSize(maxPack), pack.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var blobs []index.PackedBlob
	for _, p := range infos {
		blobs = append(blobs, p.Blobs...)
	}
	for _, w := range []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)} {
		if err := w.Add(ctx, blobs, root.Hash()); err != nil {
			t.Fatal(err)
		}
	}
	return root, data
}

// One reset of the S3 connection at 5 MiB no longer cuts the CAR of a
// 20 MiB file: the read resumes after the bytes received. Without resumes,
// the same reset cuts it. HASH_STREAM_SOAK=1 does it with a 300 MB file
// (the figure).
func TestS3ResetIsResumed(t *testing.T) {
	size, resetAt := 20<<20, int64(5<<20)
	if os.Getenv("HASH_STREAM_SOAK") == "1" {
		size = 300_000_000
	}
	s := newS3Faults(t)
	root, data := writeRandomFile(t, s.idx, s.direct, size, pack.DefaultMaxSize)
	for _, resumes := range []int{s3.DefaultResumes, 0} {
		t.Run("resumes="+strconv.Itoa(resumes), func(t *testing.T) {
			srv := newServer(t, s.idx, s.proxyClient(s3.WithResumes(resumes)), nil)
			struck := s.proxy.Struck()
			s.proxy.Set(faultproxy.First(1, faultproxy.Fault{Kind: faultproxy.Reset, After: resetAt}))
			r, elapsed := timedFetch(t, srv.URL, "/ipfs/"+root.String()+"?format=car")
			if s.proxy.Struck() != struck+1 {
				t.Fatalf("%d resets, want 1: the test does not test it", s.proxy.Struck()-struck)
			}
			if resumes == 0 {
				if r.status != 200 || r.readErr == nil {
					t.Fatalf("without resumes: status %d, %d bytes, read error %v: want a cut", r.status, len(r.body), r.readErr)
				}
				t.Logf("no resumes: cut after %d bytes: %v", len(r.body), r.readErr)
				return
			}
			got, ok := fileBytes(t, mustCAR(t, r).byHash(), root)
			if r.status != 200 || !ok || !bytes.Equal(got, data) {
				t.Fatalf("status %d: the file does not come back whole", r.status)
			}
			t.Logf("one reset at %d bytes: the CAR of a %d-byte file (%d bytes) came whole in %v", resetAt, size, len(r.body), elapsed)
		})
	}
}
