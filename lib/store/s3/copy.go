package s3

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
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
