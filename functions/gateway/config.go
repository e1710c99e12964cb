package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/lambdastream"
	"github.com/hash-stream/hash-stream-aws/lib/server"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// Environment variables of the function besides the read side's (package
// server) and the S3 store's (package s3).
const (
	envEMFNamespace = "HASH_STREAM_EMF_NAMESPACE"
	// envFunctionMemory is set by Lambda: the function's memory in MB.
	envFunctionMemory = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
)

// Defaults of the function where they differ from serve's.
const (
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
	s3 s3.Env
	// server is the read side's configuration, as serve's.
	server server.Config
	// emfNamespace, when set, makes each request log line also publish
	// CloudWatch metrics (Embedded Metric Format) in that namespace.
	emfNamespace string
}

// defaultServer is the read side's configuration before the environment:
// serve's, with the budget sized to the function's memory, responses
// capped under Lambda's, and the viewer's address taken from CloudFront.
func defaultServer(getenv func(string) string) server.Config {
	c := server.DefaultConfig()
	c.MemoryBudget = memoryBudget(getenv(envFunctionMemory))
	c.MaxResponseBytes = DefaultMaxResponseBytes
	// Only CloudFront can call the Function URL (origin access control),
	// and it writes this header itself when the stack's origin request
	// policy asks for it.
	c.ViewerFrom = "CloudFront-Viewer-Address"
	return c
}

// loadConfig reads the configuration from getenv; every problem is in the
// error, so a bad deployment fails its init with one clear message.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{server: defaultServer(getenv), emfNamespace: getenv(envEMFNamespace)}
	var problems []string
	// One problem a line (errors.Join), or a "; "-joined list.
	add := func(err error, sep, trim string) {
		if err != nil {
			for p := range strings.SplitSeq(err.Error(), sep) {
				problems = append(problems, strings.TrimPrefix(p, trim))
			}
		}
	}
	s3env, err := s3.ReadEnv(getenv)
	add(err, "\n", "s3: ")
	c.s3 = s3env
	add(c.server.FromEnv(getenv), "; ", "")
	if c.server.MaxResponseBytes == 0 {
		// serve may go uncapped; a Lambda response may not.
		problems = append(problems, fmt.Sprintf("%s=%q: want an integer >= 1 (a Lambda response is at most 200 MB)", server.EnvMaxResponseBytes, getenv(server.EnvMaxResponseBytes)))
	}
	if len(problems) == 0 {
		add(c.server.Validate(), "\n", "")
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return config{}, fmt.Errorf("gateway function configuration: %s", strings.Join(problems, "; "))
	}
	return c, nil
}
