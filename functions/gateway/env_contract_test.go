package main

import (
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/logging"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// Every variable the infra sets on the function is one the function
// reads, and what the infra sets is enough: loadConfig accepts it, and
// fails without each variable it requires.
func TestInfraEnvIsWhatTheFunctionReads(t *testing.T) {
	testutil.CheckInfraEnv(t, "functionEnv", map[string]string{logging.EnvLevel: "info"}, // the infra writes a level name
		[]string{s3.EnvIndexBucket, s3.EnvPackBucket},
		func(lookup func(string) (string, bool)) error {
			_, err := loadConfig(func(k string) string { v, _ := lookup(k); return v })
			return err
		})
}
