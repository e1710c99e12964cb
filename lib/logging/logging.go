// Package logging is what the servers and functions share about their
// JSON logs: the variable that sets the level, and how its value reads.
package logging

import (
	"errors"
	"log/slog"
	"strings"
)

// EnvLevel sets the log level of `hash-stream serve` (--log-level), the
// gateway function and the indexer function.
const EnvLevel = "HASH_STREAM_LOG_LEVEL"

// ParseLevel reads a level name (debug, info, warn or error, any case,
// with an optional offset such as warn+2).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, errors.New("want debug, info, warn or error")
	}
	return l, nil
}
