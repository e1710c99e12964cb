package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// Objects is plain object access to one bucket, for programs that take
// files dropped there (the indexer function's ingest prefix): read one
// whole, copy it server-side, delete it.
type Objects struct {
	client *s3.Client
	bucket string
	opts   options
}

// NewObjects returns access to the objects of bucket. Options:
// WithMultipartCopyAbove and WithCopyPartSize (the others do not apply).
func NewObjects(client *s3.Client, bucket string, opts ...Option) *Objects {
	return &Objects{client: client, bucket: bucket, opts: newOptions(opts)}
}

// Objects returns plain object access to the bucket of s, on its client
// and with its copy options: the indexer function takes the CARs dropped
// in the pack bucket through it.
func (s *PackStore) Objects() *Objects {
	return &Objects{client: s.client, bucket: s.bucket, opts: s.opts}
}

// Bucket returns the name of the bucket.
func (o *Objects) Bucket() string { return o.bucket }

// Get reads the object key with one GetObject and returns its body (the
// caller closes it), its size and its ETag. A missing object is an error
// wrapping store.ErrNotFound. The body is not resumed when it fails
// part-way: the reader gets the error.
func (o *Objects) Get(ctx context.Context, key string) (body io.ReadCloser, size int64, etag string, err error) {
	out, err := o.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(key)}, withoutResponseChecksums)
	if err != nil {
		return nil, 0, "", wrap(err, "get %s", o.url(key))
	}
	size = aws.ToInt64(out.ContentLength)
	if out.ContentLength == nil || size < 0 {
		_ = out.Body.Close()
		return nil, 0, "", fmt.Errorf("s3: get %s: no Content-Length", o.url(key))
	}
	return out.Body, size, aws.ToString(out.ETag), nil
}

// Copy copies the object src, of size bytes and ETag etag, to dst in the
// same bucket, server-side, on the condition that its ETag is still etag
// (else an error wrapping ErrChanged, or store.ErrNotFound when src is
// gone); in parts above the multipart threshold, as PackStore.CopyFrom.
func (o *Objects) Copy(ctx context.Context, src, etag string, size int64, dst string) error {
	return copyObject(ctx, o.client, o.opts, o.bucket, src, etag, size, o.bucket, dst)
}

// Delete deletes the object key if its ETag is still etag (when etag is
// not empty; S3 honours If-Match on DeleteObject). A missing object is no
// error: it is gone already. A changed one is an error wrapping
// ErrChanged and stays. A 412 answer is told apart by a HeadObject (see
// explainPrecondition): some S3-compatible stores answer If-Match on a
// missing key with 412, not 404.
func (o *Objects) Delete(ctx context.Context, key, etag string) error {
	in := &s3.DeleteObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(key)}
	if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	_, err := o.client.DeleteObject(ctx, in)
	switch {
	case err == nil, isMissingKey(err):
		return nil
	case etag != "" && isPreconditionFailed(err):
		err = explainPrecondition(ctx, o.client, o.bucket, key, "", etag, "delete "+o.url(key), err)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	case isTaken(err): // 409: another conditional request on the key was in flight
		return fmt.Errorf("s3: delete %s: %w: it is being changed: %w", o.url(key), ErrChanged, err)
	}
	return wrap(err, "delete %s", o.url(key))
}

func (o *Objects) url(key string) string { return "s3://" + o.bucket + "/" + key }
