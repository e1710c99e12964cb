package main

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/ingest"
	"github.com/hash-stream/hash-stream-aws/lib/logging"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// Environment variables of the function (the contract with the CDK app,
// which sets them) besides those declared with what reads them: the
// buckets and prefixes (package s3, s3.ReadEnv), the log level (package
// logging), and the readers' limits (package index: a deployment that
// changes them on the gateway sets the same values here, so the indexer
// stores nothing the gateway refuses).
const (
	envIngestPrefix   = "HASH_STREAM_INGEST_PREFIX"
	envRejectedPrefix = "HASH_STREAM_REJECTED_PREFIX"
	envIndexWriter    = "HASH_STREAM_INDEX_WRITER"
)

// config is the function's configuration, read once at init.
type config struct {
	s3       s3.Env
	ingest   string
	rejected string
	writers  string
	limits   index.Limits
	logLevel slog.Level
}

// loadConfig reads the configuration with lookupEnv (os.LookupEnv); every
// problem is in the error, so a bad deployment fails its init with one
// clear message. The prefixes and the writer are checked by ingest.New, at
// init too.
func loadConfig(lookupEnv func(string) (string, bool)) (config, error) {
	getenv := func(name string) string { v, _ := lookupEnv(name); return v }
	c := config{ingest: ingest.DefaultIngestPrefix, rejected: ingest.DefaultRejectedPrefix, writers: ingest.DefaultWriters}
	var problems []string
	s3env, err := s3.ReadEnv(getenv)
	if err != nil {
		for line := range strings.SplitSeq(err.Error(), "\n") {
			problems = append(problems, strings.TrimPrefix(line, "s3: "))
		}
	}
	c.s3 = s3env
	// Set but empty is a mistake, not "use the default": the ingest prefix
	// must not be the whole bucket.
	for _, v := range []struct {
		name string
		to   *string
	}{{envIngestPrefix, &c.ingest}, {envRejectedPrefix, &c.rejected}, {envIndexWriter, &c.writers}} {
		if val, ok := lookupEnv(v.name); ok {
			if val == "" {
				problems = append(problems, v.name+" is set but empty")
			}
			*v.to = val
		}
	}
	if _, err := index.NewWriters(c.writers, nil); err != nil || c.writers == index.WritersNone {
		problems = append(problems, fmt.Sprintf("%s=%q: want all, single-level or multiple-level", envIndexWriter, c.writers))
	}
	c.limits = index.DefaultLimits()
	for _, v := range []struct {
		name string
		to   *int64
	}{{index.EnvMaxBlockBytes, &c.limits.MaxBlockBytes}, {index.EnvMaxIndexFileBytes, &c.limits.MaxFileBytes}} {
		if val := getenv(v.name); val != "" {
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 1 {
				problems = append(problems, fmt.Sprintf("%s=%q: want an integer >= 1", v.name, val))
				continue
			}
			*v.to = n
		}
	}
	if v := getenv(logging.EnvLevel); v != "" {
		var err error
		if c.logLevel, err = logging.ParseLevel(v); err != nil {
			problems = append(problems, fmt.Sprintf("%s=%q: %v", logging.EnvLevel, v, err))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return config{}, fmt.Errorf("indexer function configuration: %s", strings.Join(problems, "; "))
	}
	return c, nil
}
