package lambdastream_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
)

// TestEndToEnd builds testdata/function with -tags lambda.norpc and runs it
// under aws-lambda-go's real runtime client, against the fake Runtime API
// (true streaming, error trailers) and the Runtime Interface Emulator.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	bin := lambdatest.Build(t, "./testdata/function")

	t.Run("runtime", func(t *testing.T) {
		rt := lambdatest.NewRuntime(t)
		rt.Start(t, bin)
		t.Run("streams before the handler finishes", func(t *testing.T) { testStreams(t, rt) })
		t.Run("abort ends with error trailers", func(t *testing.T) {
			res := invokeRuntime(t, rt, lambdatest.FunctionURLEvent("GET", "/abort", ""))
			wantFailure(t, res, "AbortError", "block failed verification", "partial")
		})
		t.Run("panic ErrAbortHandler ends with error trailers", func(t *testing.T) {
			res := invokeRuntime(t, rt, lambdatest.FunctionURLEvent("GET", "/panic", ""))
			wantFailure(t, res, "AbortError", http.ErrAbortHandler.Error(), "partial")
		})
		t.Run("failure before the head is an error post", func(t *testing.T) {
			res := invokeRuntime(t, rt, lambdatest.FunctionURLEvent("GET", "/early", ""))
			if res.Path != lambdatest.PathError {
				t.Fatalf("posted to %s, want %s", res.Path, lambdatest.PathError)
			}
			var fe *lambdatest.FunctionError
			if err := res.Err(); !errors.As(err, &fe) || fe.Type != "AbortError" {
				t.Fatalf("error %v", err)
			}
		})
		t.Run("7 MiB streams whole", func(t *testing.T) {
			const n = 7<<20 + 123
			res := invokeRuntime(t, rt, lambdatest.FunctionURLEvent("GET", "/big", "n="+strconv.Itoa(n)))
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			resp := decode(t, res)
			if len(resp.Body) != n {
				t.Fatalf("body %d bytes, want %d", len(resp.Body), n)
			}
			for i, b := range resp.Body {
				if b != byte(i%251) {
					t.Fatalf("byte %d = %d, want %d", i, b, i%251)
				}
			}
			eq(t, "content length", resp.Headers["Content-Length"], strconv.Itoa(n))
			d := res.Done.Sub(res.Fetched)
			t.Logf("%d bytes in %v (%.0f MB/s), first byte after %v", n, d, float64(n)/d.Seconds()/1e6, res.FirstByte.Sub(res.Fetched))
		})
		t.Run("hello and HEAD", func(t *testing.T) {
			res := invokeRuntime(t, rt, lambdatest.FunctionURLEvent("GET", "/hello", "name=x"))
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			wantHello(t, decode(t, res))
			res = invokeRuntime(t, rt, lambdatest.FunctionURLEvent("HEAD", "/hello", "name=x"))
			resp := decode(t, res)
			eq(t, "HEAD status", resp.StatusCode, 200)
			eq(t, "HEAD body", string(resp.Body), "")
		})
	})

	t.Run("emulator", func(t *testing.T) {
		e := lambdatest.StartEmulator(t, bin, "AWS_LAMBDA_FUNCTION_TIMEOUT=10", "LAMBDATEST_GREETING=hi")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := e.InvokeHTTP(ctx, lambdatest.FunctionURLEvent("GET", "/hello", "name=x"))
		if err != nil {
			t.Fatal(err)
		}
		wantHello(t, resp)
		resp, err = e.InvokeHTTP(ctx, lambdatest.FunctionURLEvent("GET", "/env", "k=LAMBDATEST_GREETING"))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "env", string(resp.Body), "hi")
		const n = 5 << 20 // under the emulator's 6 MiB buffer
		resp, err = e.InvokeHTTP(ctx, lambdatest.FunctionURLEvent("GET", "/big", "n="+strconv.Itoa(n)))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "big body", len(resp.Body), n)
		// The emulator drops mid-stream errors: it shows the bytes before
		// the abort, which is all a buffered test can check.
		resp, err = e.InvokeHTTP(ctx, lambdatest.FunctionURLEvent("GET", "/abort", ""))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "abort body", string(resp.Body), "partial")
	})
}

// testStreams has the function write "first\n", flush, then block on a
// gate the test holds: the first body bytes must reach the runtime before
// the gate opens and the function writes "last\n".
func testStreams(t *testing.T, rt *lambdatest.Runtime) {
	gateHit, release := make(chan struct{}, 1), make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gate := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gateHit <- struct{}{}
		<-release
	})}
	go func() { _ = gate.Serve(ln) }()
	defer gate.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	inv := rt.Invoke(lambdatest.FunctionURLEvent("GET", "/stream", "gate="+url.QueryEscape("http://"+ln.Addr().String()+"/")))
	timeout := time.After(20 * time.Second)
	select {
	case <-gateHit:
	case <-timeout:
		t.Fatal("function never reached the gate")
	}
	// The function is blocked at the gate; its first line must be here.
	var streamedAt time.Time
	for streamedAt.IsZero() {
		if _, body, ok := bytes.Cut(inv.Received(), make([]byte, 8)); ok && string(body) == "first\n" {
			streamedAt = time.Now()
			break
		}
		select {
		case <-inv.Done():
			t.Fatal("invocation ended while the handler was blocked")
		case <-timeout:
			t.Fatalf("first line not streamed while the handler was blocked; received %q", inv.Received())
		case <-time.After(time.Millisecond):
		}
	}
	close(release)
	res := invokeWait(t, inv)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	resp := decode(t, res)
	eq(t, "body", string(resp.Body), "first\nlast\n")
	if !res.FirstByte.Before(streamedAt) || !streamedAt.Before(res.Done) {
		t.Errorf("first byte %v, first line seen %v, done %v: not streamed", res.FirstByte, streamedAt, res.Done)
	}
	t.Logf("time to first byte %v after the event was fetched (%v after queueing); first line seen %v before the end",
		res.FirstByte.Sub(res.Fetched), res.FirstByte.Sub(res.Queued), res.Done.Sub(streamedAt))
}

func invokeRuntime(t *testing.T, rt *lambdatest.Runtime, event []byte) *lambdatest.Result {
	t.Helper()
	return invokeWait(t, rt.Invoke(event))
}

func invokeWait(t *testing.T, inv *lambdatest.Invocation) *lambdatest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := inv.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.ReadErr != nil {
		t.Fatalf("body broke off: %v", res.ReadErr)
	}
	return res
}

func decode(t *testing.T, res *lambdatest.Result) *lambdatest.HTTPResponse {
	t.Helper()
	eq(t, "posted to", res.Path, lambdatest.PathResponse)
	eq(t, "content type", res.ContentType, lambdatest.HTTPContentType)
	resp, err := lambdatest.DecodeHTTPResponse(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func wantFailure(t *testing.T, res *lambdatest.Result, typ, msg, body string) {
	t.Helper()
	resp := decode(t, res)
	eq(t, "status", resp.StatusCode, 200)
	eq(t, "bytes before the failure", string(resp.Body), body)
	var fe *lambdatest.FunctionError
	if err := res.Err(); !errors.As(err, &fe) {
		t.Fatalf("no error trailers: %v (trailer %v)", err, res.Trailer)
	}
	eq(t, "error type", fe.Type, typ)
	if !strings.Contains(fe.Message, msg) {
		t.Errorf("error message %q lacks %q", fe.Message, msg)
	}
}

func wantHello(t *testing.T, resp *lambdatest.HTTPResponse) {
	t.Helper()
	eq(t, "status", resp.StatusCode, 200)
	eq(t, "headers", resp.Headers, map[string]string{"Content-Type": "text/plain; charset=utf-8", "X-Multi": "a, b"})
	eq(t, "cookies", resp.Cookies, []string{"session=s1"})
	eq(t, "body", string(resp.Body), "hello x from 127.0.0.1:0, request lambdatest-request\n")
}
