// Command function is the Lambda function the end-to-end tests build with
// -tags lambda.norpc and run under a fake Runtime API or the Runtime
// Interface Emulator. The request path picks the behaviour:
//
//	/hello          headers, a cookie and a small body
//	/stream?gate=U  writes "first\n", flushes, waits for GET U, writes "last\n"
//	/abort          writes and flushes "partial", then Abort(w, errCorrupt)
//	/panic          writes and flushes "partial", then panic(http.ErrAbortHandler)
//	/big?n=N        writes N bytes of a known pattern in 64 KiB writes
//	/early          Abort(w, errCorrupt) before writing anything
//	/env?k=NAME     writes the value of the environment variable NAME
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hash-stream/hash-stream-aws/lib/lambdastream"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	lambda.Start(lambdastream.New(http.HandlerFunc(serve), lambdastream.WithLogger(logger)))
}

func serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/hello":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1"})
		fmt.Fprintf(w, "hello %s from %s, request %s\n", r.URL.Query().Get("name"), r.RemoteAddr, lambdastream.RequestID(r.Context()))
	case "/stream":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		client := &http.Client{Timeout: 10 * time.Second}
		resp, err := client.Get(r.URL.Query().Get("gate"))
		if err != nil {
			lambdastream.Abort(w, fmt.Errorf("gate: %w", err))
			return
		}
		_ = resp.Body.Close()
		_, _ = io.WriteString(w, "last\n")
	case "/abort":
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		lambdastream.Abort(w, errors.New("block failed verification"))
	case "/panic":
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case "/big":
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		buf := make([]byte, 64<<10)
		for off := 0; off < n; off += len(buf) {
			chunk := buf[:min(len(buf), n-off)]
			for i := range chunk {
				chunk[i] = byte((off + i) % 251)
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	case "/early":
		lambdastream.Abort(w, errors.New("block failed verification"))
	case "/env":
		_, _ = io.WriteString(w, os.Getenv(r.URL.Query().Get("k")))
	default:
		http.NotFound(w, r)
	}
}
