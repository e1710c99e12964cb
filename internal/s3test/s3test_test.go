package s3test_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hash-stream/hash-stream-aws/internal/s3test"
)

var server *s3test.Server

func TestMain(m *testing.M) { s3test.Main(m, &server) }

func TestServer(t *testing.T) {
	bucket := server.NewBucket(t)
	client := server.Client()
	ctx := context.Background()
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("a/b"), Body: bytes.NewReader([]byte("hi")),
	}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	if b, _ := io.ReadAll(out.Body); string(b) != "hi" {
		t.Fatalf("got %q", b)
	}
	// A second bucket is another, empty one.
	other := server.NewBucket(t)
	if other == bucket {
		t.Fatal("same bucket twice")
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(other)})
	if err != nil || len(list.Contents) != 0 {
		t.Fatalf("new bucket: %v, %v", list, err)
	}
}

func TestLoopback(t *testing.T) {
	server.Require(t)
	if os.Getenv(s3test.EnvEndpoint) != "" {
		t.Skip("server given by " + s3test.EnvEndpoint)
	}
	resp, err := http.Get(server.Endpoint + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Hostname() != "127.0.0.1" {
		t.Fatalf("server on %s, want 127.0.0.1", resp.Request.URL.Host)
	}
}
