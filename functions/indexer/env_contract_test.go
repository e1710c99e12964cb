package main

import (
	"slices"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// Every variable the infra sets on the indexer (indexerEnv in
// infra/stack.go) is one the function reads, and what the infra sets is
// enough: loadConfig accepts it, with the infra's defaults, and fails
// without each variable it requires.
func TestInfraEnvIsWhatTheFunctionReads(t *testing.T) {
	set := testutil.InfraEnv(t, "indexerEnv")
	vars := map[string]string{}
	for _, name := range set {
		vars[name] = "x"
	}
	// The values the infra writes by default (infra/config.go).
	vars[envIngestPrefix] = "ingest/"
	vars[envRejectedPrefix] = "rejected/"
	vars[envIndexWriter] = "all"
	vars[envLogLevel] = "info"
	var read []string
	lookup := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			read = append(read, k)
			v, ok := m[k]
			return v, ok
		}
	}
	if _, err := loadConfig(lookup(vars)); err != nil {
		t.Fatalf("the infra's environment %v: %v", set, err)
	}
	for _, name := range set {
		if !slices.Contains(read, name) {
			t.Errorf("the infra sets %s, which the function does not read", name)
		}
	}
	for _, required := range []string{envIndexBucket, envPackBucket} {
		if !slices.Contains(set, required) {
			t.Errorf("the infra does not set %s", required)
		}
		without := map[string]string{}
		for k, v := range vars {
			if k != required {
				without[k] = v
			}
		}
		if _, err := loadConfig(lookup(without)); err == nil {
			t.Errorf("loadConfig without %s: no error", required)
		}
	}
}
