package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/ingest"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/multiformats/go-multihash"
)

// s3Event returns an S3 event of ObjectCreated:Put records about keys (as
// the event carries them: URL-encoded) in bucketName.
func s3Event(bucketName string, keys ...string) events.S3Event {
	var ev events.S3Event
	for _, k := range keys {
		var r events.S3EventRecord
		r.EventName = "ObjectCreated:Put"
		r.S3.Bucket.Name = bucketName
		r.S3.Object.Key = k
		ev.Records = append(ev.Records, r)
	}
	return ev
}

// untouched is the bucket "packs" and a pack store whose objects must not
// be touched: it counts the calls, which find nothing.
type untouched struct{ calls atomic.Int64 }

func (*untouched) Bucket() string { return "packs" }
func (u *untouched) Get(context.Context, string) (io.ReadCloser, int64, string, error) {
	u.calls.Add(1)
	return nil, 0, "", store.ErrNotFound
}
func (u *untouched) Copy(context.Context, string, string, int64, string) error {
	u.calls.Add(1)
	return store.ErrNotFound
}
func (u *untouched) Delete(context.Context, string, string) error { u.calls.Add(1); return nil }
func (u *untouched) Stat(context.Context, multihash.Multihash) (int64, error) {
	u.calls.Add(1)
	return 0, store.ErrNotFound
}
func (u *untouched) CopyFrom(context.Context, string, string, string, int64, multihash.Multihash) error {
	u.calls.Add(1)
	return store.ErrNotFound
}

// The keys of an event are URL-encoded, "+" for a space: the objects
// handed to the indexer have them decoded.
func TestObjectsDecodesKeys(t *testing.T) {
	objs := objects(context.Background(), slog.New(slog.DiscardHandler), s3Event("packs", "ingest/my+car%2B1.car"))
	if len(objs) != 1 || objs[0] != (ingest.Object{Bucket: "packs", Key: "ingest/my car+1.car"}) {
		t.Fatalf("objects %+v", objs)
	}
}

// Records for another bucket, outside the ingest prefix, of another event
// type or with a bad key are ignored with a warning and touch nothing.
func TestHandlerIgnores(t *testing.T) {
	ctx := context.Background()
	buf := &testutil.Buffer{}
	log := slog.New(slog.NewJSONHandler(buf, nil))
	src := &untouched{}
	x, err := ingest.New(src, src, memory.NewIndexStore(), ingest.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ev := s3Event("packs", "other/a.car", "ingest/%zz", "ingest/")
	ev.Records = append(ev.Records, s3Event("another-bucket", "ingest/a.car").Records...)
	removed := s3Event("packs", "ingest/a.car").Records[0]
	removed.EventName = "ObjectRemoved:Delete"
	ev.Records = append(ev.Records, removed)
	if err := handler(x, log)(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 0 {
		t.Fatalf("an ignored record was processed: %d calls", n)
	}
	if n := strings.Count(buf.String(), `"msg":"event record ignored"`); n != 5 {
		t.Errorf("%d ignored lines, want 5: %s", n, buf)
	}
	if n := strings.Count(buf.String(), `"level":"WARN"`); n != 4 {
		t.Errorf("%d warnings, want 4 (the folder placeholder is Info)", n)
	}
}
