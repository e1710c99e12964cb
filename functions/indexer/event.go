package main

import (
	"context"
	"log/slog"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/hash-stream/hash-stream-aws/lib/ingest"
)

// objects translates the records of an S3 event to the objects to index:
// ObjectCreated records, their keys decoded (keys in S3 events are
// URL-encoded, with "+" for spaces). A record of another event or with a
// key that does not decode is misrouted or hostile: it is logged (Warn)
// and left out. The bucket and the ingest prefix are the Indexer's to
// check (ingest.Indexer.Handle).
func objects(ctx context.Context, log *slog.Logger, ev events.S3Event) []ingest.Object {
	objs := make([]ingest.Object, 0, len(ev.Records))
	for i, r := range ev.Records {
		key, err := url.QueryUnescape(r.S3.Object.Key)
		var why string
		switch {
		case !strings.HasPrefix(r.EventName, "ObjectCreated:"):
			why = "not an ObjectCreated event"
		case err != nil:
			why = "bad key encoding: " + err.Error()
		default:
			objs = append(objs, ingest.Object{Bucket: r.S3.Bucket.Name, Key: key})
			continue
		}
		ingest.LogIgnored(ctx, log, slog.LevelWarn, why, "record", i, "event", r.EventName,
			"bucket", r.S3.Bucket.Name, "key", r.S3.Object.Key)
	}
	return objs
}
