package main

// Helpers of the function's tests: the S3 server (TestMain), the bootstrap
// binary built once, function processes on the fake Runtime API, S3
// buckets loaded with content, and CAR checks.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// s3srv is the S3-compatible server of this test binary (nil: none).
var s3srv *s3test.Server

func TestMain(m *testing.M) { s3test.Main(m, &s3srv, built.Remove) }

// built is the function binary for this machine, built once per test
// binary with the release flags (the same build as
// build/lambda/gateway-amd64/bootstrap, not instrumented by -race).
var built lambdatest.GatewayBuild

func bootstrap(t testing.TB) string { return built.Path(t) }

// isolatedEnv keeps a function away from the machine's AWS configuration
// and from the instance metadata service.
func isolatedEnv(t testing.TB) []string { return lambdatest.IsolatedEnv(t.TempDir()) }

// functionEnv is the environment of a function reading the buckets of b
// through endpoint (the S3 server, or a proxy in front of it), plus extra
// ("KEY=value", later ones win).
func functionEnv(t testing.TB, b *buckets, endpoint string, extra ...string) []string {
	env := append(isolatedEnv(t), s3srv.Env()...)
	env = append(env,
		"AWS_ENDPOINT_URL_S3="+endpoint,
		s3.EnvIndexBucket+"="+b.index,
		s3.EnvPackBucket+"="+b.pack,
	)
	return append(env, extra...)
}

// function is a bootstrap process serving a fake Runtime API.
type function struct {
	rt      *lambdatest.Runtime
	cmd     *exec.Cmd
	started time.Time
	out     *testutil.Buffer
	stop    func() // kills the process group and waits for the process
}

// startFunction runs the bootstrap against rt with the variables
// Runtime.Start sets plus env, in its own process group, killed (by its
// group id) when the test ends; its output is logged if the test failed.
// Unlike Runtime.Start it keeps the process, for its pid and start time.
func startFunction(t testing.TB, rt *lambdatest.Runtime, env ...string) *function {
	t.Helper()
	cmd := exec.Command(bootstrap(t))
	cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + rt.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=gateway-test",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
		"AWS_REGION=us-east-1",
	}, env...)
	out := &testutil.Buffer{Max: 1 << 20}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	f := &function{rt: rt, cmd: cmd, out: out}
	f.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start bootstrap: %v", err)
	}
	waited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // killed at the end: its exit status is expected
		close(waited)
	}()
	var once sync.Once
	f.stop = func() {
		once.Do(func() { // never signal a process group id that may be reused
			select {
			case <-waited: // exited on its own
			default:
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-waited
			}
		})
	}
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			t.Logf("function output:\n%s", out.String())
		}
	})
	return f
}

// procStatus returns a field of /proc/<pid>/status in bytes (the kB
// fields: VmHWM, VmRSS).
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procCPU returns the user and system CPU time of a process so far, from
// /proc/<pid>/stat (in clock ticks of 10 ms, USER_HZ on Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses: state is 3,
	// utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %v %v", pid, err1, err2)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// invoke queues event and waits for its result.
func invoke(t testing.TB, rt *lambdatest.Runtime, event []byte) *lambdatest.Result {
	t.Helper()
	return wait(t, rt.Invoke(event))
}

func wait(t testing.TB, inv *lambdatest.Invocation) *lambdatest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := inv.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.ReadErr != nil {
		t.Fatalf("response body broke off: %v", res.ReadErr)
	}
	return res
}

// decode checks that res is a Function URL streaming response and decodes
// it.
func decode(t testing.TB, res *lambdatest.Result) *lambdatest.HTTPResponse {
	t.Helper()
	if res.Path != lambdatest.PathResponse {
		t.Fatalf("function posted to %s (%v), want a response", res.Path, res.Err())
	}
	if res.ContentType != lambdatest.HTTPContentType {
		t.Fatalf("response content type %q, want %q", res.ContentType, lambdatest.HTTPContentType)
	}
	resp, err := lambdatest.DecodeHTTPResponse(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// carEvent is a Function URL event asking for root as a CAR.
func carEvent(root cid.Cid, query string) []byte {
	q := "format=car"
	if query != "" {
		q += "&" + query
	}
	return lambdatest.FunctionURLEvent(http.MethodGet, "/ipfs/"+root.String(), q)
}

// buckets is a pair of fresh index and pack buckets.
type buckets struct {
	client       *awss3.Client
	index, pack  string
	indexStore   *s3.IndexStore
	packStore    *s3.PackStore
	indexWriters []index.Writer
}

func newBuckets(t testing.TB) *buckets {
	t.Helper()
	s3srv.Require(t)
	b := &buckets{client: s3srv.Client(), index: s3srv.NewBucket(t), pack: s3srv.NewBucket(t)}
	b.indexStore = s3.NewIndexStore(b.client, b.index)
	b.packStore = s3.NewPackStore(b.client, b.pack)
	b.indexWriters = []index.Writer{index.NewSingleLevelWriter(b.indexStore), index.NewMultipleLevelWriter(b.indexStore)}
	return b
}

// generated is a file made of testutil.HashStreamReader(prefix, size).
type generated struct {
	prefix string
	size   int64
	sum    [sha256.Size]byte // of its bytes
	root   cid.Cid
	packs  []pack.Info
}

// writeFile stores a generated file as the hash-stream CLI does (UnixFS,
// packs, both index writers) and returns it.
func (b *buckets) writeFile(t testing.TB, prefix string, size int64) *generated {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h := sha256.New()
	root, infos, err := pack.WriteFile(ctx, b.packStore, io.TeeReader(testutil.HashStreamReader(prefix, size), h))
	if err != nil {
		t.Fatalf("write %d-byte file: %v", size, err)
	}
	b.index1(t, infos, root)
	g := &generated{prefix: prefix, size: size, root: root, packs: infos}
	h.Sum(g.sum[:0])
	return g
}

// index1 indexes the blobs of packs as contained in root.
func (b *buckets) index1(t testing.TB, packs []pack.Info, root cid.Cid) {
	t.Helper()
	if err := pack.AddToIndex(context.Background(), b.indexWriters, packs, root.Hash()); err != nil {
		t.Fatalf("index: %v", err)
	}
}

// packKey is the object key of a pack in the pack bucket.
func packKey(mh multihash.Multihash) string {
	k := store.Key(mh)
	return k + "/" + k + store.DefaultPackExtension
}

// carBlock is one block of a CAR body.
type carBlock struct {
	cid  cid.Cid
	data []byte
}

// readCAR reads a CARv1 body whole, verifying every block against its CID
// (testutil.ReadCAR). It returns the blocks read before any error.
func readCAR(body []byte) (roots []cid.Cid, blocks []carBlock, err error) {
	roots, read, err := testutil.ReadCAR(bytes.NewReader(body))
	for _, b := range read {
		blocks = append(blocks, carBlock{b.CID, b.Data})
	}
	return roots, blocks, err
}

// checkFileCAR checks that body is the whole CAR of a generated file:
// roots [root], the root node first, then every leaf in file order, their
// bytes those of the file.
func checkFileCAR(t testing.TB, body []byte, g *generated) {
	t.Helper()
	roots, blocks, err := readCAR(body)
	if err != nil {
		t.Fatalf("CAR of %d bytes: %v (after %d blocks)", len(body), err, len(blocks))
	}
	if len(roots) != 1 || !roots[0].Equals(g.root) {
		t.Fatalf("CAR roots %v, want [%s]", roots, g.root)
	}
	leaves := (g.size + unixfs.DefaultChunkSize - 1) / unixfs.DefaultChunkSize
	if int64(len(blocks)) != leaves+1 {
		t.Fatalf("%d blocks, want %d (root and %d leaves)", len(blocks), leaves+1, leaves)
	}
	if !blocks[0].cid.Equals(g.root) {
		t.Fatalf("first block %s, want the root %s", blocks[0].cid, g.root)
	}
	h := sha256.New()
	for i, b := range blocks[1:] {
		if b.cid.Prefix().Codec != cid.Raw {
			t.Fatalf("block %d is %s, want a raw leaf", i+1, b.cid)
		}
		h.Write(b.data)
	}
	if !bytes.Equal(h.Sum(nil), g.sum[:]) {
		t.Fatal("the leaves' bytes are not the file's")
	}
}

// s3Proxy forwards to the S3 server, records when each ranged GET was
// served whole, and holds one ranged GET until released.
type s3Proxy struct {
	endpoint string
	mu       sync.Mutex
	gets     []time.Time // end of each ranged GET body, in order

	n         atomic.Int64
	hold      int64         // the ranged GET to hold (1-based; 0: none)
	held      chan struct{} // closed when that GET arrives
	release   func()        // lets it through
	abandoned atomic.Bool   // the client gave up the held GET before release
}

// startS3Proxy starts a proxy that holds the hold-th ranged GET (none if
// 0) until release is called (at the latest when the test ends).
func startS3Proxy(t testing.TB, hold int64) *s3Proxy {
	t.Helper()
	target, err := url.Parse(s3srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	var once sync.Once
	p := &s3Proxy{hold: hold, held: make(chan struct{}), release: func() { once.Do(func() { close(released) }) }}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the request is signed for this host
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Method == http.MethodGet && resp.Request.Header.Get("Range") != "" {
				resp.Body = &servedBody{ReadCloser: resp.Body, done: p.served}
			}
			return nil
		},
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.Header.Get("Range") != "" && p.n.Add(1) == p.hold {
			close(p.held)
			select {
			case <-released:
			case <-r.Context().Done():
				p.abandoned.Store(true)
				return
			}
		}
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		p.release()
		_ = srv.Close()
	})
	p.endpoint = "http://" + ln.Addr().String()
	return p
}

func (p *s3Proxy) served() {
	p.mu.Lock()
	p.gets = append(p.gets, time.Now())
	p.mu.Unlock()
}

// rangedGets returns when each ranged GET so far was served.
func (p *s3Proxy) rangedGets() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.gets...)
}

type servedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *servedBody) Close() error {
	b.once.Do(b.done) // the proxy closes the body once it has copied it out
	return b.ReadCloser.Close()
}

// putObject replaces an object of a bucket.
func putObject(t testing.TB, client *awss3.Client, bucket, key string, data []byte) {
	t.Helper()
	_, err := client.PutObject(context.Background(), &awss3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

// getObject reads an object whole.
func getObject(t testing.TB, client *awss3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := client.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return b
}

// bodyOf returns the body bytes of a streaming response received so far
// (after the prelude and its eight NUL bytes), or nil.
func bodyOf(received []byte) []byte {
	_, body, ok := bytes.Cut(received, make([]byte, 8))
	if !ok {
		return nil
	}
	return body
}

// listenLoopback listens on a free port of 127.0.0.1.
func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
