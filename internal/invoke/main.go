// Command invoke runs one Function URL event through the real gateway
// bootstrap under the Lambda Runtime Interface Emulator, against a local
// S3-compatible server (versitygw) loaded with testdata/, and prints the
// decoded response. It is `make invoke EVENT=events/<name>.json`.
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
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
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
	rie, err := exec.LookPath(lambdatest.EmulatorCommand)
	if err != nil {
		return fmt.Errorf("%s not found: run make tools (it installs it in .tools/bin)", lambdatest.EmulatorCommand)
	}
	srv, stop, err := s3test.Start()
	if err != nil {
		return err
	}
	defer stop()
	if srv == nil {
		return fmt.Errorf("no S3-compatible server: run make tools (it installs versitygw in .tools/bin)")
	}
	indexBucket, packBucket, err := fixture.LoadS3(ctx, srv.Client())
	if err != nil {
		return err
	}
	fmt.Printf("S3 server %s loaded with testdata/ (buckets %s, %s)\n", srv.Endpoint, indexBucket, packBucket)

	invokeAddr, apiAddr := freeAddr(), freeAddr()
	cmd := exec.CommandContext(ctx, rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, bootstrap)
	cmd.Env = append(srv.Env(),
		s3.EnvIndexBucket+"="+indexBucket, s3.EnvPackBucket+"="+packBucket,
		"PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		fmt.Printf("\n--- function and emulator log ---\n%s", logs.String())
	}()
	if err := waitListening(invokeAddr, 10*time.Second); err != nil {
		return err
	}
	start := time.Now()
	resp, err := http.Post("http://"+invokeAddr+"/2015-03-31/functions/function/invocations", "application/json", bytes.NewReader(ev))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	hr, err := lambdatest.DecodeHTTPResponse(raw)
	if err != nil {
		return fmt.Errorf("emulator answered %d: %s", resp.StatusCode, raw)
	}
	return describe(os.Stdout, hr, fmt.Sprintf("%s in %s", eventPath, time.Since(start).Round(time.Millisecond)))
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

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("emulator not listening on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
