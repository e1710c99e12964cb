package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

// A request log line with the EMF member is a valid Embedded Metric Format
// document: every metric it declares is a number at the top level.
func TestEMF(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("request", "status", 200, "bytes", 1973, "blocks", 10, "storage_reads", 2,
		"index_cache_hits", 1, "index_cache_misses", 1, "ttfb_ms", 3, "duration_ms", 5, "denylist_reload_failures", 0,
		"_aws", emf("HashStream", time.UnixMilli(1795618800000)))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	aws, ok := line["_aws"].(map[string]any)
	if !ok || aws["Timestamp"] != float64(1795618800000) {
		t.Fatalf("_aws member: %v", line["_aws"])
	}
	directives := aws["CloudWatchMetrics"].([]any)
	d := directives[0].(map[string]any)
	if d["Namespace"] != "HashStream" {
		t.Errorf("namespace %v", d["Namespace"])
	}
	metrics := d["Metrics"].([]any)
	if len(metrics) != len(emfMetrics) {
		t.Fatalf("%d metrics", len(metrics))
	}
	for _, m := range metrics {
		name := m.(map[string]any)["Name"].(string)
		if _, ok := line[name].(float64); !ok {
			t.Errorf("metric %s is not a number at the top level of the line", name)
		}
	}
}

func TestLoadConfigEMF(t *testing.T) {
	c, err := loadConfig(env(withBuckets(map[string]string{envEMFNamespace: "HashStream"})))
	if err != nil || c.emfNamespace != "HashStream" {
		t.Fatalf("%+v %v", c, err)
	}
}
