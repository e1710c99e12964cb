package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/logging"
	"github.com/hash-stream/hash-stream-aws/lib/server"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// env is a getenv over a map.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// withBuckets returns the two required variables plus extra.
func withBuckets(extra map[string]string) map[string]string {
	m := map[string]string{s3.EnvIndexBucket: "idx", s3.EnvPackBucket: "packs"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(env(withBuckets(nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := server.DefaultConfig()
	srv.MaxResponseBytes = DefaultMaxResponseBytes
	srv.MemoryBudget = DefaultMemoryBudget
	srv.ViewerFrom = "CloudFront-Viewer-Address"
	want := config{s3: s3.Env{IndexBucket: "idx", PackBucket: "packs"}, server: srv}
	if srv.IndexCacheBytes != index.DefaultCacheBytes || srv.MaxIndexFileBytes != store.DefaultMaxIndexFileBytes ||
		srv.Planner != streamer.DefaultPlannerConfig() || srv.LogLevel != slog.LevelInfo || srv.MaxBlockBytes != streamer.DefaultMaxBlockBytes {
		t.Fatalf("server defaults %+v", srv)
	}
	if c != want {
		t.Fatalf("config\n got %+v\nwant %+v", c, want)
	}
	// Empty values mean unset, as Lambda shows a variable removed from the
	// configuration.
	vars := withBuckets(nil)
	for _, k := range []string{s3.EnvIndexPrefix, s3.EnvPackPrefix, server.EnvIndexCacheBytes, index.EnvMaxIndexFileBytes, server.EnvMaxResponseBytes,
		server.EnvReadGap, server.EnvReadMaxRange, server.EnvReadConcurrency, server.EnvReadAhead, logging.EnvLevel, server.EnvMemoryBudget, index.EnvMaxBlockBytes} {
		vars[k] = ""
	}
	if c, err := loadConfig(env(vars)); err != nil || c != want {
		t.Fatalf("empty variables: %+v, %v", c, err)
	}
}

func TestLoadConfigAll(t *testing.T) {
	c, err := loadConfig(env(map[string]string{
		s3.EnvIndexBucket:          "idx",
		s3.EnvIndexPrefix:          "index/",
		s3.EnvPackBucket:           "packs",
		s3.EnvPackPrefix:           "packs/",
		server.EnvIndexCacheBytes:  "0", // no cache is allowed
		server.EnvMaxResponseBytes: "1048576",
		server.EnvReadGap:          "0",
		server.EnvReadMaxRange:     "2097152",
		server.EnvReadConcurrency:  "2",
		server.EnvReadAhead:        "1",
		logging.EnvLevel:           "debug",
		s3.EnvEndpointS3:           "http://127.0.0.1:9000",
		s3.EnvHeaderTimeout:        "2s",
		s3.EnvBodyTimeout:          "1500ms",
		server.EnvMemoryBudget:     "33554432",
		index.EnvMaxBlockBytes:     "2097152",
		index.EnvMaxIndexFileBytes: "1000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	srv := server.DefaultConfig()
	srv.Planner.Gap, srv.Planner.MaxRange, srv.Planner.Concurrency, srv.Planner.ReadAhead = 0, 2<<20, 2, 1
	srv.IndexCacheBytes = 0
	srv.MaxResponseBytes = 1 << 20
	srv.LogLevel = slog.LevelDebug
	srv.MemoryBudget = 32 << 20
	srv.MaxBlockBytes = 2 << 20
	srv.MaxIndexFileBytes = 1000
	srv.ViewerFrom = "CloudFront-Viewer-Address"
	want := config{
		server: srv,
		s3: s3.Env{IndexBucket: "idx", IndexPrefix: "index/", PackBucket: "packs", PackPrefix: "packs/",
			Client: s3.Config{Endpoint: "http://127.0.0.1:9000", HeaderTimeout: 2 * time.Second, BodyTimeout: 1500 * time.Millisecond}},
	}
	if c != want {
		t.Fatalf("config\n got %+v\nwant %+v", c, want)
	}
}

// The default memory budget follows the function's memory.
func TestLoadConfigMemoryBudget(t *testing.T) {
	for mb, want := range map[string]int64{"": DefaultMemoryBudget, "128": 32 << 20, "1024": 256 << 20, "10240": 256 << 20, "32": 16 << 20, "x": DefaultMemoryBudget} {
		c, err := loadConfig(env(withBuckets(map[string]string{envFunctionMemory: mb})))
		if err != nil || c.server.MemoryBudget != want {
			t.Errorf("%s=%q: budget %d (%v), want %d", envFunctionMemory, mb, c.server.MemoryBudget, err, want)
		}
	}
	_, err := loadConfig(env(withBuckets(map[string]string{server.EnvMemoryBudget: "1000"})))
	if err == nil || !strings.Contains(err.Error(), server.EnvMemoryBudget) {
		t.Errorf("a budget under one response floor: %v", err)
	}
}

func TestLoadConfigLogLevels(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "DEBUG": slog.LevelDebug, "Info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError, "warn+2": slog.LevelWarn + 2,
	} {
		c, err := loadConfig(env(withBuckets(map[string]string{logging.EnvLevel: in})))
		if err != nil {
			t.Errorf("%s=%q: %v", logging.EnvLevel, in, err)
			continue
		}
		if c.server.LogLevel != want {
			t.Errorf("%s=%q: level %v, want %v", logging.EnvLevel, in, c.server.LogLevel, want)
		}
	}
	for _, in := range []string{"verbose", "trace", "1", "info "} {
		_, err := loadConfig(env(withBuckets(map[string]string{logging.EnvLevel: in})))
		if err == nil || !strings.Contains(err.Error(), logging.EnvLevel+"=") || !strings.Contains(err.Error(), "want debug, info, warn or error") {
			t.Errorf("%s=%q: error %v", logging.EnvLevel, in, err)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want []string // every one must be in the message
	}{
		{
			name: "nothing set",
			vars: map[string]string{},
			want: []string{s3.EnvIndexBucket + " is not set", s3.EnvPackBucket + " is not set"},
		},
		{
			name: "no index bucket",
			vars: map[string]string{s3.EnvPackBucket: "packs", s3.EnvIndexPrefix: "p/"},
			want: []string{s3.EnvIndexBucket + " is not set"},
		},
		{
			name: "no pack bucket",
			vars: map[string]string{s3.EnvIndexBucket: "idx"},
			want: []string{s3.EnvPackBucket + " is not set"},
		},
		{
			name: "not a number",
			vars: withBuckets(map[string]string{server.EnvIndexCacheBytes: "64MiB"}),
			want: []string{server.EnvIndexCacheBytes + `="64MiB": want an integer >= 0`},
		},
		{
			name: "negative cache",
			vars: withBuckets(map[string]string{server.EnvIndexCacheBytes: "-1"}),
			want: []string{server.EnvIndexCacheBytes + `="-1": want an integer >= 0`},
		},
		{
			name: "zero index file cap",
			vars: withBuckets(map[string]string{index.EnvMaxIndexFileBytes: "0"}),
			want: []string{index.EnvMaxIndexFileBytes + `="0": want an integer >= 1`},
		},
		{
			name: "zero cap",
			vars: withBuckets(map[string]string{server.EnvMaxResponseBytes: "0"}),
			want: []string{server.EnvMaxResponseBytes + `="0": want an integer >= 1`},
		},
		{
			name: "overflow",
			vars: withBuckets(map[string]string{server.EnvMaxResponseBytes: "99999999999999999999"}),
			want: []string{server.EnvMaxResponseBytes + `="99999999999999999999"`},
		},
		{
			name: "float and spaces",
			vars: withBuckets(map[string]string{server.EnvReadGap: "1e6", server.EnvReadAhead: " 5"}),
			want: []string{server.EnvReadGap + `="1e6"`, server.EnvReadAhead + `=" 5"`},
		},
		{
			name: "zero concurrency and range",
			vars: withBuckets(map[string]string{server.EnvReadConcurrency: "0", server.EnvReadMaxRange: "0"}),
			want: []string{server.EnvReadConcurrency + `="0": want an integer >= 1`, server.EnvReadMaxRange + `="0": want an integer >= 1`},
		},
		{
			name: "S3 timeout",
			vars: withBuckets(map[string]string{s3.EnvConnectTimeout: "3"}),
			want: []string{s3.EnvConnectTimeout + `="3": want a positive duration`},
		},
		{
			name: "every problem at once",
			vars: map[string]string{server.EnvReadAhead: "x", logging.EnvLevel: "loud"},
			want: []string{s3.EnvIndexBucket, s3.EnvPackBucket, server.EnvReadAhead + `="x"`, logging.EnvLevel + `="loud"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(env(tt.vars))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "gateway function configuration: ") {
				t.Errorf("message %q does not say what it is about", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if got := strings.Count(msg, ";") + 1; got != len(tt.want) {
				t.Errorf("message %q lists %d problems, want %d", msg, got, len(tt.want))
			}
			if c != (config{}) {
				t.Errorf("config %+v returned with an error", c)
			}
		})
	}
	// The order of problems does not depend on map iteration.
	_, first := loadConfig(env(map[string]string{}))
	for range 20 {
		if _, err := loadConfig(env(map[string]string{})); err.Error() != first.Error() {
			t.Fatalf("message changes between calls: %q vs %q", err, first)
		}
	}
}

// TestInitFailure runs the real bootstrap without its required variables:
// it must exit at init with a message naming them, never poll for events.
func TestInitFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function")
	}
	bin := bootstrap(t)
	rt := lambdatest.NewRuntime(t)
	inv := rt.Invoke(lambdatest.FunctionURLEvent("GET", "/ipfs/"+fixture.HelloCID, "format=raw"))
	msg := runFailingInit(t, bin, append(isolatedEnv(t), "AWS_LAMBDA_RUNTIME_API="+rt.Addr(), logging.EnvLevel+"=loud"))
	for _, w := range []string{"init failed", s3.EnvIndexBucket + " is not set", s3.EnvPackBucket + " is not set", logging.EnvLevel + `=\"loud\"`} {
		if !strings.Contains(msg, w) {
			t.Errorf("output %q lacks %q", msg, w)
		}
	}
	select {
	case <-inv.Done():
		t.Error("the function answered an event without configuration")
	default:
	}
	t.Logf("init failure output: %s", strings.TrimSpace(msg))
}

// runFailingInit runs the bootstrap bin with env, which must make its init
// fail: it waits (up to testutil.WaitTimeout) for exit status 1 and
// returns the output.
func runFailingInit(t *testing.T, bin string, env []string) string {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v, want status 1; output %s", err, out.String())
		}
	case <-time.After(testutil.WaitTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running %v after a start that must fail; output %s", testutil.WaitTimeout, out.String())
	}
	return out.String()
}
