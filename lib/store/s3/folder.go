package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MaxFolderFiles bounds the files a Folder lists: a folder of lists is
// small, and a prefix holding more is a mistake to report, not a walk to
// run at every check.
const MaxFolderFiles = 1000

// Folder is the objects under a prefix of a bucket whose names end in a
// suffix, as a flat folder of files: the denylist's lists (package
// denylist reads it as a denylist.Folder). Names are keys without the
// prefix; keys below a further "/" are not files of the folder.
type Folder struct {
	client *s3.Client
	bucket string
	prefix string
	suffix string
}

// NewFolder returns the folder of bucket under prefix (ending in "/", or
// empty for the whole bucket) holding the files whose names end in suffix.
func NewFolder(client *s3.Client, bucket, prefix, suffix string) *Folder {
	return &Folder{client: client, bucket: bucket, prefix: prefix, suffix: suffix}
}

// String returns the folder's s3:// URL.
func (f *Folder) String() string { return "s3://" + f.bucket + "/" + f.prefix }

// List returns the ETag of every file, by name.
func (f *Folder) List(ctx context.Context) (map[string]string, error) {
	files := make(map[string]string)
	p := s3.NewListObjectsV2Paginator(f.client, &s3.ListObjectsV2Input{Bucket: aws.String(f.bucket), Prefix: aws.String(f.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap(err, "list %s", f)
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), f.prefix)
			if strings.Contains(name, "/") || !strings.HasSuffix(name, f.suffix) {
				continue
			}
			if len(files) == MaxFolderFiles {
				return nil, fmt.Errorf("s3: %s holds more than %d %s files", f, MaxFolderFiles, f.suffix)
			}
			files[name] = aws.ToString(o.ETag)
		}
	}
	return files, nil
}

// Open returns the body of the file name (the caller closes it). A
// missing file is an error wrapping store.ErrNotFound.
func (f *Folder) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	out, err := f.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(f.prefix + name)}, withoutResponseChecksums)
	if err != nil {
		return nil, wrap(err, "get %s%s", f, name)
	}
	return out.Body, nil
}

// Read returns the bytes of the file name, at most max, and its ETag, for
// a later conditional Write. A missing file is an error wrapping
// store.ErrNotFound.
func (f *Folder) Read(ctx context.Context, name string, max int64) ([]byte, string, error) {
	out, err := f.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(f.prefix + name)}, withoutResponseChecksums)
	if err != nil {
		return nil, "", wrap(err, "get %s%s", f, name)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, "", wrap(err, "read %s%s", f, name)
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("s3: %s%s is larger than %d bytes", f, name, max)
	}
	return data, aws.ToString(out.ETag), nil
}

// Write stores data as the file name on a condition: that its ETag is
// still etag, or, with etag "", that it does not exist. Another writer's
// change in between fails it with an error wrapping ErrChanged and
// stores nothing, so two writers never lose each other's change. It
// returns the new ETag.
func (f *Folder) Write(ctx context.Context, name string, data []byte, etag string) (string, error) {
	in := &s3.PutObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(f.prefix + name), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("text/plain; charset=utf-8")}
	if etag == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	out, err := f.client.PutObject(ctx, in)
	if hasStatus(err, 412) || hasStatus(err, 409) {
		return "", fmt.Errorf("s3: put %s%s: %w: written by someone else since it was read: %w", f, name, ErrChanged, err)
	}
	if err != nil {
		return "", wrap(err, "put %s%s", f, name)
	}
	return aws.ToString(out.ETag), nil
}
