package main

import (
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/logging"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// Every variable the infra sets on the indexer (indexerEnv in
// infra/stack.go) is one the function reads, and what the infra sets is
// enough: loadConfig accepts it, with the infra's defaults, and fails
// without each variable it requires.
func TestInfraEnvIsWhatTheFunctionReads(t *testing.T) {
	// The values the infra writes by default (infra/config.go).
	defaults := map[string]string{
		envIngestPrefix:   "ingest/",
		envRejectedPrefix: "rejected/",
		envIndexWriter:    "all",
		logging.EnvLevel:  "info",
	}
	testutil.CheckInfraEnv(t, "indexerEnv", defaults, []string{s3.EnvIndexBucket, s3.EnvPackBucket},
		func(lookup func(string) (string, bool)) error {
			_, err := loadConfig(lookup)
			return err
		})
}
