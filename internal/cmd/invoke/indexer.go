package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// runIndexer invokes the indexer bootstrap on an S3 event: it creates an
// index and a pack bucket in a local S3 server, puts there each object the
// event names (the CAR of testdata/cars of the same file name), sends the
// event with the pack bucket's name in it, and lists both buckets after.
func runIndexer(bootstrap, eventPath string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	raw, err := os.ReadFile(eventPath)
	if err != nil {
		return err
	}
	var ev events.S3Event
	if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Records) == 0 {
		return fmt.Errorf("%s: not an S3 event (%v)", eventPath, err)
	}
	var generic map[string]any // to keep the event's own shape when renaming the bucket
	if err := json.Unmarshal(raw, &generic); err != nil {
		return err
	}
	rie, srv, stop, err := startS3()
	if err != nil {
		return err
	}
	defer stop()
	client := srv.Client()
	stamp := time.Now().UnixNano()
	indexBucket, packBucket := fmt.Sprintf("index-%d", stamp), fmt.Sprintf("pack-%d", stamp)
	for _, b := range []string{indexBucket, packBucket} {
		if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	for i, r := range ev.Records {
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return fmt.Errorf("record %d: key %q: %w", i, r.S3.Object.Key, err)
		}
		src := filepath.Join(testutil.RepoRoot(), "testdata", "cars", path.Base(key))
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("record %d: the object %s comes from %s: %w", i, key, src, err)
		}
		if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(packBucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			return err
		}
		generic["Records"].([]any)[i].(map[string]any)["s3"].(map[string]any)["bucket"].(map[string]any)["name"] = packBucket
		fmt.Printf("put %s (%d bytes, from %s) in s3://%s\n", key, len(data), src, packBucket)
	}
	body, err := json.Marshal(generic)
	if err != nil {
		return err
	}

	emu, err := startEmulator(ctx, rie, bootstrap, srv, indexBucket, packBucket)
	if err != nil {
		return err
	}
	defer emu.stop()
	status, out, took, err := emu.post(body, 1<<20)
	if err != nil {
		return err
	}
	fmt.Printf("\n%s in %s -> %d %s\n", eventPath, took.Round(time.Millisecond), status, out)
	for _, b := range []string{packBucket, indexBucket} {
		fmt.Printf("\ns3://%s after:\n", b)
		pages := awss3.NewListObjectsV2Paginator(client, &awss3.ListObjectsV2Input{Bucket: aws.String(b)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, o := range page.Contents {
				fmt.Printf("  %s (%d bytes)\n", aws.ToString(o.Key), aws.ToInt64(o.Size))
			}
		}
	}
	return nil
}
