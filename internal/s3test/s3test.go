// Package s3test is a test rig: it gives tests (and the dev commands
// internal/cmd/invoke and lambda-url) a real S3-compatible server on
// 127.0.0.1.
//
// Start picks the server once per test binary, from TestMain:
//
//   - HASHSTREAM_S3_ENDPOINT set: that server, with the credentials in
//     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (region AWS_REGION, else
//     us-east-1);
//   - else versitygw found (on PATH, in $HASH_STREAM_TOOLS/bin, or in
//     .tools/bin of the module, where `bash .ci/tools.sh` installs it): a
//     versitygw process with a posix backend in a temporary folder,
//     listening on a port of 127.0.0.1 it binds itself (port 0), stopped by the returned func;
//   - else none: Require, NewBucket and Client skip the test, or fail it
//     when CI=true.
//
// Typical use:
//
//	var server *s3test.Server
//
//	func TestMain(m *testing.M) {
//		s, stop, err := s3test.Start()
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		server = s
//		code := m.Run()
//		stop()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		bucket := server.NewBucket(t)
//		client := server.Client()
//		...
//	}
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// EnvEndpoint names the variable that points tests at a running server.
const EnvEndpoint = "HASHSTREAM_S3_ENDPOINT"

// StartTimeout bounds how long Start waits for versitygw to answer:
// testutil.WaitTimeout, generous for a loaded machine.
const StartTimeout = testutil.WaitTimeout

// unavailable is the message of a test that finds no server.
const unavailable = "no S3-compatible server: set " + EnvEndpoint +
	" (with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or put versitygw on PATH (bash .ci/tools.sh installs it in .tools/bin)"

// Server is an S3-compatible server for tests. A nil *Server means none is
// available; its methods then skip the test (or fail it when CI=true).
type Server struct {
	Endpoint  string // base URL, e.g. http://127.0.0.1:7070
	Region    string
	AccessKey string
	SecretKey string

	cmd    *exec.Cmd
	dir    string
	out    *testutil.Buffer
	exited chan struct{}
	seq    atomic.Int64
}

// Start returns the server the tests of this binary use and a function
// that stops it (a no-op for a server it did not start). With no server
// available it returns a nil *Server and no error. An error means a server
// was found but could not be started.
func Start() (*Server, func(), error) {
	if endpoint := os.Getenv(EnvEndpoint); endpoint != "" {
		region := os.Getenv("AWS_REGION")
		if region == "" {
			region = "us-east-1"
		}
		return &Server{
			Endpoint:  endpoint,
			Region:    region,
			AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		}, func() {}, nil
	}
	bin := findVersitygw()
	if bin == "" {
		return nil, func() {}, nil
	}
	s, err := startVersitygw(bin)
	if err != nil {
		return nil, func() {}, err
	}
	return s, s.stop, nil
}

// findVersitygw returns the path of the versitygw binary, or "".
func findVersitygw() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	var dirs []string
	if tools := os.Getenv("HASH_STREAM_TOOLS"); tools != "" {
		dirs = append(dirs, filepath.Join(tools, "bin"))
	}
	if root := moduleRoot(); root != "" {
		dirs = append(dirs, filepath.Join(root, ".tools", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// moduleRoot returns the nearest folder above the working folder that
// holds a go.mod, or "".
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startVersitygw starts versitygw on port 0 of 127.0.0.1 (so no other
// process can take its port between a choice and a bind), learns the port
// it got from /proc and waits until it answers on it.
func startVersitygw(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "hashstream-s3test-")
	if err != nil {
		return nil, fmt.Errorf("s3test: %w", err)
	}
	s := &Server{
		Region:    "us-east-1",
		AccessKey: "hashstream-test",
		SecretKey: randomHex(16),
		dir:       dir,
		out:       &testutil.Buffer{Max: 64 << 10},
		exited:    make(chan struct{}),
	}
	s.cmd = exec.Command(bin,
		"--port", "127.0.0.1:0",
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region,
		"--health", "/health", "--keep-alive", "--quiet",
		"posix", dir)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("s3test: start %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	ports, err := testutil.WaitListen(s.cmd.Process.Pid, s.exited, func(p []int) bool { return len(p) > 0 }, StartTimeout)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("s3test: %s: %w (set %s to a running server where /proc is missing); output: %s", bin, err, EnvEndpoint, s.out.String())
	}
	if len(ports) != 1 {
		s.stop()
		return nil, fmt.Errorf("s3test: %s listens on %v, want one port", bin, ports)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	s.Endpoint = "http://" + addr
	if err := s.waitHealthy(addr); err != nil {
		s.stop()
		return nil, fmt.Errorf("s3test: %s: %w; output: %s", bin, err, s.out.String())
	}
	return s, nil
}

// waitHealthy polls the health endpoint until it answers 200.
func (s *Server) waitHealthy(addr string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(StartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return errors.New("exited before it was ready")
		default:
		}
		resp, err := client.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer on /health within %v", StartTimeout)
}

// stop ends the process this package started and removes its folder.
func (s *Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// Require skips t when s is nil, or fails it when the environment variable
// CI is "true", so CI never passes without the S3 tests.
func (s *Server) Require(t testing.TB) {
	t.Helper()
	if s != nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(unavailable)
	}
	t.Skip(unavailable)
}

// Client returns a client of the server: path-style addressing, the
// server's credentials, checksums only where the API requires them, then
// whatever optFns change.
func (s *Server) Client(optFns ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(s.Endpoint),
		Region:                     s.Region,
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}, optFns...)
}

// ClientWithKeys is Client with other credentials.
func (s *Server) ClientWithKeys(accessKey, secretKey string) *s3.Client {
	return s.Client(func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")
	})
}

// Env returns the environment a child process needs to reach the server
// through the AWS SDK's usual chain (for tests that run a built binary).
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
	}
}

// NewBucket creates a new, empty bucket for t and returns its name. The
// bucket and everything in it are deleted when t ends.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	s.Require(t)
	name := fmt.Sprintf("hs-test-%d-%s", s.seq.Add(1), randomHex(6))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := s.Client()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := deleteBucket(ctx, client, name); err != nil {
			t.Errorf("s3test: %v", err)
		}
	})
	return name
}

// Keys lists the keys of bucket under prefix ("" for all of them), in
// the server's (ascending) order. A failed listing fails t.
func (s *Server) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	s.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	var keys []string
	pages := s3.NewListObjectsV2Paginator(s.Client(), in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("s3test: list %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// deleteBucket deletes every object of a bucket, then the bucket.
func deleteBucket(ctx context.Context, client *s3.Client, bucket string) error {
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", bucket, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("empty %s: %w", bucket, err)
		}
		if len(out.Errors) > 0 {
			return fmt.Errorf("empty %s: %s: %s", bucket, aws.ToString(out.Errors[0].Key), aws.ToString(out.Errors[0].Message))
		}
	}
	if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	return nil
}

// Main is a TestMain for packages whose tests use the server: it starts
// it (see Start), stores it in *server (nil when none is available), runs
// the tests, stops it, calls each of after (other cleanups of the test
// binary) and exits with the tests' code.
//
//	var server *s3test.Server
//	func TestMain(m *testing.M) { s3test.Main(m, &server) }
func Main(m *testing.M, server **Server, after ...func()) {
	s, stop, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*server = s
	code := m.Run()
	stop()
	for _, f := range after {
		f()
	}
	os.Exit(code)
}
