package lambdastream

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type eventKey struct{}

// Event returns the Function URL event a request made by New or NewRequest
// came from.
func Event(ctx context.Context) (*events.LambdaFunctionURLRequest, bool) {
	ev, ok := ctx.Value(eventKey{}).(*events.LambdaFunctionURLRequest)
	return ev, ok
}

// RequestID returns the request id of the Function URL request being served
// (requestContext.requestId, which the client sees as x-amzn-RequestId),
// falling back to the Lambda invocation's AwsRequestID, or "" if ctx holds
// neither.
func RequestID(ctx context.Context) string {
	if ev, ok := Event(ctx); ok && ev.RequestContext.RequestID != "" {
		return ev.RequestContext.RequestID
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// NewRequest converts a Function URL event into a server-side *http.Request
// whose context is ctx carrying the event (see Event and RequestID). The
// package documentation lists how each field is filled. It fails on a path
// that is not a valid request URI or on a body that is not valid base64.
func NewRequest(ctx context.Context, ev *events.LambdaFunctionURLRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	uri := ev.RawPath
	if uri == "" {
		uri = "/"
	}
	if ev.RawQueryString != "" {
		uri += "?" + ev.RawQueryString
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, fmt.Errorf("lambdastream: request uri: %w", err)
	}

	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		body, err = base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("lambdastream: base64 body: %w", err)
		}
	}

	proto := ev.RequestContext.HTTP.Protocol
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}

	header := make(http.Header, len(ev.Headers)+1)
	for k, v := range ev.Headers {
		header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if len(ev.Cookies) > 0 {
		header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	host := ev.RequestContext.DomainName
	if host == "" {
		host = header.Get("Host")
	}
	header.Del("Host")

	req := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        header,
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          host,
		RequestURI:    uri,
	}
	if len(body) > 0 {
		req.Body = readCloser{bytes.NewReader(body)}
	}
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		req.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	return req.WithContext(context.WithValue(ctx, eventKey{}, ev)), nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
