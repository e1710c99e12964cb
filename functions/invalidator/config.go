package main

import (
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/heal"
	"github.com/hash-stream/hash-stream-aws/lib/logging"
)

// Environment variables of the function, the contract with the CDK app
// (infra/heal.go sets them; TestInfraEnvIsWhatTheFunctionReads checks the
// two agree), besides the log level (logging.EnvLevel).
const (
	envDistributionID       = "HASH_STREAM_DISTRIBUTION_ID"
	envInvalidationsPerHour = "HASH_STREAM_INVALIDATIONS_PER_HOUR"
)

// maxPerHour bounds HASH_STREAM_INVALIDATIONS_PER_HOUR: at $0.005 a path,
// 3000 an hour is $15 an hour.
const maxPerHour = 3000

// distributionRE matches a CloudFront distribution ID.
var distributionRE = regexp.MustCompile(`^[A-Z0-9]{1,64}$`)

// config is the function's configuration, read once at init.
type config struct {
	distribution string
	perHour      int
	logLevel     slog.Level
}

// loadConfig reads the configuration with lookupEnv (os.LookupEnv); every
// problem is in the error.
func loadConfig(lookupEnv func(string) (string, bool)) (config, error) {
	c := config{perHour: heal.DefaultHourlyLimit, logLevel: slog.LevelInfo}
	var problems []string
	c.distribution, _ = lookupEnv(envDistributionID)
	if !distributionRE.MatchString(c.distribution) {
		problems = append(problems, fmt.Sprintf("%s=%q: want a CloudFront distribution ID", envDistributionID, c.distribution))
	}
	if v, ok := lookupEnv(envInvalidationsPerHour); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPerHour {
			problems = append(problems, fmt.Sprintf("%s=%q: want an integer from 1 to %d", envInvalidationsPerHour, v, maxPerHour))
		}
		c.perHour = n
	}
	if v, ok := lookupEnv(logging.EnvLevel); ok && v != "" {
		l, err := logging.ParseLevel(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s=%q: %v", logging.EnvLevel, v, err))
		}
		c.logLevel = l
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("invalidator: %s", strings.Join(problems, "; "))
	}
	return c, nil
}
