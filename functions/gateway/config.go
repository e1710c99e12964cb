package main

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/lambdastream"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// Environment variables of the function. The bucket and prefix names are
// the hash-stream CLI's, declared beside the S3 store (s3.ReadEnv reads
// them, with the S3 client's); the limits are the indexer's too, declared
// beside them in package index.
const (
	envIndexBucket     = s3.EnvIndexBucket
	envIndexPrefix     = s3.EnvIndexPrefix
	envPackBucket      = s3.EnvPackBucket
	envPackPrefix      = s3.EnvPackPrefix
	envIndexCacheBytes = "HASH_STREAM_INDEX_CACHE_BYTES"
	envMaxIndexFile    = index.EnvMaxIndexFileBytes
	envMaxResponse     = "HASH_STREAM_MAX_RESPONSE_BYTES"
	envReadGap         = "HASH_STREAM_READ_GAP_BYTES"
	envReadMaxRange    = "HASH_STREAM_READ_MAX_RANGE_BYTES"
	envReadConcurrency = "HASH_STREAM_READ_CONCURRENCY"
	envReadAhead       = "HASH_STREAM_READ_AHEAD_BYTES"
	envLogLevel        = "HASH_STREAM_LOG_LEVEL"
	envEMFNamespace    = "HASH_STREAM_EMF_NAMESPACE"
	envMemoryBudget    = "HASH_STREAM_MEMORY_BUDGET_BYTES"
	envMaxBlock        = index.EnvMaxBlockBytes
	// envFunctionMemory is set by Lambda: the function's memory in MB.
	envFunctionMemory = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
)

// Defaults of the function.
const (
	// DefaultIndexCacheBytes keeps index record sets across warm invocations.
	DefaultIndexCacheBytes = index.DefaultCacheBytes
	// DefaultMaxIndexFileBytes is the largest index file read: decoding
	// one peaks at about 4.3 times its size, within the function's memory.
	DefaultMaxIndexFileBytes = store.DefaultMaxIndexFileBytes
	// DefaultMaxResponseBytes keeps under Lambda's 200 MB cap on a streamed
	// response, whichever way the MB is counted (the adapter's own cap).
	DefaultMaxResponseBytes = lambdastream.DefaultMaxBytes
	// DefaultMemoryBudget is the memory budget when Lambda does not say
	// the function's memory; otherwise it is a quarter of it (at most
	// 256 MiB), which leaves the rest to the index cache and the runtime.
	DefaultMemoryBudget = 64 << 20
)

// memoryBudget returns the default budget for a function of mb megabytes
// (the value of AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "" outside Lambda).
func memoryBudget(mb string) int64 {
	n, err := strconv.ParseInt(mb, 10, 64)
	if err != nil || n <= 0 {
		return DefaultMemoryBudget
	}
	return min(max(n<<20/4, 16<<20), 256<<20)
}

// config is the function's configuration, read once at init.
type config struct {
	// s3 is where the stores are and how to reach S3 (the variables
	// s3.ReadEnv reads).
	s3                s3.Env
	indexCacheBytes   int64
	maxIndexFileBytes int64
	maxResponseBytes  int64
	planner           streamer.PlannerConfig
	logLevel          slog.Level
	memoryBudget      int64
	maxBlockBytes     int64
	// emfNamespace, when set, makes each request log line also publish
	// CloudWatch metrics (Embedded Metric Format) in that namespace.
	emfNamespace string
}

// loadConfig reads the configuration from getenv; every problem is in the
// error, so a bad deployment fails its init with one clear message.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		planner:      streamer.DefaultPlannerConfig(),
		emfNamespace: getenv(envEMFNamespace),
	}
	var problems []string
	s3env, err := s3.ReadEnv(getenv)
	if err != nil {
		// One problem a line (errors.Join).
		for line := range strings.SplitSeq(err.Error(), "\n") {
			problems = append(problems, strings.TrimPrefix(line, "s3: "))
		}
	}
	c.s3 = s3env
	bytesVar := func(name string, def int64, min int64) int64 {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < min {
			problems = append(problems, fmt.Sprintf("%s=%q: want an integer >= %d", name, v, min))
			return def
		}
		return n
	}
	c.indexCacheBytes = bytesVar(envIndexCacheBytes, DefaultIndexCacheBytes, 0)
	c.maxIndexFileBytes = bytesVar(envMaxIndexFile, DefaultMaxIndexFileBytes, 1)
	c.maxResponseBytes = bytesVar(envMaxResponse, DefaultMaxResponseBytes, 1)
	c.planner.Gap = bytesVar(envReadGap, c.planner.Gap, 0)
	c.planner.MaxRange = bytesVar(envReadMaxRange, c.planner.MaxRange, 1)
	c.planner.Concurrency = int(bytesVar(envReadConcurrency, int64(c.planner.Concurrency), 1))
	c.planner.ReadAhead = bytesVar(envReadAhead, c.planner.ReadAhead, 1)
	c.memoryBudget = bytesVar(envMemoryBudget, memoryBudget(getenv(envFunctionMemory)), gateway.DefaultResponseFloor)
	c.maxBlockBytes = bytesVar(envMaxBlock, streamer.DefaultMaxBlockBytes, 1)
	if v := getenv(envLogLevel); v != "" {
		if err := c.logLevel.UnmarshalText([]byte(strings.ToUpper(v))); err != nil {
			problems = append(problems, fmt.Sprintf("%s=%q: want debug, info, warn or error", envLogLevel, v))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return config{}, fmt.Errorf("gateway function configuration: %s", strings.Join(problems, "; "))
	}
	return c, nil
}
