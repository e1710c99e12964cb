package s3

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// BodyTimeoutError is the error of a read of a response body that got no
// byte for After: the connection stalled. It is a net.Error whose Timeout
// is true, and it matches os.ErrDeadlineExceeded with errors.Is, so the
// gateway answers it with 504 before the first byte of a response.
type BodyTimeoutError struct {
	After time.Duration
}

func (e *BodyTimeoutError) Error() string {
	return fmt.Sprintf("no byte of the response body for %v", e.After)
}

// Timeout reports true: the error is a timeout.
func (e *BodyTimeoutError) Timeout() bool { return true }

// Temporary reports true: another request may well succeed.
func (e *BodyTimeoutError) Temporary() bool { return true }

// Is makes errors.Is(err, os.ErrDeadlineExceeded) true.
func (e *BodyTimeoutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// keepAliveOps are the operations during which S3 sends whitespace now and
// then while it works, possibly for minutes: they get no body timeout.
var keepAliveOps = map[string]bool{
	"CompleteMultipartUpload": true,
	"CopyObject":              true,
	"UploadPartCopy":          true,
}

// bodyTimeout is the deserialize middleware of the body progress timeout.
// It runs once per attempt, innermost, so the request of each attempt gets
// a context of its own; the response body it returns ends that context,
// which makes the HTTP transport close the connection, when a read waits
// longer than d for a byte. A connection-level read deadline would also
// fire while a long upload is still being sent (which is why the SDK
// exempts S3 from its own read timeout); this one counts only the time
// spent blocked reading a response body, so a caller that is slow to read
// is never blamed on S3.
type bodyTimeout struct{ d time.Duration }

func (bodyTimeout) ID() string { return "HashStreamBodyTimeout" }

func (m bodyTimeout) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	if keepAliveOps[awsmiddleware.GetOperationName(ctx)] {
		return next.HandleDeserialize(ctx, in)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	out, md, err := next.HandleDeserialize(ctx, in)
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if err != nil || !ok || resp == nil || resp.Body == nil {
		cancel(nil)
		return out, md, err
	}
	resp.Body = newWatchedBody(resp.Body, m.d, cancel)
	return out, md, err
}

// addBodyTimeout adds the body progress timeout d to a stack.
func addBodyTimeout(d time.Duration) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(bodyTimeout{d: d}, middleware.After)
	}
}

// watchedBody is a response body whose reads fail with a
// *BodyTimeoutError when one waits longer than d for a byte. Only the time
// inside Read counts. Expiry cancels the request's context, which closes
// the connection and so unblocks the read; no goroutine touches the
// caller's buffer after Read returns.
type watchedBody struct {
	body   io.ReadCloser
	d      time.Duration
	cancel context.CancelCauseFunc
	timer  *time.Timer
	err    *BodyTimeoutError
	// expired is set by the timer's goroutine when it fires.
	expired atomic.Bool
}

func newWatchedBody(body io.ReadCloser, d time.Duration, cancel context.CancelCauseFunc) *watchedBody {
	return &watchedBody{body: body, d: d, cancel: cancel, err: &BodyTimeoutError{After: d}}
}

func (b *watchedBody) expire() {
	b.expired.Store(true)
	b.cancel(b.err)
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if b.expired.Load() {
		return 0, b.err
	}
	if b.timer == nil {
		b.timer = time.AfterFunc(b.d, b.expire)
	} else {
		b.timer.Reset(b.d)
	}
	n, err := b.body.Read(p)
	if !b.timer.Stop() && b.expired.Load() {
		// The bytes read, if any, are good; the connection is not.
		return n, b.err
	}
	if err == io.EOF {
		// The connection is back in the pool: release the context.
		b.cancel(nil)
	}
	return n, err
}

func (b *watchedBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.body.Close()
	b.cancel(nil)
	return err
}
