package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/heal"
	"github.com/hash-stream/hash-stream-aws/lib/logging"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(lookupMap(map[string]string{envDistributionID: "E2ABCDEF123456"}))
	if err != nil || c.distribution != "E2ABCDEF123456" || c.perHour != heal.DefaultHourlyLimit || c.logLevel != slog.LevelInfo {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = loadConfig(lookupMap(map[string]string{envDistributionID: "E2ABCDEF123456", envInvalidationsPerHour: "5", logging.EnvLevel: "debug"}))
	if err != nil || c.perHour != 5 || c.logLevel != slog.LevelDebug {
		t.Fatalf("set: %+v, %v", c, err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want []string
	}{
		"no distribution":       {map[string]string{}, []string{envDistributionID}},
		"bad distribution":      {map[string]string{envDistributionID: "e2/../x"}, []string{envDistributionID}},
		"zero per hour":         {map[string]string{envDistributionID: "E1", envInvalidationsPerHour: "0"}, []string{envInvalidationsPerHour}},
		"too many per hour":     {map[string]string{envDistributionID: "E1", envInvalidationsPerHour: "3001"}, []string{envInvalidationsPerHour}},
		"per hour not a number": {map[string]string{envDistributionID: "E1", envInvalidationsPerHour: "ten"}, []string{envInvalidationsPerHour}},
		"bad level and all":     {map[string]string{envInvalidationsPerHour: "x", logging.EnvLevel: "loud"}, []string{envDistributionID, envInvalidationsPerHour, logging.EnvLevel}},
	} {
		_, err := loadConfig(lookupMap(tc.env))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v does not name %s", name, err, w)
			}
		}
	}
}
