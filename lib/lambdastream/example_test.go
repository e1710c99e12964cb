package lambdastream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hash-stream/hash-stream-aws/lib/lambdastream"
)

// ExampleNew serves one Function URL event as aws-lambda-go would; in a
// function's main this is lambda.Start(lambdastream.New(handler)).
func ExampleNew() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello %s (request %s)\n", r.URL.Query().Get("name"), lambdastream.RequestID(r.Context()))
	})
	fn := lambdastream.New(handler)

	resp, err := fn(context.Background(), &events.LambdaFunctionURLRequest{
		RawPath:        "/greet",
		RawQueryString: "name=world",
		RequestContext: events.LambdaFunctionURLRequestContext{
			RequestID: "r-1",
			HTTP:      events.LambdaFunctionURLRequestContextHTTPDescription{Method: "GET"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Headers["Content-Type"])
	fmt.Print(string(body))
	fmt.Println(err)
	// Output:
	// 200 text/plain
	// hello world (request r-1)
	// <nil>
}

// ExampleAbort cuts a response already under way: the body ends with an
// error (error trailers on the wire), not a clean end.
func ExampleAbort() {
	errCorrupt := errors.New("block failed verification")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first block")
		w.(http.Flusher).Flush()
		if !lambdastream.Abort(w, errCorrupt) {
			panic(http.ErrAbortHandler) // not under lambdastream: net/http's way
		}
	})
	resp, err := lambdastream.New(handler)(context.Background(), &events.LambdaFunctionURLRequest{RawPath: "/"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Printf("%q\n", body)
	fmt.Println(err, errors.Is(err, errCorrupt))
	// Output:
	// "first block"
	// lambdastream: response aborted: block failed verification true
}
