package s3

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

var (
	_ store.IndexLister = (*IndexStore)(nil)
	_ store.PackLister  = (*PackStore)(nil)
)

// listObjects calls fn with the key (without prefix) and size of every
// object under prefix in bucket, every page of the listing, leaving out
// keys that end in "/" (the folder markers some tools make).
func listObjects(ctx context.Context, client *s3.Client, bucket, prefix string, fn func(rest string, size int64) error) error {
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return wrap(err, "list s3://%s/%s", bucket, prefix)
		}
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			rest, ok := strings.CutPrefix(key, prefix)
			if !ok || strings.HasSuffix(key, "/") {
				continue
			}
			if err := fn(rest, aws.ToInt64(obj.Size)); err != nil {
				return err
			}
		}
	}
	return nil
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
	return listObjects(ctx, s.client, s.bucket, s.opts.prefix, func(rest string, size int64) error {
		key := s.opts.prefix + rest
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

// List implements store.PackLister: every object <prefix>k(mh)/k(mh)<ext>,
// in key order, every page, with its size. Any other key under the prefix
// (a path-located pack, a stray object) is listed as an unexpected key.
func (s *PackStore) List(ctx context.Context, fn func(store.PackEntry) error) error {
	return listObjects(ctx, s.client, s.bucket, s.opts.prefix, func(rest string, size int64) error {
		key := s.opts.prefix + rest
		dir, file, ok := strings.Cut(rest, "/")
		var mh multihash.Multihash
		if ok && file == dir+s.opts.ext {
			mh, ok = store.ParseCanonicalKey(dir)
		} else {
			ok = false
		}
		if !ok {
			return fn(store.PackEntry{Key: s.url(key), Err: fmt.Errorf("s3: %s: not k(mh)/k(mh)%s: %w", s.url(key), s.opts.ext, store.ErrUnexpectedKey)})
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
