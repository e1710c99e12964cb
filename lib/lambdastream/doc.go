// Package lambdastream serves an http.Handler behind a Lambda Function URL
// whose invoke mode is RESPONSE_STREAM.
//
// New turns the handler into a function for aws-lambda-go's lambda.Start:
//
//	lambda.Start(lambdastream.New(handler, lambdastream.WithLogger(logger)))
//
// The binary must be built with -tags lambda.norpc (or run on a provided
// runtime) for aws-lambda-go to stream the response.
//
// # Request
//
// NewRequest converts the Function URL event itself (it does not go through
// aws-lambda-go-api-proxy, which has no Function URL type and whose
// accessor would need the event converted first). The request looks like one
// from net/http's server: method, RequestURI and URL from rawPath and
// rawQueryString (both kept percent-encoded as Function URLs send them),
// canonical header keys with values as sent (Function URLs join repeated
// headers with commas; they are not split again), the cookies array as one
// Cookie header, the body base64-decoded when isBase64Encoded, ContentLength
// set, Host from requestContext.domainName and RemoteAddr
// "sourceIp:0" (Function URLs give no client port). The event and its request
// id are in the request's context: see Event and RequestID; the Lambda
// invocation's own metadata stays available through lambdacontext.FromContext.
//
// # Response
//
// The handler runs in its own goroutine. Its status and headers are captured
// at the first Write, WriteHeader with a final status, Flush, or its return,
// and the Lambda function returns at that moment, so the runtime sends the
// prelude at once; the body then flows through an io.Pipe while the handler
// writes. Writes are buffered (DefaultBufferSize, see WithBufferSize); Flush
// pushes what is buffered. Multi-value headers are joined with ", ",
// Set-Cookie headers become the response's cookies, and a Content-Type is
// sniffed from the first Write when the handler set none and did not call
// WriteHeader before (a nil Content-Type value suppresses it, as in
// net/http). 1xx statuses are dropped; trailers are not supported. A handler that returns without
// writing sends 200 with an empty body; HEAD responses and 204/304 carry no
// body.
//
// # Failures
//
// A response must never look complete when it is not. Once the prelude is
// sent, the body is ended with an error (the pipe is closed with
// CloseWithError), which aws-lambda-go reports as the error trailers
// Lambda-Runtime-Function-Error-Type and -Body, and the client sees the
// response cut short, when:
//
//   - the handler calls Abort(w, err) (or the writer's Abort method, see
//     Aborter): the body ends with an *AbortError wrapping err;
//   - the handler panics with http.ErrAbortHandler (the net/http way): an
//     *AbortError wrapping http.ErrAbortHandler;
//   - the handler panics with anything else: a *PanicError, logged with its
//     stack;
//   - the body would exceed the cap (WithMaxBytes): ErrBodyTooLarge;
//   - the handler returns having written less than its Content-Length:
//     ErrShortBody;
//   - the request's context ended before the handler returned (the
//     invocation's deadline is near, the runtime closing the body, an
//     abort): the context's cause.
//
// Before the prelude is sent, the same failures make the Lambda function
// return the error instead, which the Function URL answers with 502.
//
// The request's context ends DefaultDeadlineMargin before the invocation's
// deadline (WithDeadlineMargin), with the cause ErrDeadline: a response
// still streaming then ends through the same error trailers, and its
// handler sees the failure and can log it, instead of the invocation being
// stopped mid-write by its timeout, which the Lambda docs do not describe.
//
// Error trailers are the only way the runtime API offers to end a stream
// as failed ("Building a custom runtime for AWS Lambda", Implementing
// response streaming in a custom runtime), and that page says Lambda
// "treats this as a successful response and forwards the error metadata"
// to the client; what a Function URL's HTTP client (CloudFront) then sees
// is not documented. So a cut response behind CloudFront may still be
// cached: the stack invalidates the path of every response its handler
// logs as aborted (see package heal).
//
// The request's context is cancelled when the handler returns, when it
// aborts, when the Lambda context ends or its deadline is near, and when the
// runtime closes the body (the client went away): writes then fail and the
// handler should stop.
// The response body's Close, which aws-lambda-go calls before the next
// invocation, returns once the handler has returned, so no handler outlives
// its invocation: handlers must stop when their context ends.
package lambdastream
