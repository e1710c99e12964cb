package s3test_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
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

// Keys lists every key under a prefix, past the first page of a listing
// (1,000 keys), in ascending order, and nothing outside the prefix.
func TestKeys(t *testing.T) {
	bucket := server.NewBucket(t)
	client := server.Client()
	const n = 1001
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("many/%04d", i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(want)+2)
	sem := make(chan struct{}, 8)
	for _, k := range append([]string{"m", "other/0"}, want...) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(nil),
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := server.Keys(t, bucket, "many/"); !slices.Equal(got, want) {
		t.Fatalf("Keys(many/): %d keys, first %q, want %d", len(got), got[:min(3, len(got))], n)
	}
	if got := server.Keys(t, bucket, ""); len(got) != n+2 || got[0] != "m" || got[n+1] != "other/0" {
		t.Fatalf("Keys(\"\"): %d keys, want %d from m to other/0", len(got), n+2)
	}
	if got := server.Keys(t, server.NewBucket(t), ""); len(got) != 0 {
		t.Fatalf("empty bucket: %q", got)
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
