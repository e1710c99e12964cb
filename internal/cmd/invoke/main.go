// Command invoke is a dev command, `make invoke EVENT=events/<name>.json`:
// it runs one Function URL event through the real gateway bootstrap under
// the Lambda Runtime Interface Emulator (lambdatest.LaunchEmulator, the
// tests' launcher), against a local S3-compatible server (versitygw)
// loaded with testdata/, and prints the decoded response.
//
// With -indexer it runs the indexer function instead, on an S3 event about
// CARs of testdata/cars put in a local pack bucket, and lists the buckets
// after: `make invoke-indexer`.
//
// With -decode it only decodes a Function URL streaming response (a JSON
// prelude, eight NUL bytes, the body) read from stdin, as `sam local invoke`
// prints it, with the same decoder: `make sam-invoke` pipes into it.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	carv2 "github.com/ipld/go-car/v2"
)

func main() {
	bootstrap := flag.String("bootstrap", "build/lambda/gateway-amd64/bootstrap", "the function binary (linux, this machine's architecture)")
	event := flag.String("event", "events/car.json", "Function URL event (payload 2.0) to send")
	decodeOnly := flag.Bool("decode", false, "decode a streaming response (JSON prelude, 8 NUL bytes, body) from stdin instead of invoking")
	indexer := flag.Bool("indexer", false, "invoke the indexer function (-bootstrap) with an S3 event (-event) about CARs of testdata/cars")
	flag.Parse()
	var err error
	switch {
	case *decodeOnly:
		err = decode(os.Stdin, os.Stdout, "stdin")
	case *indexer:
		err = runIndexer(*bootstrap, *event)
	default:
		err = run(*bootstrap, *event)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run(bootstrap, eventPath string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ev, err := os.ReadFile(eventPath)
	if err != nil {
		return err
	}
	rie, srv, stop, err := startS3()
	if err != nil {
		return err
	}
	defer stop()
	indexBucket, packBucket, err := fixture.LoadS3(ctx, srv.Client())
	if err != nil {
		return err
	}
	fmt.Printf("S3 server %s loaded with testdata/ (buckets %s, %s)\n", srv.Endpoint, indexBucket, packBucket)

	emu, err := startEmulator(ctx, rie, bootstrap, srv, indexBucket, packBucket)
	if err != nil {
		return err
	}
	defer emu.stop()
	status, raw, took, err := emu.post(ev, -1)
	if err != nil {
		return err
	}
	hr, err := lambdatest.DecodeHTTPResponse(raw)
	if err != nil {
		return fmt.Errorf("emulator answered %d: %s", status, raw)
	}
	return describe(os.Stdout, hr, fmt.Sprintf("%s in %s", eventPath, took.Round(time.Millisecond)))
}

// maxDecode bounds what -decode reads: a buffered Function URL response
// (what the emulator in `sam local` returns) is at most 6 MiB; the rest is
// room for a prelude and what SAM prints around it.
const maxDecode = 8 << 20

// decode reads one framed streaming response from r and describes it on
// w. A CAR body whose blocks do not match their CIDs is an error.
func decode(r io.Reader, w io.Writer, label string) error {
	raw, err := io.ReadAll(io.LimitReader(r, maxDecode+1))
	if err != nil {
		return err
	}
	if len(raw) > maxDecode {
		return fmt.Errorf("%s: more than %d bytes: not one buffered Function URL response", label, maxDecode)
	}
	hr, err := lambdatest.DecodeHTTPResponse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w (a function error or a non-streaming answer?): %.512q", label, err, raw)
	}
	return describe(w, hr, label)
}

// describe prints the status, the headers (sorted) and the body.
func describe(w io.Writer, hr *lambdatest.HTTPResponse, label string) error {
	fmt.Fprintf(w, "\n%s -> status %d\n", label, hr.StatusCode)
	keys := make([]string, 0, len(hr.Headers))
	for k := range hr.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s: %s\n", k, hr.Headers[k])
	}
	return describeBody(w, hr.Headers, hr.Body)
}

// describeBody prints a CAR's roots and blocks (each checked against its
// CID), or a short body as text. An invalid CAR is an error.
func describeBody(w io.Writer, headers map[string]string, body []byte) error {
	fmt.Fprintf(w, "body: %d bytes\n", len(body))
	ct := ""
	for k, v := range headers {
		if strings.EqualFold(k, "content-type") {
			ct = v
		}
	}
	if strings.HasPrefix(ct, "application/vnd.ipld.car") && len(body) > 0 {
		br, err := carv2.NewBlockReader(bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("not a valid CAR: %w", err)
		}
		fmt.Fprintln(w, "  CAR roots:", br.Roots)
		for {
			b, err := br.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("CAR: %w", err)
			}
			fmt.Fprintf(w, "  block %s (%d bytes, verified)\n", b.Cid(), len(b.RawData()))
		}
		return nil
	}
	if len(body) <= 512 {
		fmt.Fprintf(w, "  %q\n", body)
	}
	return nil
}
