package lambdastream_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hash-stream/hash-stream-aws/lib/lambdastream"
)

// event returns a Function URL event for method and rawPath?rawQuery.
func event(method, rawPath, rawQuery string) *events.LambdaFunctionURLRequest {
	return &events.LambdaFunctionURLRequest{
		Version:        "2.0",
		RawPath:        rawPath,
		RawQueryString: rawQuery,
		Headers:        map[string]string{"host": "abc.lambda-url.us-east-1.on.aws", "user-agent": "test"},
		RequestContext: events.LambdaFunctionURLRequestContext{
			RequestID:  "req-1",
			DomainName: "abc.lambda-url.us-east-1.on.aws",
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method:   method,
				Path:     rawPath,
				Protocol: "HTTP/1.1",
				SourceIP: "203.0.113.7",
			},
		},
	}
}

func TestNewRequest(t *testing.T) {
	tests := []struct {
		name  string
		event func() *events.LambdaFunctionURLRequest
		check func(t *testing.T, r *http.Request)
	}{
		{
			name: "path and query",
			event: func() *events.LambdaFunctionURLRequest {
				return event("GET", "/ipfs/bafy/a%20b", "format=car&dag-scope=entity&x=1&x=2")
			},
			check: func(t *testing.T, r *http.Request) {
				eq(t, "method", r.Method, "GET")
				eq(t, "RequestURI", r.RequestURI, "/ipfs/bafy/a%20b?format=car&dag-scope=entity&x=1&x=2")
				eq(t, "path", r.URL.Path, "/ipfs/bafy/a b")
				eq(t, "escaped path", r.URL.EscapedPath(), "/ipfs/bafy/a%20b")
				eq(t, "raw query", r.URL.RawQuery, "format=car&dag-scope=entity&x=1&x=2")
				eq(t, "dag-scope", r.URL.Query().Get("dag-scope"), "entity")
				eq(t, "x values", len(r.URL.Query()["x"]), 2)
				eq(t, "host", r.Host, "abc.lambda-url.us-east-1.on.aws")
				eq(t, "host header", r.Header.Get("Host"), "")
				eq(t, "remote addr", r.RemoteAddr, "203.0.113.7:0")
				eq(t, "proto", r.Proto, "HTTP/1.1")
				eq(t, "body", readBody(t, r), "")
				eq(t, "content length", r.ContentLength, int64(0))
			},
		},
		{
			name: "encoded slash and reserved characters stay encoded",
			event: func() *events.LambdaFunctionURLRequest {
				return event("GET", "/ipfs/bafy/a%2Fb%3Fc", "q=%26%3D")
			},
			check: func(t *testing.T, r *http.Request) {
				eq(t, "path", r.URL.Path, "/ipfs/bafy/a/b?c")
				eq(t, "escaped path", r.URL.EscapedPath(), "/ipfs/bafy/a%2Fb%3Fc")
				eq(t, "q", r.URL.Query().Get("q"), "&=")
			},
		},
		{
			name:  "empty path",
			event: func() *events.LambdaFunctionURLRequest { return event("GET", "", "") },
			check: func(t *testing.T, r *http.Request) {
				eq(t, "path", r.URL.Path, "/")
				eq(t, "RequestURI", r.RequestURI, "/")
			},
		},
		{
			name: "multi-value headers stay comma-joined, keys canonical",
			event: func() *events.LambdaFunctionURLRequest {
				ev := event("GET", "/", "")
				ev.Headers["accept"] = "application/vnd.ipld.car, application/vnd.ipld.raw;q=0.5"
				ev.Headers["x-forwarded-for"] = "198.51.100.1,203.0.113.7"
				return ev
			},
			check: func(t *testing.T, r *http.Request) {
				eq(t, "accept", r.Header.Values("Accept"), []string{"application/vnd.ipld.car, application/vnd.ipld.raw;q=0.5"})
				eq(t, "xff", r.Header.Get("X-Forwarded-For"), "198.51.100.1,203.0.113.7")
				eq(t, "user agent", r.UserAgent(), "test")
			},
		},
		{
			name: "cookies become one Cookie header",
			event: func() *events.LambdaFunctionURLRequest {
				ev := event("GET", "/", "")
				ev.Cookies = []string{"a=1", "b=two"}
				return ev
			},
			check: func(t *testing.T, r *http.Request) {
				eq(t, "cookie header", r.Header.Get("Cookie"), "a=1; b=two")
				c, err := r.Cookie("b")
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "cookie b", c.Value, "two")
				eq(t, "cookies", len(r.Cookies()), 2)
			},
		},
		{
			name: "base64 body",
			event: func() *events.LambdaFunctionURLRequest {
				ev := event("POST", "/upload", "")
				ev.Body = base64.StdEncoding.EncodeToString([]byte("\x00\x01binary\xff"))
				ev.IsBase64Encoded = true
				return ev
			},
			check: func(t *testing.T, r *http.Request) {
				eq(t, "method", r.Method, "POST")
				eq(t, "content length", r.ContentLength, int64(9))
				eq(t, "body", readBody(t, r), "\x00\x01binary\xff")
			},
		},
		{
			name: "text body",
			event: func() *events.LambdaFunctionURLRequest {
				ev := event("PUT", "/", "")
				ev.Body = `{"a":1}`
				return ev
			},
			check: func(t *testing.T, r *http.Request) {
				eq(t, "content length", r.ContentLength, int64(7))
				eq(t, "body", readBody(t, r), `{"a":1}`)
			},
		},
		{
			name:  "HEAD",
			event: func() *events.LambdaFunctionURLRequest { return event("HEAD", "/ipfs/bafy", "") },
			check: func(t *testing.T, r *http.Request) {
				eq(t, "method", r.Method, "HEAD")
				eq(t, "body", readBody(t, r), "")
			},
		},
		{
			name: "IPv6 source, no domain name, HTTP/2",
			event: func() *events.LambdaFunctionURLRequest {
				ev := event("GET", "/", "")
				ev.RequestContext.DomainName = ""
				ev.RequestContext.HTTP.SourceIP = "2001:db8::1"
				ev.RequestContext.HTTP.Protocol = "HTTP/2.0"
				return ev
			},
			check: func(t *testing.T, r *http.Request) {
				eq(t, "host", r.Host, "abc.lambda-url.us-east-1.on.aws")
				eq(t, "remote addr", r.RemoteAddr, "[2001:db8::1]:0")
				eq(t, "proto major", r.ProtoMajor, 2)
			},
		},
		{
			name: "request id and event in context",
			event: func() *events.LambdaFunctionURLRequest {
				return event("GET", "/", "")
			},
			check: func(t *testing.T, r *http.Request) {
				eq(t, "request id", lambdastream.RequestID(r.Context()), "req-1")
				ev, ok := lambdastream.Event(r.Context())
				eq(t, "event ok", ok, true)
				eq(t, "event source", ev.RequestContext.HTTP.SourceIP, "203.0.113.7")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := lambdastream.NewRequest(context.Background(), tt.event())
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestNewRequestErrors(t *testing.T) {
	badBody := event("POST", "/", "")
	badBody.Body, badBody.IsBase64Encoded = "not base64!", true
	tests := map[string]*events.LambdaFunctionURLRequest{
		"bad base64":   badBody,
		"relative uri": event("GET", "relative", ""),
		"control char": event("GET", "/a\x7fb\n", ""),
	}
	for name, ev := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := lambdastream.NewRequest(context.Background(), ev); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestRequestIDFallsBackToInvocation(t *testing.T) {
	ev := event("GET", "/", "")
	ev.RequestContext.RequestID = ""
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "invoke-9"})
	r, err := lambdastream.NewRequest(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "request id", lambdastream.RequestID(r.Context()), "invoke-9")
	eq(t, "empty", lambdastream.RequestID(context.Background()), "")
}

func readBody(t *testing.T, r *http.Request) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzNewRequest(f *testing.F) {
	f.Add("/ipfs/bafy", "format=car", "", false)
	f.Add("/a%2Fb%20c", "q=%26", "aGVsbG8=", true)
	f.Add("", "", "body", false)
	f.Add("relative", "x", "!!", true)
	f.Fuzz(func(t *testing.T, rawPath, rawQuery, body string, b64 bool) {
		ev := event("POST", rawPath, rawQuery)
		ev.Body, ev.IsBase64Encoded = body, b64
		r, err := lambdastream.NewRequest(context.Background(), ev)
		if err != nil {
			return
		}
		want := rawPath
		if want == "" {
			want = "/"
		}
		if rawQuery != "" {
			want += "?" + rawQuery
		}
		if r.RequestURI != want {
			t.Fatalf("RequestURI %q, want %q", r.RequestURI, want)
		}
		got := readBody(t, r)
		if int64(len(got)) != r.ContentLength {
			t.Fatalf("body %d bytes, ContentLength %d", len(got), r.ContentLength)
		}
		if !b64 && got != body {
			t.Fatalf("body %q, want %q", got, body)
		}
	})
}
