package server_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/logging"
	"github.com/hash-stream/hash-stream-aws/lib/server"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
)

// knobValues gives every knob a value other than its default, by flag
// name and by variable.
var knobValues = []struct{ flag, env, value string }{
	{"index-cache-bytes", server.EnvIndexCacheBytes, "12345"},
	{"max-index-file-bytes", index.EnvMaxIndexFileBytes, "2000"},
	{"max-block-bytes", index.EnvMaxBlockBytes, "3000"},
	{"max-response-bytes", server.EnvMaxResponseBytes, "4000"},
	{"memory-budget", server.EnvMemoryBudget, "500000000"},
	{"response-floor", server.EnvResponseFloor, "2000000"},
	{"admission-wait", server.EnvAdmissionWait, "3s"},
	{"read-ahead-share", server.EnvReadAheadShare, "10"},
	{"stall-after", server.EnvStallAfter, "7s"},
	{"max-per-client", server.EnvMaxPerClient, "9"},
	{"client-from", server.EnvClientFrom, "X-Client"},
	{"viewer-from", server.EnvViewerFrom, "CloudFront-Viewer-Address"},
	{"read-gap", server.EnvReadGap, "11"},
	{"read-max-range", server.EnvReadMaxRange, "12000000"},
	{"read-concurrency", server.EnvReadConcurrency, "13"},
	{"read-ahead", server.EnvReadAhead, "14000"},
	{"read-lookahead", server.EnvReadLookahead, "15"},
	{"log-level", logging.EnvLevel, "debug"},
	{"denylist", server.EnvDenylist, "s3://lists/deny/"},
	{"denylist-interval", server.EnvDenylistInterval, "10s"},
}

// Every knob is both a flag and a variable, each changes the Config the
// same way, and no two knobs change the same field.
func TestEveryKnobIsAFlagAndAVariable(t *testing.T) {
	def := server.DefaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	probe := server.DefaultConfig()
	probe.RegisterFlags(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n != len(knobValues) {
		t.Fatalf("%d flags registered, the test knows %d knobs", n, len(knobValues))
	}
	changed := map[string]string{}
	for _, k := range knobValues {
		byEnv := server.DefaultConfig()
		if err := byEnv.FromEnv(func(name string) string {
			if name == k.env {
				return k.value
			}
			return ""
		}); err != nil {
			t.Fatalf("%s=%s: %v", k.env, k.value, err)
		}
		byFlag := server.DefaultConfig()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		byFlag.RegisterFlags(fs)
		f := fs.Lookup(k.flag)
		if f == nil {
			t.Fatalf("no flag --%s", k.flag)
		}
		if !strings.Contains(f.Usage, "(env "+k.env+")") {
			t.Errorf("--%s usage does not name %s: %q", k.flag, k.env, f.Usage)
		}
		if err := fs.Parse([]string{"--" + k.flag, k.value}); err != nil {
			t.Fatal(err)
		}
		if byEnv != byFlag {
			t.Errorf("%s: by env %+v, by flag %+v", k.flag, byEnv, byFlag)
		}
		field := diff(def, byFlag)
		if field == "" {
			t.Errorf("--%s %s changes nothing", k.flag, k.value)
		}
		if other, ok := changed[field]; ok {
			t.Errorf("--%s and --%s both change %s", k.flag, other, field)
		}
		changed[field] = k.flag
	}
}

// diff names the one field (planner fields as Planner.X) where a and b
// differ, or "".
func diff(a, b server.Config) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		fa, fb := va.Field(i), vb.Field(i)
		if fa.Kind() == reflect.Struct {
			for j := range fa.NumField() {
				if !reflect.DeepEqual(fa.Field(j).Interface(), fb.Field(j).Interface()) {
					return va.Type().Field(i).Name + "." + fa.Type().Field(j).Name
				}
			}
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			return va.Type().Field(i).Name
		}
	}
	return ""
}

// An empty variable is unset; a bad one is named with its value, and
// every bad one is reported at once.
func TestFromEnvErrors(t *testing.T) {
	c := server.DefaultConfig()
	if err := c.FromEnv(func(string) string { return "" }); err != nil || c != server.DefaultConfig() {
		t.Fatalf("empty environment: %v, %+v", err, c)
	}
	vars := map[string]string{server.EnvReadAhead: "x", server.EnvStallAfter: "0s", server.EnvIndexCacheBytes: "-1", logging.EnvLevel: "loud"}
	err := c.FromEnv(func(k string) string { return vars[k] })
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{server.EnvReadAhead + `="x": want an integer >= 1`, server.EnvStallAfter + `="0s": want a positive duration`,
		server.EnvIndexCacheBytes + `="-1": want an integer >= 0`, logging.EnvLevel + `="loud": want debug, info, warn or error`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// Validate names the flag and the variable of the knob to change.
func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		edit func(*server.Config)
		want string
	}{
		{func(c *server.Config) { c.ReadAheadShare = 95 }, "--read-ahead-share (" + server.EnvReadAheadShare + ") must be from 0 to 90"},
		{func(c *server.Config) { c.MemoryBudget = 1000 }, "--memory-budget (" + server.EnvMemoryBudget + ")"},
		{func(c *server.Config) { c.ClientFrom = "X Forwarded" }, "--client-from (" + server.EnvClientFrom + `): "X Forwarded": want addr, none or a header name`},
	} {
		c := server.DefaultConfig()
		tt.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
		if _, err := server.New(context.Background(), memory.NewIndexStore(), memory.NewPackStore(), c, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("New accepted what Validate refuses: %+v", c)
		}
	}
	c := server.DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

// New serves verified content from the stores, and its index cache and
// budget are the handler's.
func TestNew(t *testing.T) {
	ctx := context.Background()
	idx, packs := memory.NewIndexStore(), memory.NewPackStore()
	roots, err := fixture.Load(ctx, idx, packs)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, idx, packs, server.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler)
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/ipfs/" + roots["hello.txt"].String() + "?format=raw")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	want, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "testdata", "hello.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, misses := srv.IndexCache.Stats(); misses == 0 {
		t.Error("the index cache saw no lookup")
	}
	if srv.Budget.Size() != server.DefaultMemoryBudget {
		t.Errorf("budget %d, want %d", srv.Budget.Size(), server.DefaultMemoryBudget)
	}
}
