package lambdaurl_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/lambdaurl"
)

// TestFakeFunction checks the protocol both ways with a small function:
// the event a request becomes, the response's status, headers and cookies,
// a function error before streaming (502) and one midway (a cut).
func TestFakeFunction(t *testing.T) {
	bin := lambdatest.Build(t, "./testdata/function")
	s, err := lambdaurl.Start(lambdaurl.Options{Bootstrap: bin, Log: t.Logf, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/echo/a%20b?x=1&y=2", strings.NewReader("payload"))
	req.Header.Set("Accept", "application/vnd.ipld.car")
	req.AddCookie(&http.Cookie{Name: "c", Value: "v"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || resp.Header.Get("Set-Cookie") != "a=1" {
		t.Fatalf("echo: status %d header %v err %v", resp.StatusCode, resp.Header, err)
	}
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	body, _ := base64.StdEncoding.DecodeString(ev.Body)
	if ev.Version != "2.0" || ev.RawPath != "/echo/a%20b" || ev.RawQueryString != "x=1&y=2" || ev.RequestContext.HTTP.Method != "POST" ||
		ev.Headers["accept"] != "application/vnd.ipld.car" || len(ev.Cookies) != 1 || ev.Cookies[0] != "c=v" ||
		!ev.IsBase64Encoded || string(body) != "payload" || ev.RequestContext.HTTP.SourceIP != "127.0.0.1" || ev.RequestContext.RequestID == "" {
		t.Fatalf("event %+v", ev)
	}

	resp, b, err = get(ctx, t, s.URL()+"/error")
	if err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("error before streaming: status %d body %q err %v; want 502", resp.StatusCode, b, err)
	}

	resp, b, err = get(ctx, t, s.URL()+"/fail")
	if resp.StatusCode != http.StatusOK || string(b) != "partial" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error midway: status %d body %q err %v; want a cut after %q", resp.StatusCode, b, err, "partial")
	}

	// The environment still serves after both errors.
	resp, _, err = get(ctx, t, s.URL()+"/echo")
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("after errors: status %d err %v", resp.StatusCode, err)
	}
}

func TestStartRefuses(t *testing.T) {
	for _, o := range []lambdaurl.Options{
		{},
		{Bootstrap: "x", Addr: "0.0.0.0:0"},
		{Bootstrap: "x", Addr: "nonsense"},
	} {
		if s, err := lambdaurl.Start(o); err == nil {
			_ = s.Close()
			t.Errorf("Start(%+v) accepted", o)
		}
	}
}
