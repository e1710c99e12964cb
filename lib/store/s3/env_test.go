package s3_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/store/storetest"
)

// ReadEnv names every problem, one a line, and reads the buckets, the
// prefixes and the client's configuration.
func TestReadEnv(t *testing.T) {
	_, err := s3.ReadEnv(func(k string) string {
		return map[string]string{s3.EnvForcePathStyle: "maybe"}[k]
	})
	if err == nil {
		t.Fatal("no error without buckets")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || !strings.Contains(err.Error(), s3.EnvIndexBucket+" is not set") ||
		!strings.Contains(err.Error(), s3.EnvPackBucket+" is not set") || !strings.Contains(err.Error(), s3.EnvForcePathStyle) {
		t.Errorf("error %q, want the two buckets and the path style, one a line", err)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "s3: ") {
			t.Errorf("line %q does not start with s3: ", l)
		}
	}
	vars := map[string]string{s3.EnvIndexBucket: "i", s3.EnvIndexPrefix: "ip/", s3.EnvPackBucket: "p", s3.EnvPackPrefix: "pp/", s3.EnvEndpointS3: "http://127.0.0.1:1"}
	e, err := s3.ReadEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if e.IndexBucket != "i" || e.IndexPrefix != "ip/" || e.PackBucket != "p" || e.PackPrefix != "pp/" || e.Client.Endpoint != "http://127.0.0.1:1" {
		t.Errorf("env %+v", e)
	}
}

// OpenFromEnv opens both stores, each under its own prefix whatever
// WithPrefix the caller passes.
func TestOpenFromEnv(t *testing.T) {
	server.Require(t)
	ctx := context.Background()
	vars := map[string]string{s3.EnvIndexBucket: server.NewBucket(t), s3.EnvIndexPrefix: "idx/", s3.EnvPackBucket: server.NewBucket(t), s3.EnvPackPrefix: "packs/"}
	for _, kv := range server.Env() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
		t.Setenv(k, v) // credentials and region come from the process
	}
	idx, packs, e, err := s3.OpenFromEnv(ctx, func(k string) string { return vars[k] }, s3.WithPrefix("ignored/"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("pack bytes")
	mh := storetest.Sum(t, data)
	if err := packs.Put(ctx, mh, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := idx.Put(ctx, mh, nil, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	for bucket, prefix := range map[string]string{e.IndexBucket: "idx/", e.PackBucket: "packs/"} {
		out, err := server.Client().ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Contents) != 1 || !strings.HasPrefix(aws.ToString(out.Contents[0].Key), prefix) {
			t.Errorf("bucket of prefix %s holds %d objects, want one under the prefix", prefix, len(out.Contents))
		}
	}
	if _, _, _, err := s3.OpenFromEnv(ctx, func(string) string { return "" }); err == nil {
		t.Error("OpenFromEnv with nothing set: no error")
	}
}
