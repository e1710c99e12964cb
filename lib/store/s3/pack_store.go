package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

var (
	_ store.PackStore  = (*PackStore)(nil)
	_ store.PackLister = (*PackStore)(nil)
)

const (
	// maxParts is the most parts S3 takes in one multipart upload.
	maxParts = 10000
	// abortTimeout bounds the abort of a failed multipart upload.
	abortTimeout = 30 * time.Second
)

// PackStore is a pack store in an S3 bucket: a pack is the object
// <prefix>k(mh)/k(mh)<ext>, and a path location names the object
// <prefix><path><ext>.
type PackStore struct {
	client *s3.Client
	bucket string
	opts   options
}

// Client returns the S3 client the store reads through, for other objects
// of the same deployment (the denylist's folder) to share it.
func (s *PackStore) Client() *s3.Client { return s.client }

// NewPackStore returns a pack store in bucket. Options: WithPrefix,
// WithExtension, WithPartSize.
func NewPackStore(client *s3.Client, bucket string, opts ...Option) *PackStore {
	return &PackStore{client: client, bucket: bucket, opts: newOptions(opts)}
}

// objectKey returns the key of the object at loc.
func (s *PackStore) objectKey(loc store.Location) (string, error) {
	if loc.Multihash != nil {
		key := store.Key(loc.Multihash)
		return s.opts.Prefix + key + "/" + key + s.opts.Extension, nil
	}
	if err := store.CheckPath(loc.Path); err != nil {
		return "", fmt.Errorf("s3: %w", err)
	}
	return s.opts.Prefix + loc.Path + s.opts.Extension, nil
}

// Put uploads exactly size bytes from r as the pack mh, streaming: it
// never holds the pack in memory, and the pack appears whole or not at all.
//
// When r can seek and read at an offset (an *os.File, a *bytes.Reader), Put
// sends one PutObject whose signature covers the payload's SHA-256 (one extra
// pass over r), so S3 rejects a body cut short, and the SDK may retry.
//
// Any other reader is sent as it is read, as a multipart upload of parts of
// the part size (see WithPartSize), each part unsigned (UNSIGNED-PAYLOAD:
// its integrity is left to TLS, or to TCP on a local plain-HTTP server) and
// not retried. The upload is completed only when every part went up whole,
// and aborted otherwise: a server that keeps a PUT body cut short (versitygw
// does) still never shows a partial pack.
//
// A reader that yields more or fewer than size bytes, or fails, fails Put
// with nothing stored; a mismatch wraps store.ErrSizeMismatch.
func (s *PackStore) Put(ctx context.Context, mh multihash.Multihash, r io.Reader, size int64) error {
	key, err := s.objectKey(store.Location{Multihash: mh})
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("s3: put %s: negative size %d: %w", s.url(key), size, store.ErrSizeMismatch)
	}
	body, seekable, err := seekableBody(r, size)
	if err != nil {
		return fmt.Errorf("s3: put %s: %w", s.url(key), err)
	}
	if !seekable && size == 0 {
		if _, err := io.Copy(io.Discard, store.ExactReader(r, 0)); err != nil {
			return fmt.Errorf("s3: put %s: %w", s.url(key), err)
		}
		body, seekable = bytes.NewReader(nil), true
	}
	if !seekable {
		return s.putMultipart(ctx, key, store.ExactReader(r, size), size)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          body,
		ContentLength: aws.Int64(size),
	})
	if err != nil {
		return wrap(err, "put %s", s.url(key))
	}
	return nil
}

// putMultipart uploads size bytes from r as key in parts, and completes the
// upload only when all went up; on any failure it aborts it.
func (s *PackStore) putMultipart(ctx context.Context, key string, r io.Reader, size int64) error {
	partSize := s.partSize(size)
	return multipart(ctx, s.client, s.bucket, key, "put "+s.url(key), func(uploadID *string) ([]types.CompletedPart, error) {
		var parts []types.CompletedPart
		for n, off := int32(1), int64(0); off < size; n++ {
			length := min(partSize, size-off)
			out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket:        aws.String(s.bucket),
				Key:           aws.String(key),
				UploadId:      uploadID,
				PartNumber:    aws.Int32(n),
				ContentLength: aws.Int64(length),
				Body:          streamOnly{io.LimitReader(r, length)},
			}, streaming)
			if err != nil {
				return nil, wrap(err, "put %s: part %d", s.url(key), n)
			}
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
			off += length
		}
		return parts, nil
	})
}

// multipart runs one multipart upload of bucket/key: upload sends the
// parts of the upload uploadID and returns them in order. The upload is
// completed when upload succeeds, and aborted on any failure (even when
// ctx is what ended it), so the object appears whole or not at all. what
// names the operation in errors.
func multipart(ctx context.Context, client *s3.Client, bucket, key, what string, upload func(uploadID *string) ([]types.CompletedPart, error)) (err error) {
	created, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return wrap(err, "%s: create multipart upload", what)
	}
	uploadID := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		// Abort even when ctx is what ended the upload.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if _, aerr := client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket:   aws.String(bucket),
			Key:      aws.String(key),
			UploadId: uploadID,
		}); aerr != nil {
			err = errors.Join(err, wrap(aerr, "%s: abort multipart upload", what))
		}
	}()
	parts, err := upload(uploadID)
	if err != nil {
		return err
	}
	_, err = client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(bucket),
		Key:             aws.String(key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return wrap(err, "%s: complete multipart upload", what)
	}
	return nil
}

// partSize returns the size of the parts of a multipart upload of size
// bytes: the configured part size, raised if need be to stay within
// maxParts parts.
func (s *PackStore) partSize(size int64) int64 {
	return max(s.opts.partSize, (size+maxParts-1)/maxParts)
}

// seekableBody returns r as a body the SDK can rewind, of exactly size
// bytes from r's current position, when r is an io.ReadSeeker and an
// io.ReaderAt. It fails when such an r does not hold size bytes more.
func seekableBody(r io.Reader, size int64) (io.ReadSeeker, bool, error) {
	rs, ok := r.(io.ReadSeeker)
	ra, ok2 := r.(io.ReaderAt)
	if !ok || !ok2 {
		return nil, false, nil
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, false, nil // a pipe or a terminal: stream it
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = rs.Seek(start, io.SeekStart)
	}
	if err != nil {
		return nil, false, err
	}
	if end-start != size {
		return nil, false, fmt.Errorf("reader holds %d bytes, not %d: %w", end-start, size, store.ErrSizeMismatch)
	}
	return io.NewSectionReader(ra, start, size), true, nil
}

// streamOnly hides every method of a reader but Read, so the SDK does not
// try to seek it.
type streamOnly struct{ r io.Reader }

func (s streamOnly) Read(p []byte) (int, error) { return s.r.Read(p) }

// streaming sets up a request whose body cannot be rewound: no payload
// hash and no flexible checksum (both would read the body first), no retry.
func streaming(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	o.RetryMaxAttempts = 1
}

// withoutResponseChecksums turns off response checksum validation, which
// ranged GETs cannot do and would only log warnings about.
func withoutResponseChecksums(o *s3.Options) {
	o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
}

// GetRange returns the body of a GetObject of the pack at loc with
// Range: bytes=offset-(offset+length-1), or bytes=offset- when length is
// negative (no Range header at all for a whole pack). A range that starts at
// or past the end of the pack gives an empty reader, as S3 answers it with
// 416. NoSuchKey is an error wrapping store.ErrNotFound.
//
// A body that fails part-way (a reset connection, a body that ends before
// its Content-Length, a *BodyTimeoutError) is resumed: GetRange asks for
// the bytes not yet received, with If-Match and the version of the first
// response so that a replaced object is never stitched on (that ends the
// read with an error wrapping ErrChanged), up to the resume count of
// WithResumes. It does not resume when ctx has ended.
func (s *PackStore) GetRange(ctx context.Context, loc store.Location, offset, length int64) (io.ReadCloser, error) {
	key, err := s.objectKey(loc)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("s3: get %s: negative offset %d", s.url(key), offset)
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	switch {
	case length == 0:
		// Nothing to read, but a missing pack must still be an error:
		// ask for one byte and drop it.
		in.Range = aws.String(byteRange(offset, 1))
	case offset > 0 || length > 0:
		in.Range = aws.String(byteRange(offset, length))
	}
	out, err := s.client.GetObject(ctx, in, withoutResponseChecksums)
	if err != nil {
		if isInvalidRange(err) {
			return io.NopCloser(eofReader{}), nil
		}
		return nil, wrap(err, "get %s", s.url(key))
	}
	if length == 0 {
		_ = out.Body.Close()
		return io.NopCloser(eofReader{}), nil
	}
	if in.Range != nil && out.ContentRange == nil {
		_ = out.Body.Close()
		return nil, fmt.Errorf("s3: get %s: the server ignored Range: %s", s.url(key), *in.Range)
	}
	end := int64(-1) // unknown: the body's EOF ends the read
	if n := out.ContentLength; n != nil && *n >= 0 {
		end = offset + *n
	}
	if length > 0 {
		if end < 0 {
			// No Content-Length: an EOF before offset+length is the end
			// of the pack, not a failure to resume from.
			return readCloser{Reader: io.LimitReader(out.Body, length), Closer: out.Body}, nil
		}
		// The server sends at most length bytes; make sure of it.
		end = min(end, offset+length)
	}
	if end < 0 {
		return out.Body, nil
	}
	body := readCloser{Reader: io.LimitReader(out.Body, end-offset), Closer: out.Body}
	if s.opts.resumes == 0 {
		return body, nil
	}
	etag, version := aws.ToString(out.ETag), aws.ToString(out.VersionId)
	return &resumer{
		ctx:   ctx,
		name:  s.url(key),
		body:  body,
		pos:   offset,
		start: offset,
		end:   end,
		max:   s.opts.resumes,
		open: func(ctx context.Context, start, end int64) (io.ReadCloser, error) {
			return s.resumeAt(ctx, key, etag, version, start, end)
		},
	}, nil
}

// resumeAt returns the bytes [start, end) of the object key, if it still
// has the ETag etag and the version version (either may be empty: not
// checked): else an error wrapping ErrChanged, or store.ErrNotFound when
// the object is gone (a 412 is told apart by explainPrecondition).
func (s *PackStore) resumeAt(ctx context.Context, key, etag, version string, start, end int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
		Range:  aws.String(byteRange(start, end-start)),
	}
	if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := s.client.GetObject(ctx, in, withoutResponseChecksums)
	if err != nil {
		if etag != "" && isPreconditionFailed(err) {
			return nil, explainPrecondition(ctx, s.client, s.bucket, key, version, etag, "get "+s.url(key)+" "+*in.Range, err)
		}
		return nil, wrap(err, "get %s %s", s.url(key), *in.Range)
	}
	if got := aws.ToString(out.ETag); etag != "" && got != "" && got != etag {
		_ = out.Body.Close()
		return nil, fmt.Errorf("s3: get %s: %w: ETag %s, then %s", s.url(key), ErrChanged, etag, got)
	}
	want := "bytes " + strconv.FormatInt(start, 10) + "-"
	if cr := aws.ToString(out.ContentRange); !strings.HasPrefix(cr, want) {
		_ = out.Body.Close()
		return nil, fmt.Errorf("s3: get %s: asked for %s, got Content-Range %q", s.url(key), *in.Range, cr)
	}
	return readCloser{Reader: io.LimitReader(out.Body, end-start), Closer: out.Body}, nil
}

// byteRange returns the value of a Range header.
func byteRange(offset, length int64) string {
	if length < 0 {
		return "bytes=" + strconv.FormatInt(offset, 10) + "-"
	}
	return "bytes=" + strconv.FormatInt(offset, 10) + "-" + strconv.FormatInt(offset+length-1, 10)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type readCloser struct {
	io.Reader
	io.Closer
}

// url names an object for errors and logs: s3://bucket/key.
func (s *PackStore) url(key string) string {
	return "s3://" + s.bucket + "/" + key
}

// List implements store.PackLister: every object <prefix>k(mh)/k(mh)<ext>,
// in key order, every page, with its size. Any other key under the prefix
// (a path-located pack, a stray object) is listed as an unexpected key.
func (s *PackStore) List(ctx context.Context, fn func(store.PackEntry) error) error {
	return listObjects(ctx, s.client, s.bucket, s.opts.Prefix, func(rest string, size int64) error {
		key := s.opts.Prefix + rest
		dir, file, ok := strings.Cut(rest, "/")
		var mh multihash.Multihash
		if ok && file == dir+s.opts.Extension {
			mh, ok = store.ParseCanonicalKey(dir)
		} else {
			ok = false
		}
		if !ok {
			return fn(store.PackEntry{Key: s.url(key), Err: fmt.Errorf("s3: %s: not k(mh)/k(mh)%s: %w", s.url(key), s.opts.Extension, store.ErrUnexpectedKey)})
		}
		return fn(store.PackEntry{Multihash: mh, Size: size, Key: s.url(key)})
	})
}

// Stat implements store.PackLister, with HeadObject: the size of the pack
// mh, or an error wrapping store.ErrNotFound when there is none. The
// indexer asks it to skip storing a pack that is stored already.
func (s *PackStore) Stat(ctx context.Context, mh multihash.Multihash) (int64, error) {
	key, err := s.objectKey(store.Location{Multihash: mh})
	if err != nil {
		return 0, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return 0, wrap(err, "head %s", s.url(key))
	}
	return aws.ToInt64(out.ContentLength), nil
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
