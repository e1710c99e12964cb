package lambdatest_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
)

func TestDecodeHTTPResponse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		status  int
		body    string
		cookies int
		wantErr bool
	}{
		{name: "full", in: `{"statusCode":201,"headers":{"A":"b"},"cookies":["c=1"]}` + "\x00\x00\x00\x00\x00\x00\x00\x00body\x00\x00\x00\x00\x00\x00\x00\x00", status: 201, body: "body\x00\x00\x00\x00\x00\x00\x00\x00", cookies: 1},
		{name: "empty body", in: `{"statusCode":200}` + "\x00\x00\x00\x00\x00\x00\x00\x00", status: 200},
		{name: "no delimiter", in: `{"statusCode":200}body`, wantErr: true},
		{name: "bad prelude", in: "{\x00\x00\x00\x00\x00\x00\x00\x00", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := lambdatest.DecodeHTTPResponse([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode != tt.status || string(r.Body) != tt.body || len(r.Cookies) != tt.cookies {
				t.Fatalf("got %+v", r)
			}
		})
	}
}

// TestRuntime drives the fake Runtime API by hand the way aws-lambda-go
// does: fetch the next event, then post a chunked response whose error
// trailers are set after the body.
func TestRuntime(t *testing.T) {
	rt := lambdatest.NewRuntime(t, lambdatest.WithTimeout(time.Minute), lambdatest.WithFunctionARN("arn:test"))
	base := "http://" + rt.Addr() + "/2018-06-01/runtime/"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	next := func() (string, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"invocation/next", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Get(lambdatest.HeaderRequestID), resp.Header, string(b)
	}
	post := func(url, contentType string, body io.Reader, trailer http.Header) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
		req.Header.Set("Content-Type", contentType)
		req.Trailer = trailer
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("post %s: %s", url, resp.Status)
		}
	}

	// A stream that fails midway.
	inv := rt.Invoke([]byte(`{"n":1}`))
	id, h, ev := next()
	if id != inv.ID || ev != `{"n":1}` || h.Get(lambdatest.HeaderFunctionARN) != "arn:test" || h.Get(lambdatest.HeaderDeadlineMS) == "" {
		t.Fatalf("next: id %q event %q header %v", id, ev, h)
	}
	trailer := http.Header{lambdatest.TrailerErrorType: nil, lambdatest.TrailerErrorBody: nil}
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "prelude\x00\x00\x00\x00\x00\x00\x00\x00part")
		<-inv.FirstByte()
		trailer.Set(lambdatest.TrailerErrorType, "AbortError")
		trailer.Set(lambdatest.TrailerErrorBody, base64.StdEncoding.EncodeToString([]byte(`{"errorType":"AbortError","errorMessage":"cut"}`)))
		_ = pw.Close()
	}()
	post(base+"invocation/"+id+"/response", lambdatest.HTTPContentType, pr, trailer)
	res, err := inv.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var fe *lambdatest.FunctionError
	if err := res.Err(); !errors.As(err, &fe) || fe.Type != "AbortError" || fe.Message != "cut" {
		t.Fatalf("Err() = %v", err)
	}
	if !strings.HasSuffix(string(res.Body), "part") || res.FirstByte.IsZero() || res.ContentType != lambdatest.HTTPContentType {
		t.Fatalf("result %+v", res)
	}

	// An error post.
	inv = rt.Invoke([]byte(`{}`))
	id, _, _ = next()
	post(base+"invocation/"+id+"/error", "application/json", strings.NewReader(`{"errorType":"Boom","errorMessage":"bad"}`), nil)
	res, err = inv.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != lambdatest.PathError || res.Err() == nil || res.Err().Error() != "Boom: bad" {
		t.Fatalf("error result %+v: %v", res, res.Err())
	}

	// An init error.
	post(base+"init/error", "application/json", strings.NewReader(`{"errorType":"Init","errorMessage":"no config"}`), nil)
	if errs := rt.InitErrors(); len(errs) != 1 || errs[0].Err().Error() != "Init: no config" {
		t.Fatalf("init errors %+v", errs)
	}
}

// TestRuntimeStream drives a streamed invocation by hand: the post is
// handed over as it arrives, the function's post returns only after Close,
// and the error trailers come with the end of the body.
func TestRuntimeStream(t *testing.T) {
	rt := lambdatest.NewRuntime(t)
	base := "http://" + rt.Addr() + "/2018-06-01/runtime/"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	inv := rt.InvokeStream("req-1", []byte(`{"n":1}`))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"invocation/next", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if id := resp.Header.Get(lambdatest.HeaderRequestID); id != "req-1" {
		t.Fatalf("request id %q, want req-1", id)
	}

	trailer := http.Header{lambdatest.TrailerErrorType: nil, lambdatest.TrailerErrorBody: nil}
	pr, pw := io.Pipe()
	posted := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"invocation/req-1/response", pr)
		req.Header.Set("Content-Type", lambdatest.HTTPContentType)
		req.Trailer = trailer
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			posted <- 0
			return
		}
		resp.Body.Close()
		posted <- resp.StatusCode
	}()
	go func() {
		_, _ = io.WriteString(pw, "first")
		trailer.Set(lambdatest.TrailerErrorType, "AbortError")
		trailer.Set(lambdatest.TrailerErrorBody, base64.StdEncoding.EncodeToString([]byte(`{"errorType":"AbortError","errorMessage":"cut"}`)))
		_ = pw.Close()
	}()

	var p *lambdatest.Post
	select {
	case p = <-inv.Posted():
	case <-ctx.Done():
		t.Fatal("no post handed over")
	}
	b, err := io.ReadAll(p.Body)
	if err != nil || string(b) != "first" || p.Path != lambdatest.PathResponse {
		t.Fatalf("post %s body %q err %v", p.Path, b, err)
	}
	var fe *lambdatest.FunctionError
	if err := p.Err(); !errors.As(err, &fe) || fe.Type != "AbortError" || fe.Message != "cut" {
		t.Fatalf("Err() = %v", err)
	}
	select {
	case code := <-posted:
		t.Fatalf("the function's post returned (%d) before Close", code)
	case <-time.After(50 * time.Millisecond):
	}
	inv.Close()
	if code := <-posted; code != http.StatusAccepted {
		t.Fatalf("post answered %d", code)
	}
	res, err := inv.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != lambdatest.PathResponse || res.Body != nil || res.FirstByte.IsZero() || res.Err() == nil {
		t.Fatalf("result %+v: %v", res, res.Err())
	}
}
