package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// wrap returns err with context, adding store.ErrNotFound when S3 says the
// key does not exist. A missing bucket or a refused request stays an error
// of its own.
func wrap(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if isMissingKey(err) {
		return fmt.Errorf("s3: %s: %w: %w", msg, store.ErrNotFound, err)
	}
	return fmt.Errorf("s3: %s: %w", msg, err)
}

// isMissingKey reports whether err says that an object does not exist:
// NoSuchKey from GetObject, NotFound from HeadObject.
func isMissingKey(err error) bool {
	var noSuchKey *types.NoSuchKey
	var notFound *types.NotFound
	if errors.As(err, &noSuchKey) || errors.As(err, &notFound) {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchKey"
}

// hasStatus reports whether err is an HTTP response error with the given
// status code.
func hasStatus(err error, code int) bool {
	var respErr *awshttp.ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatusCode() == code
}

// isInvalidRange reports whether err says that a range starts at or past
// the end of an object (HTTP 416).
func isInvalidRange(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "InvalidRange" {
		return true
	}
	return hasStatus(err, http.StatusRequestedRangeNotSatisfiable)
}

// isTaken reports whether err says that a conditional write found the key
// taken: 412 Precondition Failed, or 409 ConditionalRequestConflict when
// another conditional write of the same key was in flight.
func isTaken(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	return hasStatus(err, http.StatusPreconditionFailed)
}

// isPreconditionFailed reports whether err is a 412 Precondition Failed.
func isPreconditionFailed(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "PreconditionFailed" {
		return true
	}
	return hasStatus(err, http.StatusPreconditionFailed)
}

// explainPrecondition tells what failed, the 412 answer to what (a
// request conditional on the object bucket/key, at version when it is not
// empty, still having the ETag etag: If-Match, x-amz-copy-source-if-match),
// means. S3 answers such a request on a missing key with 404, but other
// S3-compatible stores answer 412 (SeaweedFS does), so a 412 alone does not
// say whether the object was replaced or removed: one HeadObject does. The
// error wraps store.ErrNotFound when the object is missing, ErrChanged
// when it has another ETag, and neither when it still has etag (the
// store refused for a reason of its own) or the HeadObject failed too.
func explainPrecondition(ctx context.Context, client *s3.Client, bucket, key, version, etag, what string, failed error) error {
	in := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := client.HeadObject(ctx, in)
	switch {
	case isMissingKey(err):
		return fmt.Errorf("s3: %s: %w: the condition failed on a missing object: %w", what, store.ErrNotFound, failed)
	case err != nil:
		return fmt.Errorf("s3: %s: %w; head to tell why: %w", what, failed, err)
	}
	got := aws.ToString(out.ETag)
	if strings.Trim(got, `"`) == strings.Trim(etag, `"`) {
		return fmt.Errorf("s3: %s: refused, though the object still has the ETag %s: %w", what, etag, failed)
	}
	return fmt.Errorf("s3: %s: %w: its ETag is %s, no longer %s: %w", what, ErrChanged, got, etag, failed)
}
