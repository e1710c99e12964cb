package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/multiformats/go-multihash"
	"golang.org/x/sync/errgroup"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

var _ store.IndexStore = (*IndexStore)(nil)

// maxTimestampTries bounds the search for a free timestamp name.
const maxTimestampTries = 1000

// IndexStore is an index store in an S3 bucket: the files of mh are the
// objects under <prefix>k(mh)/k(mh)/.
type IndexStore struct {
	client *s3.Client
	bucket string
	opts   options
	now    func() time.Time
}

// NewIndexStore returns an index store in bucket. Options: WithPrefix,
// WithConcurrency, WithConditionalWrites.
func NewIndexStore(client *s3.Client, bucket string, opts ...Option) *IndexStore {
	return &IndexStore{client: client, bucket: bucket, opts: newOptions(opts), now: time.Now}
}

// folder returns the key prefix of the files of mh, ending in "/".
func (s *IndexStore) folder(mh multihash.Multihash) string {
	key := store.Key(mh)
	return s.opts.prefix + key + "/" + key + "/"
}

// Files lists every object under the folder of mh, all pages of it, and
// reads them, a few at a time. Files are named by their object keys and
// ordered by them. An object deleted between the listing and its read is
// left out.
func (s *IndexStore) Files(ctx context.Context, mh multihash.Multihash) ([]store.IndexFile, error) {
	folder := s.folder(mh)
	var keys []string
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(folder),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, wrap(err, "list %s", s.url(folder))
		}
		for _, obj := range page.Contents {
			if key := aws.ToString(obj.Key); !strings.HasSuffix(key, "/") {
				keys = append(keys, key)
			}
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("s3: index %s: %w", s.url(folder), store.ErrNotFound)
	}
	slices.Sort(keys)

	files := make([]store.IndexFile, len(keys))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.concurrency)
	for i, key := range keys {
		g.Go(func() error {
			data, err := s.get(ctx, key)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			files[i] = store.IndexFile{Name: key, Data: data}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	files = slices.DeleteFunc(files, func(f store.IndexFile) bool { return f.Name == "" })
	if len(files) == 0 {
		return nil, fmt.Errorf("s3: index %s: %w", s.url(folder), store.ErrNotFound)
	}
	return files, nil
}

// get reads one whole object.
func (s *IndexStore) get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	}, withoutResponseChecksums)
	if err != nil {
		return nil, wrap(err, "get %s", s.url(key))
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, wrap(err, "get %s", s.url(key))
	}
	return data, nil
}

// Put writes data as an object in the folder of mh. With sub the object is
// <folder>k(sub)/k(sub) and replaces one of that key. Without, it is
// <folder><milliseconds>, written with If-None-Match: * and the number
// bumped while the key is taken, so no existing file is ever replaced.
func (s *IndexStore) Put(ctx context.Context, mh, sub multihash.Multihash, data []byte) error {
	folder := s.folder(mh)
	if sub != nil {
		subKey := store.Key(sub)
		key := folder + subKey + "/" + subKey
		if err := s.put(ctx, key, data, false); err != nil {
			return wrap(err, "put %s", s.url(key))
		}
		return nil
	}
	ms := s.now().UnixMilli()
	for range maxTimestampTries {
		key := folder + strconv.FormatInt(ms, 10)
		if !s.opts.conditional {
			taken, err := s.exists(ctx, key)
			if err != nil {
				return err
			}
			if taken {
				ms++
				continue
			}
		}
		err := s.put(ctx, key, data, s.opts.conditional)
		if err == nil {
			return nil
		}
		if !isTaken(err) {
			return wrap(err, "put %s", s.url(key))
		}
		ms++
	}
	return fmt.Errorf("s3: put index %s: no free timestamp name after %d tries", s.url(folder), maxTimestampTries)
}

func (s *IndexStore) put(ctx context.Context, key string, data []byte, ifNoneMatch bool) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if ifNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := s.client.PutObject(ctx, in)
	return err
}

// exists reports whether an object exists, with HeadObject.
func (s *IndexStore) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err == nil {
		return true, nil
	}
	if isMissingKey(err) {
		return false, nil
	}
	return false, wrap(err, "head %s", s.url(key))
}

// url names an object for errors and logs: s3://bucket/key.
func (s *IndexStore) url(key string) string {
	return "s3://" + s.bucket + "/" + key
}
