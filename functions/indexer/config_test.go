package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/ingest"
	"github.com/hash-stream/hash-stream-aws/lib/logging"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadConfig(t *testing.T) {
	base := map[string]string{s3.EnvIndexBucket: "idx", s3.EnvPackBucket: "packs"}
	c, err := loadConfig(lookupMap(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.ingest != ingest.DefaultIngestPrefix || c.rejected != ingest.DefaultRejectedPrefix || c.writers != "all" || c.s3.PackBucket != "packs" {
		t.Fatalf("defaults: %+v", c)
	}
	// The readers' limits: the gateway's defaults, or the gateway's
	// variables (issue 21).
	if c.limits != index.DefaultLimits() || c.limits.MaxBlockBytes != streamer.DefaultMaxBlockBytes {
		t.Fatalf("default limits %+v", c.limits)
	}
	raised := maps.Clone(base)
	raised[index.EnvMaxBlockBytes], raised[index.EnvMaxIndexFileBytes] = "8388608", "1048576"
	if c, err := loadConfig(lookupMap(raised)); err != nil || c.limits != (index.Limits{MaxBlockBytes: 8 << 20, MaxFileBytes: 1 << 20}) {
		t.Fatalf("limits %+v, %v", c.limits, err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		msgs []string
	}{
		{"no buckets", map[string]string{}, []string{s3.EnvIndexBucket + " is not set", s3.EnvPackBucket + " is not set"}},
		{"empty prefixes", map[string]string{envIngestPrefix: "", envRejectedPrefix: ""}, []string{envIngestPrefix + " is set but empty", envRejectedPrefix + " is set but empty"}},
		{"writer", map[string]string{envIndexWriter: "none"}, []string{envIndexWriter + `="none"`}},
		{"level", map[string]string{logging.EnvLevel: "loud"}, []string{logging.EnvLevel + `="loud"`}},
		{"limits", map[string]string{index.EnvMaxBlockBytes: "0", index.EnvMaxIndexFileBytes: "lots"}, []string{index.EnvMaxBlockBytes + `="0"`, index.EnvMaxIndexFileBytes + `="lots"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			if tc.name != "no buckets" {
				for k, v := range base {
					env[k] = v
				}
			}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := loadConfig(lookupMap(env))
			if err == nil {
				t.Fatal("no error")
			}
			for _, m := range tc.msgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%q lacks %q", err, m)
				}
			}
		})
	}
}
