// Command function is a streaming Function URL function for the tests of
// package lambdaurl: /fail streams a few bytes then fails, /error fails
// before streaming, anything else echoes the event.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("storage went away") }

func main() {
	lambda.Start(func(ctx context.Context, ev events.LambdaFunctionURLRequest) (*events.LambdaFunctionURLStreamingResponse, error) {
		switch ev.RawPath {
		case "/fail":
			return &events.LambdaFunctionURLStreamingResponse{StatusCode: 200, Body: io.MultiReader(strings.NewReader("partial"), failing{})}, nil
		case "/error":
			return nil, errors.New("boom")
		}
		b, _ := json.Marshal(ev)
		return &events.LambdaFunctionURLStreamingResponse{
			StatusCode: 201,
			Headers:    map[string]string{"Content-Type": "application/json"},
			Cookies:    []string{"a=1"},
			Body:       strings.NewReader(string(b)),
		}, nil
	})
}
