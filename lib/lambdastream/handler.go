package lambdastream

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Handler is the function New returns: the streaming Function URL handler
// form that lambda.Start accepts.
type Handler = func(ctx context.Context, ev *events.LambdaFunctionURLRequest) (*events.LambdaFunctionURLStreamingResponse, error)

// New returns a Lambda handler that serves each Function URL event with h
// and streams its response (see the package documentation). It returns as
// soon as h has committed its status and headers; the response body then
// streams while h writes, and ends with an error if h fails.
func New(h http.Handler, opts ...Option) Handler {
	o := applyOptions(opts)
	return func(ctx context.Context, ev *events.LambdaFunctionURLRequest) (*events.LambdaFunctionURLStreamingResponse, error) {
		return serve(ctx, h, ev, &o)
	}
}

func serve(ctx context.Context, h http.Handler, ev *events.LambdaFunctionURLRequest, o *options) (*events.LambdaFunctionURLStreamingResponse, error) {
	ctx, stop := withMargin(ctx, o.deadlineMargin)
	ctx, cancelCause := context.WithCancelCause(ctx)
	cancel := func(err error) { cancelCause(err); stop() }
	req, err := NewRequest(ctx, ev)
	if err != nil {
		cancel(err)
		return badRequest(err), nil
	}
	pr, pw := io.Pipe()
	w := newResponseWriter(req, pw, cancel, o)
	done := make(chan struct{})
	go w.run(h, done)

	out := <-w.out
	if out.err != nil {
		<-done // the handler has returned: a failure before the head is only reported at its return
		return nil, out.err
	}
	return &events.LambdaFunctionURLStreamingResponse{
		StatusCode: out.head.status,
		Headers:    out.head.headers,
		Cookies:    out.head.cookies,
		Body:       &body{pr: pr, cancel: cancel, done: done},
	}, nil
}

// withMargin returns ctx ending margin before its deadline, with the cause
// ErrDeadline, and the func that releases its timer; ctx itself when it has
// no deadline, or no more than margin left.
func withMargin(ctx context.Context, margin time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || margin <= 0 || time.Until(deadline) <= margin {
		return ctx, func() {}
	}
	return context.WithDeadlineCause(ctx, deadline.Add(-margin), ErrDeadline)
}

// body is the response body given to the runtime. Its Close, called by
// aws-lambda-go once the response is sent (or failed), stops a handler
// still writing and waits for it to return.
type body struct {
	pr     *io.PipeReader
	cancel context.CancelCauseFunc
	done   <-chan struct{}
}

func (b *body) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *body) Close() error {
	_ = b.pr.CloseWithError(ErrBodyClosed) // always nil
	b.cancel(ErrBodyClosed)
	<-b.done
	return nil
}

// maxErrorText bounds the error text a 400 repeats: a URL parse error
// quotes the whole request URI.
const maxErrorText = 512

func badRequest(err error) *events.LambdaFunctionURLStreamingResponse {
	msg := err.Error()
	if len(msg) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return &events.LambdaFunctionURLStreamingResponse{
		StatusCode: http.StatusBadRequest,
		Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
		Body:       strings.NewReader("400 Bad Request: " + msg + "\n"),
	}
}
