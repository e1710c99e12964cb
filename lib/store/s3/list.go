package s3

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
