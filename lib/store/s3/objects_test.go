package s3_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// Objects reads, copies and deletes objects of a bucket; Delete of a
// missing object is no error, and of a changed one is ErrChanged.
func TestObjects(t *testing.T) {
	ctx := context.Background()
	client, bucket := server.Client(), server.NewBucket(t)
	o := s3.NewObjects(client, bucket)
	putObject(t, client, bucket, "in/a b", []byte("hello"))
	rc, size, etag, err := o.Get(ctx, "in/a b")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != "hello" || size != 5 || etag == "" {
		t.Fatalf("Get: %q, %d, %q", body, size, etag)
	}
	if _, _, _, err := o.Get(ctx, "in/missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a missing object: %v", err)
	}
	if err := o.Copy(ctx, "in/a b", etag, size, "out/a b"); err != nil {
		t.Fatal(err)
	}
	if err := o.Copy(ctx, "in/a b", `"00000000000000000000000000000000"`, size, "out/c"); !errors.Is(err, s3.ErrChanged) {
		t.Fatalf("Copy on a stale ETag: %v", err)
	}
	if err := o.Delete(ctx, "in/a b", `"00000000000000000000000000000000"`); !errors.Is(err, s3.ErrChanged) {
		t.Fatalf("Delete on a stale ETag: %v", err)
	}
	if err := o.Delete(ctx, "in/a b", etag); err != nil {
		t.Fatal(err)
	}
	if err := o.Delete(ctx, "in/a b", etag); err != nil {
		t.Fatalf("Delete of a missing object: %v", err)
	}
	if keys := server.Keys(t, bucket, ""); len(keys) != 1 || keys[0] != "out/a b" {
		t.Fatalf("keys %q, want [out/a b]", keys)
	}
}
