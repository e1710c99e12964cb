package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/multiformats/go-multihash"
	"golang.org/x/sync/errgroup"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// MaxCopyObjectBytes is the largest object one CopyObject copies (5 GiB);
// a larger one is copied in parts with UploadPartCopy.
const MaxCopyObjectBytes = 5 << 30

// DefaultCopyPartSize is the part size of a multipart copy: 512 MiB keeps
// the largest S3 object (5 TiB) within 10,000 parts, and each part is one
// server-side UploadPartCopy.
const DefaultCopyPartSize = 512 << 20

// CopyConcurrency is how many parts of a multipart copy are copied at once.
// The bytes never pass through this process; it only waits on S3.
const CopyConcurrency = 8

// WithMultipartCopyAbove sets the size above which a server-side copy
// (PackStore.CopyFrom, Objects.Copy) is a multipart copy rather than one
// CopyObject (default, and at most, MaxCopyObjectBytes; 0 or less means
// the default). Tests lower it to exercise the multipart path.
func WithMultipartCopyAbove(n int64) Option {
	return func(o *options) { o.copyAbove = n }
}

// WithCopyPartSize sets the part size of a multipart copy (default
// DefaultCopyPartSize, at least MinPartSize, raised when an object would
// need more than 10,000 parts).
func WithCopyPartSize(n int64) Option {
	return func(o *options) { o.copyPartSize = n }
}

// copyAboveOrDefault returns the multipart copy threshold of o.
func (o options) copyAboveOrDefault() int64 {
	if o.copyAbove <= 0 || o.copyAbove > MaxCopyObjectBytes {
		return MaxCopyObjectBytes
	}
	return o.copyAbove
}

// CopyFrom stores the object srcKey of srcBucket, of size bytes, as the
// pack mh by a server-side copy: its bytes never pass through this
// process. The caller has read the object and checked that its bytes hash
// to mh; etag is the ETag that read saw, and the copy is conditional on it
// (x-amz-copy-source-if-match), so an object replaced since is never
// stored under the wrong multihash: that fails with an error wrapping
// ErrChanged and stores nothing (a source removed since, with an error
// wrapping store.ErrNotFound, whether the store answers it with 404 or
// 412).
//
// An object over the multipart threshold (see WithMultipartCopyAbove,
// MaxCopyObjectBytes at most, as S3 requires) is copied in parts with
// UploadPartCopy, each on the same condition, CopyConcurrency at a time;
// the upload is completed only when every part was copied and aborted
// otherwise, so the pack appears whole or not at all.
func (s *PackStore) CopyFrom(ctx context.Context, srcBucket, srcKey, etag string, size int64, mh multihash.Multihash) error {
	key, err := s.objectKey(store.Location{Multihash: mh})
	if err != nil {
		return err
	}
	return copyObject(ctx, s.client, s.opts, srcBucket, srcKey, etag, size, s.bucket, key)
}

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

// copySource returns the x-amz-copy-source of an object: bucket/key with
// the key URL-encoded, every byte but the unreserved characters of RFC 3986
// and "/" escaped ("+" too: a server may read it as a space).
func copySource(bucket, key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString(bucket)
	b.WriteByte('/')
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// copyObject copies srcBucket/srcKey (size bytes, ETag etag) to
// dstBucket/dstKey server-side, conditional on etag: one CopyObject up to
// the multipart threshold, a multipart copy above it.
func copyObject(ctx context.Context, client *s3.Client, o options, srcBucket, srcKey, etag string, size int64, dstBucket, dstKey string) error {
	dst := "s3://" + dstBucket + "/" + dstKey
	src := copySource(srcBucket, srcKey)
	if etag == "" {
		return fmt.Errorf("s3: copy %s to %s: no ETag to copy on", src, dst)
	}
	if size < 0 {
		return fmt.Errorf("s3: copy %s to %s: negative size %d", src, dst, size)
	}
	if size <= o.copyAboveOrDefault() {
		_, err := client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket:            aws.String(dstBucket),
			Key:               aws.String(dstKey),
			CopySource:        aws.String(src),
			CopySourceIfMatch: aws.String(etag),
		})
		if err != nil {
			return copyError(ctx, client, err, srcBucket, srcKey, etag, "copy "+src+" to "+dst)
		}
		return nil
	}
	return copyMultipart(ctx, client, o, srcBucket, srcKey, etag, size, dstBucket, dstKey)
}

// copyError wraps the error of a copy of srcBucket/srcKey conditional on
// etag, what names it: a failed If-Match (412, told apart by a HeadObject
// of the source) is ErrChanged, or store.ErrNotFound when the source is
// missing, as S3's 404 for it is; a 409 (a conditional request on the key
// in flight) is ErrChanged.
func copyError(ctx context.Context, client *s3.Client, err error, srcBucket, srcKey, etag, what string) error {
	switch {
	case isPreconditionFailed(err):
		return explainPrecondition(ctx, client, srcBucket, srcKey, "", etag, what, err)
	case isTaken(err):
		return fmt.Errorf("s3: %s: %w: it is being changed: %w", what, ErrChanged, err)
	}
	return wrap(err, "%s", what)
}

// copyMultipart copies src to dst in parts with UploadPartCopy and
// completes the upload only when every part was copied; on any failure it
// aborts it.
func copyMultipart(ctx context.Context, client *s3.Client, o options, srcBucket, srcKey, etag string, size int64, dstBucket, dstKey string) error {
	src, dst := copySource(srcBucket, srcKey), "s3://"+dstBucket+"/"+dstKey
	return multipart(ctx, client, dstBucket, dstKey, "copy "+src+" to "+dst, func(uploadID *string) ([]types.CompletedPart, error) {
		partSize := max(o.copyPartSize, MinPartSize, (size+maxParts-1)/maxParts)
		n := int((size + partSize - 1) / partSize)
		parts := make([]types.CompletedPart, n)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(CopyConcurrency)
		for i := range n {
			start := int64(i) * partSize
			end := min(start+partSize, size) // exclusive
			g.Go(func() error {
				out, err := client.UploadPartCopy(gctx, &s3.UploadPartCopyInput{
					Bucket:            aws.String(dstBucket),
					Key:               aws.String(dstKey),
					UploadId:          uploadID,
					PartNumber:        aws.Int32(int32(i + 1)),
					CopySource:        aws.String(src),
					CopySourceIfMatch: aws.String(etag),
					CopySourceRange:   aws.String(byteRange(start, end-start)),
				})
				if err != nil {
					return copyError(gctx, client, err, srcBucket, srcKey, etag, fmt.Sprintf("copy %s to %s part %d", src, dst, i+1))
				}
				if out.CopyPartResult == nil || out.CopyPartResult.ETag == nil {
					return fmt.Errorf("s3: copy %s to %s: part %d: no ETag in the answer", src, dst, i+1)
				}
				parts[i] = types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(int32(i + 1))}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		return parts, nil
	})
}
