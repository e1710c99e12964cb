package main

// The indexer's real bootstrap under the Lambda Runtime Interface Emulator,
// sent S3 event JSON (events/s3-put.json, edited per case) about objects
// in the real S3 server, reached through a recording proxy that counts the
// requests by S3 operation.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
)

var s3srv *s3test.Server

// built is the function binary for this machine, built once with the
// release flags (the build of build/lambda/indexer-amd64/bootstrap).
var built = lambdatest.FunctionBuild{Package: lambdatest.IndexerPackage}

func TestMain(m *testing.M) { s3test.Main(m, &s3srv, built.Remove) }

// recorder is a reverse proxy to the S3 server on 127.0.0.1 that counts
// requests by operation, and can answer some with 503.
type recorder struct {
	url   string
	mu    sync.Mutex
	ops   map[string]int
	fail  atomic.Value // func(op string) bool, or nil
	proxy *httputil.ReverseProxy
}

// operation names an S3 request well enough for the tests.
func operation(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "" && q.Has("partNumber"):
		return "UploadPartCopy"
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		return "CopyObject"
	case r.Method == http.MethodPut:
		return "PutObject"
	case r.Method == http.MethodGet && q.Has("list-type"):
		return "ListObjectsV2"
	case r.Method == http.MethodGet:
		return "GetObject"
	case r.Method == http.MethodHead:
		return "HeadObject"
	case r.Method == http.MethodDelete:
		return "DeleteObject"
	}
	return r.Method
}

func startRecorder(t *testing.T) *recorder {
	t.Helper()
	target, err := url.Parse(s3srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{ops: map[string]int{}}
	rec.proxy = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // the request is signed for this host
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := operation(r)
		rec.mu.Lock()
		rec.ops[op]++
		rec.mu.Unlock()
		if f, _ := rec.fail.Load().(func(string) bool); f != nil && f(op) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>`)
			return
		}
		rec.proxy.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	rec.url = "http://" + ln.Addr().String()
	return rec
}

// take returns the counts since the last take and resets them.
func (r *recorder) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = map[string]int{}
	return ops
}

// rig is an index and a pack bucket and the indexer under the emulator.
type rig struct {
	client      *awss3.Client
	index, pack string
	rec         *recorder
	emu         *lambdatest.Emulator
}

func newRig(t *testing.T, extraEnv ...string) *rig {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the function and runs it under the emulator")
	}
	s3srv.Require(t)
	bin := built.Path(t)
	lambdatest.EmulatorPath(t)
	r := &rig{client: s3srv.Client(), index: s3srv.NewBucket(t), pack: s3srv.NewBucket(t), rec: startRecorder(t)}
	env := append(lambdatest.IsolatedEnv(t.TempDir()), s3srv.Env()...)
	env = append(env,
		"AWS_ENDPOINT_URL_S3="+r.rec.url,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=120",
		s3.EnvIndexBucket+"="+r.index, s3.EnvIndexPrefix+"=idx/",
		s3.EnvPackBucket+"="+r.pack, s3.EnvPackPrefix+"=packs/",
	)
	r.emu = lambdatest.StartEmulator(t, bin, append(env, extraEnv...)...)
	return r
}

// s3Key encodes a key as S3 event notifications do: URL-encoded, "+" for
// a space, "/" kept.
func s3Key(key string) string { return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/") }

// event returns events/s3-put.json about key in bucket.
func event(t *testing.T, bucket, key string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "events", "s3-put.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	s3 := ev["Records"].([]any)[0].(map[string]any)["s3"].(map[string]any)
	s3["bucket"].(map[string]any)["name"] = bucket
	s3["bucket"].(map[string]any)["arn"] = "arn:aws:s3:::" + bucket
	s3["object"].(map[string]any)["key"] = s3Key(key)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// invoke sends the event about key and returns the function's error
// message ("" when it succeeded).
func (r *rig) invoke(t *testing.T, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code, body, err := r.emu.Invoke(ctx, event(t, r.pack, key))
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK {
		t.Fatalf("emulator answered %d: %s", code, body)
	}
	if string(body) == "null" {
		return ""
	}
	var fe struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal(body, &fe); err != nil || fe.ErrorMessage == "" {
		t.Fatalf("unexpected answer %q", body)
	}
	return fe.ErrorType + ": " + fe.ErrorMessage
}

// wantRejected checks that the pack bucket holds only the rejected CAR at
// key and that no index object was written.
func (r *rig) wantRejected(t *testing.T, key string) {
	t.Helper()
	if keys := s3srv.Keys(t, r.pack, ""); len(keys) != 1 || keys[0] != key {
		t.Errorf("pack bucket holds %q, want only the rejected CAR", keys)
	}
	if keys := s3srv.Keys(t, r.index, ""); len(keys) != 0 {
		t.Errorf("index objects written: %q", keys)
	}
}

func (r *rig) put(t *testing.T, key string, data []byte) {
	t.Helper()
	_, err := r.client.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(r.pack), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
}

// gatewayGet serves one request with the gateway over the S3 stores of r.
func (r *rig) gatewayGet(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	idx := s3.NewIndexStore(r.client, r.index, s3.WithPrefix("idx/"))
	packs := s3.NewPackStore(r.client, r.pack, s3.WithPrefix("packs/"))
	h := gateway.New(streamer.New(index.NewReader(idx), packs))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

// canonicalCAR returns a CAR of size random bytes as a UnixFS file, in
// the gateway's own order (DFS, each block once), as the gateway serves it
// from memory stores: what it must serve again once the CAR is ingested.
func canonicalCAR(t *testing.T, size int) ([]byte, cid.Cid) {
	t.Helper()
	ctx := context.Background()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	idx, packs := memory.NewIndexStore(), memory.NewPackStore()
	root, infos, err := pack.WriteFile(ctx, packs, bytes.NewReader(data), pack.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	writers, _ := index.NewWriters(index.WritersAll, idx)
	if err := pack.AddToIndex(ctx, writers, infos, root.Hash()); err != nil {
		t.Fatal(err)
	}
	h := gateway.New(streamer.New(index.NewReader(idx), packs))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ipfs/"+root.String()+"?format=car&dag-scope=all", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("CAR from memory: %d %s", w.Code, w.Body)
	}
	return w.Body.Bytes(), root
}

// A good CAR dropped in the ingest prefix becomes servable by the gateway
// (the same CAR back, byte for byte, and each block by its own CID); the
// same event again is harmless; the same CAR under another key is indexed
// without a copy and without new index files.
func TestIndexer(t *testing.T) {
	r := newRig(t)
	car, root := canonicalCAR(t, 3<<20+77)
	info, err := pack.Scan(bytes.NewReader(car))
	if err != nil {
		t.Fatal(err)
	}
	const key = "ingest/my dir/a+b.car" // a space and a plus: the event's key is encoded
	r.put(t, key, car)
	r.rec.take()

	if msg := r.invoke(t, key); msg != "" {
		t.Fatalf("function error: %s", msg)
	}
	if ops := r.rec.take(); ops["CopyObject"] != 1 || ops["GetObject"] != 1 {
		t.Errorf("requests %v: want one GetObject of the CAR and one CopyObject", ops)
	}
	if keys := s3srv.Keys(t, r.pack, "ingest/"); len(keys) != 0 {
		t.Errorf("ingest objects left: %q", keys)
	}
	packKey := "packs/" + store.Key(info.Multihash) + "/" + store.Key(info.Multihash) + ".car"
	if keys := s3srv.Keys(t, r.pack, ""); len(keys) != 1 || keys[0] != packKey {
		t.Errorf("pack bucket holds %q, want [%s]", keys, packKey)
	}
	indexKeys := s3srv.Keys(t, r.index, "")
	if want := len(info.Blobs) + 2; len(indexKeys) != want { // BLOBs, a PACK, a CONTAINING
		t.Errorf("%d index objects, want %d: %q", len(indexKeys), want, indexKeys)
	}
	if line, err := r.emu.OutputLine(testutil.WaitContext(t), `"msg":"CAR indexed"`); err != nil || !strings.Contains(line, `"key":"`+key+`"`) {
		t.Errorf("no log line of the CAR (%v): %s", err, line)
	}

	w := r.gatewayGet(t, "/ipfs/"+root.String()+"?format=car&dag-scope=all")
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), car) {
		t.Fatalf("gateway CAR: %d, %d bytes, equal %v (want the %d bytes dropped)", w.Code, w.Body.Len(), bytes.Equal(w.Body.Bytes(), car), len(car))
	}
	leaf := info.Blobs[1] // a raw leaf: found by its own CID, a single-level record
	leafCID := cid.NewCidV1(cid.Raw, leaf.Multihash)
	w = r.gatewayGet(t, "/ipfs/"+leafCID.String()+"?format=raw")
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), car[leaf.Offset:leaf.Offset+leaf.Length]) {
		t.Fatalf("gateway raw block: %d, %d bytes", w.Code, w.Body.Len())
	}

	t.Run("same event again", func(t *testing.T) {
		if msg := r.invoke(t, key); msg != "" {
			t.Fatalf("function error: %s", msg)
		}
		if ops := r.rec.take(); ops["CopyObject"] != 0 || ops["PutObject"] != 0 || ops["DeleteObject"] != 0 {
			t.Errorf("requests %v: want no copy, no write", ops)
		}
		if got := s3srv.Keys(t, r.index, ""); len(got) != len(indexKeys) {
			t.Errorf("%d index objects, was %d", len(got), len(indexKeys))
		}
		if _, err := r.emu.WaitOutput(testutil.WaitContext(t), `"msg":"no such object: processed already"`); err != nil {
			t.Errorf("no log line of the redelivery: %v", err)
		}
	})

	t.Run("pack stored already", func(t *testing.T) {
		head := func() *awss3.HeadObjectOutput {
			out, err := r.client.HeadObject(context.Background(), &awss3.HeadObjectInput{Bucket: aws.String(r.pack), Key: aws.String(packKey)})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		before := head()
		r.put(t, "ingest/again.car", car)
		r.rec.take()
		if msg := r.invoke(t, "ingest/again.car"); msg != "" {
			t.Fatalf("function error: %s", msg)
		}
		ops := r.rec.take()
		if ops["CopyObject"] != 0 || ops["UploadPartCopy"] != 0 {
			t.Errorf("requests %v: the pack was copied again", ops)
		}
		// Only the CONTAINING file, which replaces itself with the same bytes.
		if ops["PutObject"] != 1 {
			t.Errorf("requests %v: want one PutObject (the CONTAINING file)", ops)
		}
		after := head()
		if !aws.ToTime(after.LastModified).Equal(aws.ToTime(before.LastModified)) || aws.ToString(after.ETag) != aws.ToString(before.ETag) {
			t.Errorf("pack object changed: %v %s, was %v %s", after.LastModified, aws.ToString(after.ETag), before.LastModified, aws.ToString(before.ETag))
		}
		if got := s3srv.Keys(t, r.index, ""); len(got) != len(indexKeys) {
			t.Errorf("%d index objects, was %d", len(got), len(indexKeys))
		}
		if keys := s3srv.Keys(t, r.pack, "ingest/"); len(keys) != 0 {
			t.Errorf("ingest objects left: %q", keys)
		}
		if _, err := r.emu.WaitOutput(testutil.WaitContext(t), `"skipped_copy":true`); err != nil {
			t.Errorf("no log line with skipped_copy: %v", err)
		}
	})
}

// A CAR with one flipped byte inside a block is moved to rejected/, no
// pack and no index object is written, the log line names the block, and
// the invocation succeeds.
func TestIndexerRejects(t *testing.T) {
	r := newRig(t)
	car, _ := canonicalCAR(t, 2<<20+3)
	info, err := pack.Scan(bytes.NewReader(car))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(car)
	blob := info.Blobs[2]
	bad[blob.Offset+blob.Length/3] ^= 0x01
	r.put(t, "ingest/batch 1/bad.car", bad)

	if msg := r.invoke(t, "ingest/batch 1/bad.car"); msg != "" {
		t.Fatalf("function error: %s", msg)
	}
	r.wantRejected(t, "rejected/batch 1/bad.car")
	blockCID := cid.NewCidV1(cid.Raw, blob.Multihash)
	line, err := r.emu.OutputLine(testutil.WaitContext(t), `"msg":"CAR rejected"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"level":"ERROR"`, `"key":"ingest/batch 1/bad.car"`, `"block":2,`, `"block_cid":"` + blockCID.String() + `"`, `"rejected_key":"rejected/batch 1/bad.car"`} {
		if !strings.Contains(line, want) {
			t.Errorf("rejection line lacks %s: %q", want, line)
		}
	}
}

// A storage failure is an error of the function (so Lambda retries the
// event) and leaves the CAR in place; the retry indexes it.
func TestIndexerRetries(t *testing.T) {
	r := newRig(t)
	car, _ := canonicalCAR(t, 1<<20+9)
	r.put(t, "ingest/a.car", car)
	r.rec.fail.Store(func(op string) bool { return op == "CopyObject" })
	msg := r.invoke(t, "ingest/a.car")
	if !strings.Contains(msg, "ServiceUnavailable") {
		t.Fatalf("function answered %q, want the copy's failure", msg)
	}
	if keys := s3srv.Keys(t, r.pack, ""); len(keys) != 1 || keys[0] != "ingest/a.car" {
		t.Fatalf("pack bucket holds %q, want only the CAR", keys)
	}
	if keys := s3srv.Keys(t, r.index, ""); len(keys) != 0 {
		t.Fatalf("index objects written: %q", keys)
	}
	r.rec.fail.Store(func(string) bool { return false })
	if msg := r.invoke(t, "ingest/a.car"); msg != "" {
		t.Fatalf("retry: %s", msg)
	}
	if keys := s3srv.Keys(t, r.pack, "ingest/"); len(keys) != 0 {
		t.Errorf("ingest objects left: %q", keys)
	}
}

// events/s3-put.json as it is (but for the bucket) about the testdata CAR
// it names: the CAR is indexed and served back byte for byte.
func TestSampleEvent(t *testing.T) {
	r := newRig(t)
	car, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "testdata", "cars", "subdir-with-mixed-block-files.car"))
	if err != nil {
		t.Fatal(err)
	}
	r.put(t, "ingest/subdir-with-mixed-block-files.car", car)
	if msg := r.invoke(t, "ingest/subdir-with-mixed-block-files.car"); msg != "" {
		t.Fatalf("function error: %s", msg)
	}
	info, err := pack.Scan(bytes.NewReader(car))
	if err != nil {
		t.Fatal(err)
	}
	w := r.gatewayGet(t, "/ipfs/"+info.Roots[0].String()+"?format=car&dag-scope=all")
	if w.Code != http.StatusOK {
		t.Fatalf("gateway: %d %s", w.Code, w.Body)
	}
	_, blocks := testutil.MustReadCAR(t, bytes.NewReader(w.Body.Bytes()))
	if len(blocks) != len(info.Blobs) {
		t.Errorf("%d blocks served, the CAR has %d", len(blocks), len(info.Blobs))
	}
	// The fixture is a canonical CAR (DFS, each block once): served back whole.
	if !bytes.Equal(w.Body.Bytes(), car) {
		t.Errorf("the CAR served (%d bytes) is not the CAR dropped (%d bytes)", w.Body.Len(), len(car))
	}
}

// A bad configuration fails the function's init with a message naming
// the variable.
func TestIndexerInitFails(t *testing.T) {
	r := newRig(t, envIngestPrefix+"=", envIndexWriter+"=bogus")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, body, err := r.emu.Invoke(ctx, event(t, r.pack, "ingest/x.car"))
	if err != nil {
		t.Fatal(err)
	}
	if code == http.StatusOK && string(body) == "null" {
		t.Fatal("the function ran")
	}
	// The emulator writes that the runtime exited after its reply: wait
	// for every line (at most WaitTimeout), then say which ones are
	// missing.
	wants := []string{`"msg":"init failed"`, envIngestPrefix + " is set but empty", envIndexWriter + `=\"bogus\": want all`, "Runtime exited with error: exit status 1"}
	out, _ := r.emu.WaitOutput(testutil.WaitContext(t), wants...)
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
