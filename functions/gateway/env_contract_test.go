package main

import (
	"slices"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// Every variable the infra sets on the function is one the function
// reads, and what the infra sets is enough: loadConfig accepts it, and
// fails without each variable it requires.
func TestInfraEnvIsWhatTheFunctionReads(t *testing.T) {
	set := testutil.InfraEnv(t, "functionEnv")
	vars := map[string]string{}
	for _, name := range set {
		vars[name] = "x"
	}
	vars[envLogLevel] = "info" // the infra writes a level name
	var read []string
	getenv := func(k string) string {
		read = append(read, k)
		return vars[k]
	}
	if _, err := loadConfig(getenv); err != nil {
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
		if _, err := loadConfig(func(k string) string { return without[k] }); err == nil {
			t.Errorf("loadConfig without %s: no error", required)
		}
	}
}
