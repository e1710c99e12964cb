package s3

import (
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
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
