// Command invoke runs one Function URL event through the real gateway
// bootstrap under the Lambda Runtime Interface Emulator, against a local
// S3-compatible server (versitygw) loaded with testdata/, and prints the
// decoded response. It is `make invoke EVENT=events/<name>.json`.
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

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	carv2 "github.com/ipld/go-car/v2"
)

func main() {
	bootstrap := flag.String("bootstrap", "build/lambda/gateway-amd64/bootstrap", "the function binary (linux, this machine's architecture)")
	event := flag.String("event", "events/car.json", "Function URL event (payload 2.0) to send")
	flag.Parse()
	if err := run(*bootstrap, *event); err != nil {
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
	client := srv.Client()
	stamp := time.Now().UnixNano()
	indexBucket, packBucket := fmt.Sprintf("index-%d", stamp), fmt.Sprintf("pack-%d", stamp)
	for _, b := range []string{indexBucket, packBucket} {
		if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	if _, err := fixture.Load(ctx, s3.NewIndexStore(client, indexBucket), s3.NewPackStore(client, packBucket)); err != nil {
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
	fmt.Printf("\n%s -> status %d in %s\n", eventPath, hr.StatusCode, time.Since(start).Round(time.Millisecond))
	keys := make([]string, 0, len(hr.Headers))
	for k := range hr.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %s: %s\n", k, hr.Headers[k])
	}
	describeBody(hr.Headers, hr.Body)
	return nil
}

// describeBody prints a CAR's roots and blocks, or a short body as text.
func describeBody(headers map[string]string, body []byte) {
	fmt.Printf("body: %d bytes\n", len(body))
	ct := ""
	for k, v := range headers {
		if strings.EqualFold(k, "content-type") {
			ct = v
		}
	}
	if strings.HasPrefix(ct, "application/vnd.ipld.car") && len(body) > 0 {
		br, err := carv2.NewBlockReader(bytes.NewReader(body))
		if err != nil {
			fmt.Println("  not a valid CAR:", err)
			return
		}
		fmt.Println("  CAR roots:", br.Roots)
		for {
			b, err := br.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				fmt.Println("  CAR error:", err)
				return
			}
			fmt.Printf("  block %s (%d bytes, verified)\n", b.Cid(), len(b.RawData()))
		}
		return
	}
	if len(body) <= 512 {
		fmt.Printf("  %q\n", body)
	}
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
