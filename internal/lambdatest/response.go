package lambdatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// HTTPContentType is the content type of a Function URL streaming response
// as the runtime client posts it.
const HTTPContentType = "application/vnd.awslambda.http-integration-response"

// HTTPResponse is a decoded Function URL streaming response.
type HTTPResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Cookies    []string          `json:"cookies"`
	Body       []byte            `json:"-"`
}

var preludeEnd = make([]byte, 8)

// DecodeHTTPResponse splits b, a JSON prelude, eight NUL bytes and the body,
// into an HTTPResponse. The prelude's JSON cannot hold a NUL byte, so the
// first eight NUL bytes end it.
func DecodeHTTPResponse(b []byte) (*HTTPResponse, error) {
	i := bytes.Index(b, preludeEnd)
	if i < 0 {
		return nil, errors.New("lambdatest: no prelude delimiter in response")
	}
	var r HTTPResponse
	if err := json.Unmarshal(b[:i], &r); err != nil {
		return nil, fmt.Errorf("lambdatest: prelude %q: %w", b[:i], err)
	}
	r.Body = b[i+len(preludeEnd):]
	return &r, nil
}

// FunctionURLEvent returns a minimal Function URL event (payload version
// 2.0) as JSON for method, rawPath and rawQueryString, from source IP
// 127.0.0.1, with request id "lambdatest-request".
func FunctionURLEvent(method, rawPath, rawQuery string) []byte {
	ev := map[string]any{
		"version":        "2.0",
		"rawPath":        rawPath,
		"rawQueryString": rawQuery,
		"headers": map[string]string{
			"host":       "lambdatest.lambda-url.us-east-1.on.aws",
			"user-agent": "lambdatest",
		},
		"requestContext": map[string]any{
			"accountId":  "123456789012",
			"requestId":  "lambdatest-request",
			"apiId":      "lambdatest",
			"domainName": "lambdatest.lambda-url.us-east-1.on.aws",
			"http": map[string]string{
				"method":    method,
				"path":      rawPath,
				"protocol":  "HTTP/1.1",
				"sourceIp":  "127.0.0.1",
				"userAgent": "lambdatest",
			},
		},
		"isBase64Encoded": false,
	}
	b, _ := json.Marshal(ev) // maps of strings always marshal
	return b
}
