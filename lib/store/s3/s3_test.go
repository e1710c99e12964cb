package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/store/storetest"
)

var server *s3test.Server

func TestMain(m *testing.M) { s3test.Main(m, &server) }

func TestIndexStore(t *testing.T) {
	for _, prefix := range []string{"", "idx/"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			storetest.RunIndexStore(t, func(t *testing.T, maxFile int64) store.IndexStore {
				return s3.NewIndexStore(server.Client(), server.NewBucket(t), s3.WithPrefix(prefix), s3.WithMaxIndexFileBytes(maxFile))
			})
		})
	}
}

func TestPackStore(t *testing.T) {
	for _, tc := range []struct {
		prefix, ext string
	}{
		{"", ".car"},
		{"packs/", ""},
	} {
		t.Run(fmt.Sprintf("prefix=%s,ext=%s", tc.prefix, tc.ext), func(t *testing.T) {
			storetest.RunPackStore(t, func(t *testing.T) (store.PackStore, storetest.WritePath) {
				client, bucket := server.Client(), server.NewBucket(t)
				s := s3.NewPackStore(client, bucket, s3.WithPrefix(tc.prefix), s3.WithExtension(tc.ext))
				return s, func(t *testing.T, path string, data []byte) {
					putObject(t, client, bucket, tc.prefix+path+tc.ext, data)
				}
			})
		})
	}
}

func putObject(t *testing.T, client *awss3.Client, bucket, key string, data []byte) {
	t.Helper()
	_, err := client.PutObject(context.Background(), &awss3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLayout(t *testing.T) {
	ctx := context.Background()
	client, bucket := server.Client(), server.NewBucket(t)
	mh, sub := storetest.RandomMultihash(t), storetest.RandomMultihash(t)
	k, ks := store.Key(mh), store.Key(sub)
	pack := []byte("a pack")
	pmh := storetest.Sum(t, pack)
	kp := store.Key(pmh)

	for _, prefix := range []string{"", "p/"} {
		idx := s3.NewIndexStore(client, bucket, s3.WithPrefix(prefix))
		if err := idx.Put(ctx, mh, sub, []byte("sub")); err != nil {
			t.Fatal(err)
		}
		if err := idx.Put(ctx, mh, nil, []byte("ts")); err != nil {
			t.Fatal(err)
		}
		packs := s3.NewPackStore(client, bucket, s3.WithPrefix(prefix))
		if err := packs.Put(ctx, pmh, bytes.NewReader(pack), int64(len(pack))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s3.NewPackStore(client, bucket, s3.WithPrefix("q-"), s3.WithExtension("")).
		Put(ctx, pmh, bytes.NewReader(pack), int64(len(pack))); err != nil {
		t.Fatal(err)
	}
	keys := server.Keys(t, bucket, "")
	ts := regexp.MustCompile(`^(p/)?` + k + `/` + k + `/\d{13}$`)
	var rest []string
	for _, key := range keys {
		if !ts.MatchString(key) {
			rest = append(rest, key)
		}
	}
	want := []string{
		k + "/" + k + "/" + ks + "/" + ks,
		kp + "/" + kp + ".car",
		"p/" + k + "/" + k + "/" + ks + "/" + ks,
		"p/" + kp + "/" + kp + ".car",
		"q-" + kp + "/" + kp,
	}
	slices.Sort(want)
	if len(keys)-len(rest) != 2 || !slices.Equal(rest, want) {
		t.Fatalf("keys:\n%s\nwant 2 timestamp keys and:\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
	}

	// Files names each file by its object key.
	files, err := s3.NewIndexStore(client, bucket, s3.WithPrefix("p/")).Files(ctx, mh)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[1].Name != "p/"+k+"/"+k+"/"+ks+"/"+ks || !ts.MatchString(files[0].Name) {
		t.Fatalf("files %v", files)
	}
}

func TestPrefixesAreSeparate(t *testing.T) {
	ctx := context.Background()
	client, bucket := server.Client(), server.NewBucket(t)
	a := s3.NewIndexStore(client, bucket, s3.WithPrefix("a/"))
	b := s3.NewIndexStore(client, bucket, s3.WithPrefix("b/"))
	none := s3.NewIndexStore(client, bucket)
	mh := storetest.RandomMultihash(t)
	if err := a.Put(ctx, mh, nil, []byte("in a")); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*s3.IndexStore{"b": b, "none": none} {
		if _, err := s.Files(ctx, mh); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: got %v, want ErrNotFound", name, err)
		}
	}
	data := []byte("pack")
	pa := s3.NewPackStore(client, bucket, s3.WithPrefix("a/"))
	if err := pa.Put(ctx, storetest.Sum(t, data), bytes.NewReader(data), 4); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.NewPackStore(client, bucket).GetRange(ctx, store.Location{Multihash: storetest.Sum(t, data)}, 0, -1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pack without prefix: got %v, want ErrNotFound", err)
	}
}

// TestListingPagination puts more index files under one key than one
// ListObjectsV2 page holds (1000), from several writers at once, so many
// want the same millisecond.
func TestListingPagination(t *testing.T) {
	ctx := context.Background()
	idx := s3.NewIndexStore(server.Client(), server.NewBucket(t))
	mh := storetest.RandomMultihash(t)
	const n, workers = 1100, 16
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				if err := idx.Put(ctx, mh, nil, []byte(strconv.FormatInt(i, 10))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	put := time.Since(start)
	start = time.Now()
	files, err := idx.Files(ctx, mh)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("put %d index files in %v, read them back in %v", n, put, time.Since(start))
	if len(files) != n {
		t.Fatalf("got %d files, want %d", len(files), n)
	}
	seen := make(map[string]bool)
	for _, f := range files {
		seen[string(f.Data)] = true
	}
	if len(seen) != n {
		t.Fatalf("got %d distinct files, want %d: some were overwritten", len(seen), n)
	}
	if put+time.Since(start) > 2*time.Minute {
		t.Errorf("too slow")
	}
}

func TestTimestampCollision(t *testing.T) {
	for _, conditional := range []bool{true, false} {
		t.Run(fmt.Sprintf("conditional=%v", conditional), func(t *testing.T) {
			ctx := context.Background()
			idx := s3.NewIndexStore(server.Client(), server.NewBucket(t), s3.WithConditionalWrites(conditional))
			now := time.UnixMilli(1700000000000)
			s3.SetNow(idx, func() time.Time { return now })
			mh := storetest.RandomMultihash(t)
			for i := range 5 {
				if err := idx.Put(ctx, mh, nil, []byte{byte('0' + i)}); err != nil {
					t.Fatal(err)
				}
			}
			files, err := idx.Files(ctx, mh)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				got = append(got, f.Name[strings.LastIndex(f.Name, "/")+1:]+"="+string(f.Data))
			}
			want := []string{"1700000000000=0", "1700000000001=1", "1700000000002=2", "1700000000003=3", "1700000000004=4"}
			if !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestWrongCredentials(t *testing.T) {
	ctx := context.Background()
	bucket := server.NewBucket(t)
	data := []byte("pack")
	mh := storetest.Sum(t, data)
	if err := s3.NewPackStore(server.Client(), bucket).Put(ctx, mh, bytes.NewReader(data), 4); err != nil {
		t.Fatal(err)
	}
	if err := s3.NewIndexStore(server.Client(), bucket).Put(ctx, mh, nil, data); err != nil {
		t.Fatal(err)
	}
	for name, client := range map[string]*awss3.Client{
		"wrong secret": server.ClientWithKeys(server.AccessKey, "wrong-secret"),
		"unknown key":  server.ClientWithKeys("no-such-user", "wrong-secret"),
	} {
		t.Run(name, func(t *testing.T) {
			check := func(op string, err error) {
				t.Helper()
				if err == nil || errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s: got %v, want an error that is not ErrNotFound", op, err)
				}
				t.Logf("%s: %v", op, err)
			}
			packs := s3.NewPackStore(client, bucket)
			_, err := packs.GetRange(ctx, store.Location{Multihash: mh}, 0, -1)
			check("get", err)
			_, err = packs.GetRange(ctx, store.Location{Multihash: mh}, 0, 0)
			check("get empty", err)
			check("put pack", packs.Put(ctx, storetest.RandomMultihash(t), bytes.NewReader(data), 4))
			idx := s3.NewIndexStore(client, bucket)
			_, err = idx.Files(ctx, mh)
			check("files", err)
			check("put index", idx.Put(ctx, mh, nil, data))
		})
	}
}

func TestMissingBucket(t *testing.T) {
	server.Require(t)
	ctx := context.Background()
	client := server.Client()
	_, err := s3.NewPackStore(client, "no-such-bucket-here").GetRange(ctx, store.Location{Multihash: storetest.RandomMultihash(t)}, 0, 10)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("pack: got %v, want an error that is not ErrNotFound", err)
	}
	_, err = s3.NewIndexStore(client, "no-such-bucket-here").Files(ctx, storetest.RandomMultihash(t))
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("index: got %v, want an error that is not ErrNotFound", err)
	}
}

// countingTransport counts the response body bytes of every request.
type countingTransport struct {
	base     http.RoundTripper
	requests atomic.Int64
	read     atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	c.requests.Add(1)
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.read}
	return resp, nil
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestRangedGetReadsOnlyTheRange checks that a range of a large pack moves
// only that range over the wire.
func TestRangedGetReadsOnlyTheRange(t *testing.T) {
	ctx := context.Background()
	bucket := server.NewBucket(t)
	data := storetest.RandomBytes(8 << 20)
	mh := storetest.Sum(t, data)
	if err := s3.NewPackStore(server.Client(), bucket).Put(ctx, mh, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	counter := &countingTransport{base: http.DefaultTransport}
	packs := s3.NewPackStore(server.Client(func(o *awss3.Options) {
		o.HTTPClient = &http.Client{Transport: counter}
	}), bucket)
	for _, r := range [][2]int64{{5 << 20, 1000}, {0, 1}, {len64(data) - 10, -1}, {len64(data) - 10, 100}} {
		before := counter.read.Load()
		rc, err := packs.GetRange(ctx, store.Location{Multihash: mh}, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		end := len64(data)
		if r[1] >= 0 {
			end = min(end, r[0]+r[1])
		}
		if !bytes.Equal(got, data[r[0]:end]) {
			t.Fatalf("range %v: wrong bytes", r)
		}
		if moved := counter.read.Load() - before; moved != end-r[0] {
			t.Errorf("range %v: %d bytes over the wire, want %d", r, moved, end-r[0])
		}
	}
	if got := counter.requests.Load(); got != 4 {
		t.Errorf("%d requests, want 4", got)
	}
}

func len64(b []byte) int64 { return int64(len(b)) }

// patternReader yields left bytes of a pattern without holding them: the
// byte at offset i is patternByte(i).
type patternReader struct{ off, left int64 }

func patternByte(i int64) byte { return byte(i % 251) }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.left))
	for i := range n {
		b[i] = patternByte(p.off + int64(i))
	}
	p.off += int64(n)
	p.left -= int64(n)
	return n, nil
}

// TestPutStreamsLargePack uploads a 64 MiB pack from a reader that cannot
// seek, and from a file, and checks that the process allocated far less
// than the pack.
func TestPutStreamsLargePack(t *testing.T) {
	ctx := context.Background()
	bucket := server.NewBucket(t)
	packs := s3.NewPackStore(server.Client(), bucket)
	const size = 64 << 20

	file, err := os.CreateTemp(t.TempDir(), "pack")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := io.Copy(file, &patternReader{left: size}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		r    func() io.Reader
	}{
		{"stream", func() io.Reader { return &patternReader{left: size} }},
		{"file", func() io.Reader { _, _ = file.Seek(0, io.SeekStart); return file }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mh := storetest.RandomMultihash(t)
			r := tc.r()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			if err := packs.Put(ctx, mh, r, size); err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("put %d MiB in %v, allocated %.1f MiB", size>>20, elapsed, float64(alloc)/(1<<20))
			if alloc > size/4 {
				t.Errorf("allocated %d bytes for a %d byte pack", alloc, size)
			}
			rc, err := packs.GetRange(ctx, store.Location{Multihash: mh}, size-100, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			tail, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, 100)
			_, _ = (&patternReader{off: size - 100, left: 100}).Read(want)
			if !bytes.Equal(tail, want) {
				t.Fatalf("tail differs: %x", tail)
			}
		})
	}
}

// TestMultipartStream streams a pack in several parts, and checks that a
// failed stream leaves neither an object nor an open upload behind.
func TestMultipartStream(t *testing.T) {
	ctx := context.Background()
	client, bucket := server.Client(), server.NewBucket(t)
	packs := s3.NewPackStore(client, bucket, s3.WithPartSize(s3.MinPartSize))
	data := storetest.RandomBytes(2*s3.MinPartSize + 12345)
	mh := storetest.Sum(t, data)
	if err := packs.Put(ctx, mh, io.MultiReader(bytes.NewReader(data)), len64(data)); err != nil {
		t.Fatal(err)
	}
	rc, err := packs.GetRange(ctx, store.Location{Multihash: mh}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want the %d put", len(got), len(data))
	}

	// Fail in the second part, and with one byte too many at the very end.
	boom := errors.New("boom")
	for name, r := range map[string]io.Reader{
		"failed read": io.MultiReader(bytes.NewReader(data[:s3.MinPartSize+100]), iotest.ErrReader(boom)),
		"too long":    io.MultiReader(bytes.NewReader(data), bytes.NewReader([]byte{1})),
	} {
		other := storetest.RandomMultihash(t)
		if err := packs.Put(ctx, other, r, len64(data)); err == nil {
			t.Errorf("%s: put succeeded", name)
		}
		if _, err := packs.GetRange(ctx, store.Location{Multihash: other}, 0, -1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: got %v, want ErrNotFound", name, err)
		}
	}
	uploads, err := client.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads.Uploads) != 0 {
		t.Errorf("%d multipart uploads left open", len(uploads.Uploads))
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want s3.Config
		err  bool
	}{
		{env: map[string]string{}, want: s3.Config{}},
		{env: map[string]string{"AWS_ENDPOINT": "http://c"}, want: s3.Config{Endpoint: "http://c"}},
		{env: map[string]string{"AWS_ENDPOINT": "http://c", "AWS_ENDPOINT_URL": "http://b"}, want: s3.Config{Endpoint: "http://b"}},
		{env: map[string]string{"AWS_ENDPOINT": "http://c", "AWS_ENDPOINT_URL": "http://b", "AWS_ENDPOINT_URL_S3": "http://a"}, want: s3.Config{Endpoint: "http://a"}},
		{env: map[string]string{"HASH_STREAM_S3_FORCE_PATH_STYLE": "false"}, want: s3.Config{PathStyle: aws.Bool(false)}},
		{env: map[string]string{"HASH_STREAM_S3_FORCE_PATH_STYLE": "true"}, want: s3.Config{PathStyle: aws.Bool(true)}},
		{env: map[string]string{"HASH_STREAM_S3_FORCE_PATH_STYLE": "maybe"}, err: true},
		{env: map[string]string{"HASH_STREAM_S3_CONNECT_TIMEOUT": "1s", "HASH_STREAM_S3_HEADER_TIMEOUT": "800ms", "HASH_STREAM_S3_BODY_TIMEOUT": "1m"},
			want: s3.Config{ConnectTimeout: time.Second, HeaderTimeout: 800 * time.Millisecond, BodyTimeout: time.Minute}},
		{env: map[string]string{"HASH_STREAM_S3_HEADER_TIMEOUT": "5"}, err: true},
		{env: map[string]string{"HASH_STREAM_S3_BODY_TIMEOUT": "0s"}, err: true},
		{env: map[string]string{"HASH_STREAM_S3_CONNECT_TIMEOUT": "-1s"}, err: true},
	} {
		for _, name := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT", "HASH_STREAM_S3_FORCE_PATH_STYLE",
			s3.EnvConnectTimeout, s3.EnvHeaderTimeout, s3.EnvBodyTimeout} {
			t.Setenv(name, tc.env[name])
		}
		got, err := s3.ConfigFromEnv()
		if (err != nil) != tc.err {
			t.Errorf("%v: error %v", tc.env, err)
			continue
		}
		if err != nil {
			continue
		}
		if got.Endpoint != tc.want.Endpoint || (got.PathStyle == nil) != (tc.want.PathStyle == nil) ||
			(got.PathStyle != nil && *got.PathStyle != *tc.want.PathStyle) ||
			got.ConnectTimeout != tc.want.ConnectTimeout || got.HeaderTimeout != tc.want.HeaderTimeout || got.BodyTimeout != tc.want.BodyTimeout {
			t.Errorf("%v: got %+v, want %+v", tc.env, got, tc.want)
		}
	}
}

// TestNewClient builds a client the way the programs do, from the
// environment, and uses it against the server.
func TestNewClient(t *testing.T) {
	bucket := server.NewBucket(t)
	ctx := context.Background()
	for _, kv := range server.Env() {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("HASH_STREAM_S3_FORCE_PATH_STYLE", "")
	cfg, err := s3.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != server.Endpoint {
		t.Fatalf("endpoint %q, want %q", cfg.Endpoint, server.Endpoint)
	}
	client, err := s3.NewClient(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := client.Options()
	if !o.UsePathStyle || o.Region != s3.DefaultRegion ||
		o.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired ||
		o.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired {
		t.Errorf("options: path style %v, region %q, checksums %v/%v", o.UsePathStyle, o.Region, o.RequestChecksumCalculation, o.ResponseChecksumValidation)
	}
	data := []byte("through NewClient")
	mh := storetest.Sum(t, data)
	packs := s3.NewPackStore(client, bucket)
	if err := packs.Put(ctx, mh, bytes.NewReader(data), len64(data)); err != nil {
		t.Fatal(err)
	}
	rc, err := packs.GetRange(ctx, store.Location{Multihash: mh}, 8, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); string(got) != "NewClient" {
		t.Fatalf("got %q", got)
	}

	// Path-style can be turned off; an explicit region wins.
	client, err = s3.NewClient(ctx, s3.Config{Endpoint: server.Endpoint, Region: "eu-west-1", PathStyle: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if o := client.Options(); o.UsePathStyle || o.Region != "eu-west-1" {
		t.Errorf("path style %v, region %q", o.UsePathStyle, o.Region)
	}
}

// refusingTransport answers every GET of a key ending in suffix with 403
// Access Denied, as S3 does for an object the role may not read.
type refusingTransport struct {
	base   http.RoundTripper
	suffix string
}

func (r *refusingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, r.suffix) {
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
		return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: req}, nil
	}
	return r.base.RoundTrip(req)
}

// An object over the size cap is refused from the listing, without a GET,
// and one that cannot be read is returned with its error: neither hides
// the good file beside it.
func TestIndexFilesBadObjects(t *testing.T) {
	ctx := context.Background()
	bucket := server.NewBucket(t)
	mh := storetest.RandomMultihash(t)
	big, small, denied := storetest.RandomMultihash(t), storetest.RandomMultihash(t), storetest.RandomMultihash(t)
	writer := s3.NewIndexStore(server.Client(), bucket)
	for sub, size := range map[string]int{store.Key(big): 4096, store.Key(small): 10, store.Key(denied): 10} {
		mhSub, _ := store.ParseKey(sub)
		if err := writer.Put(ctx, mh, mhSub, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	counter := &countingTransport{base: &refusingTransport{base: http.DefaultTransport, suffix: store.Key(denied)}}
	idx := s3.NewIndexStore(server.Client(func(o *awss3.Options) {
		o.HTTPClient = &http.Client{Transport: counter}
	}), bucket, s3.WithMaxIndexFileBytes(100))
	files, err := idx.Files(ctx, mh)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("got %d files, want 3", len(files))
	}
	for _, f := range files {
		switch {
		case strings.HasSuffix(f.Name, store.Key(big)):
			if !errors.Is(f.Err, store.ErrTooLarge) || !strings.Contains(f.Err.Error(), "4096 bytes") || !strings.Contains(f.Err.Error(), f.Name) {
				t.Errorf("big file: err %v, want ErrTooLarge naming %s and 4096 bytes", f.Err, f.Name)
			}
		case strings.HasSuffix(f.Name, store.Key(small)):
			if f.Err != nil || len(f.Data) != 10 {
				t.Errorf("small file: %d bytes, err %v", len(f.Data), f.Err)
			}
		case strings.HasSuffix(f.Name, store.Key(denied)):
			if f.Err == nil || f.Data != nil || errors.Is(f.Err, store.ErrNotFound) {
				t.Errorf("denied file: %d bytes, err %v; want an error", len(f.Data), f.Err)
			}
		}
	}
	// The listing, the small file and the denied one: the big one is never asked for.
	if got := counter.requests.Load(); got != 3 {
		t.Errorf("%d requests, want 3 (LIST, 2 GETs)", got)
	}
	if got := counter.read.Load(); got >= 4096 {
		t.Errorf("%d bytes read: the file over the cap was fetched", got)
	}
}
