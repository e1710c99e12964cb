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

var (
	_ store.IndexStore  = (*IndexStore)(nil)
	_ store.IndexLister = (*IndexStore)(nil)
)

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
// WithConditionalWrites, WithMaxIndexFileBytes.
func NewIndexStore(client *s3.Client, bucket string, opts ...Option) *IndexStore {
	return &IndexStore{client: client, bucket: bucket, opts: newOptions(opts), now: time.Now}
}

// folder returns the key prefix of the files of mh, ending in "/".
func (s *IndexStore) folder(mh multihash.Multihash) string {
	key := store.Key(mh)
	return s.opts.Prefix + key + "/" + key + "/"
}

// Files lists every object under the folder of mh, all pages of it, and
// reads them, a few at a time. Files are named by their object keys and
// ordered by them. An object deleted between the listing and its read is
// left out. An object over the size cap (as the listing says) is not read;
// it and any object that cannot be read are returned with their Err set.
func (s *IndexStore) Files(ctx context.Context, mh multihash.Multihash) ([]store.IndexFile, error) {
	folder := s.folder(mh)
	type object struct {
		key  string
		size int64
	}
	var objects []object
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
				objects = append(objects, object{key, aws.ToInt64(obj.Size)})
			}
		}
	}
	if len(objects) == 0 {
		return nil, fmt.Errorf("s3: index %s: %w", s.url(folder), store.ErrNotFound)
	}
	slices.SortFunc(objects, func(a, b object) int { return strings.Compare(a.key, b.key) })

	files := make([]store.IndexFile, len(objects))
	var g errgroup.Group
	g.SetLimit(filesConcurrency)
	for i, obj := range objects {
		files[i].Name = obj.key
		if obj.size > s.opts.MaxIndexFileBytes {
			files[i].Err = fmt.Errorf("s3: index file %s: %w", s.url(obj.key), store.TooLarge(obj.size, s.opts.MaxIndexFileBytes))
			continue
		}
		g.Go(func() error {
			data, err := s.get(ctx, obj.key)
			if errors.Is(err, store.ErrNotFound) {
				files[i].Name = "" // deleted since the listing
			}
			files[i].Data, files[i].Err = data, err
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: index %s: %w", s.url(folder), err)
	}
	files = slices.DeleteFunc(files, func(f store.IndexFile) bool { return f.Name == "" })
	if len(files) == 0 {
		return nil, fmt.Errorf("s3: index %s: %w", s.url(folder), store.ErrNotFound)
	}
	return files, nil
}

// get reads one whole object, of at most the size cap: an object replaced
// by a larger one since the listing is refused as it is read.
func (s *IndexStore) get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	}, withoutResponseChecksums)
	if err != nil {
		return nil, wrap(err, "get %s", s.url(key))
	}
	defer out.Body.Close()
	if size := aws.ToInt64(out.ContentLength); size > s.opts.MaxIndexFileBytes {
		return nil, fmt.Errorf("s3: index file %s: %w", s.url(key), store.TooLarge(size, s.opts.MaxIndexFileBytes))
	}
	var buf bytes.Buffer
	buf.Grow(int(max(aws.ToInt64(out.ContentLength), 0)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(out.Body, s.opts.MaxIndexFileBytes+1)); err != nil {
		return nil, wrap(err, "get %s", s.url(key))
	}
	if int64(buf.Len()) > s.opts.MaxIndexFileBytes {
		return nil, fmt.Errorf("s3: index file %s: %w", s.url(key), store.TooLarge(int64(buf.Len()), s.opts.MaxIndexFileBytes))
	}
	return buf.Bytes(), nil
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

// objectName returns the end of the object key of the index file name in
// its folder: the name itself for a timestamp, k(sub)/k(sub) for a k(sub).
func objectName(name string) (string, error) {
	sub, err := store.ParseIndexName(name)
	if err != nil {
		return "", fmt.Errorf("s3: %w", err)
	}
	if sub != nil {
		return name + "/" + name, nil
	}
	return name, nil
}

// List implements store.IndexLister: every object
// <prefix>k(mh)/k(mh)/<timestamp> and <prefix>k(mh)/k(mh)/k(sub)/k(sub),
// listed in key order, every page. Any other key under the prefix is listed
// as an unexpected key.
func (s *IndexStore) List(ctx context.Context, fn func(store.IndexEntry) error) error {
	return listObjects(ctx, s.client, s.bucket, s.opts.Prefix, func(rest string, size int64) error {
		key := s.opts.Prefix + rest
		mh, name, ok := parseIndexKey(rest)
		if !ok {
			return fn(store.IndexEntry{Key: s.url(key), Err: fmt.Errorf("s3: %s: not k(mh)/k(mh)/<timestamp> or k(mh)/k(mh)/k(sub)/k(sub): %w", s.url(key), store.ErrUnexpectedKey)})
		}
		return fn(store.IndexEntry{Multihash: mh, Name: name, Size: size, Key: s.url(key)})
	})
}

// parseIndexKey parses the key of an index object after the prefix.
func parseIndexKey(rest string) (multihash.Multihash, string, bool) {
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || len(parts) > 4 || parts[0] != parts[1] {
		return nil, "", false
	}
	mh, ok := store.ParseCanonicalKey(parts[0])
	if !ok {
		return nil, "", false
	}
	sub, err := store.ParseIndexName(parts[2])
	switch {
	case err != nil:
		return nil, "", false
	case len(parts) == 3 && sub == nil:
		return mh, parts[2], true
	case len(parts) == 4 && sub != nil && parts[3] == parts[2]:
		return mh, parts[2], true
	}
	return nil, "", false
}

// Get implements store.IndexLister: the object of the index file name of
// mh, read under the size cap.
func (s *IndexStore) Get(ctx context.Context, mh multihash.Multihash, name string) ([]byte, error) {
	obj, err := objectName(name)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, s.folder(mh)+obj)
}

// PutNamed implements store.IndexLister. A timestamp name is written with
// If-None-Match: * (or, without conditional writes, after a HeadObject
// that finds it free), so it never replaces an object.
func (s *IndexStore) PutNamed(ctx context.Context, mh multihash.Multihash, name string, data []byte) error {
	obj, err := objectName(name)
	if err != nil {
		return err
	}
	key := s.folder(mh) + obj
	ts := obj == name
	if ts && !s.opts.conditional {
		taken, err := s.exists(ctx, key)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("s3: put %s: %w", s.url(key), store.ErrExist)
		}
	}
	err = s.put(ctx, key, data, ts && s.opts.conditional)
	if ts && err != nil && isTaken(err) {
		return fmt.Errorf("s3: put %s: %w: %w", s.url(key), store.ErrExist, err)
	}
	if err != nil {
		return wrap(err, "put %s", s.url(key))
	}
	return nil
}
