package main

import "time"

// emfMetrics are the request log line's fields published as CloudWatch
// metrics through the Embedded Metric Format, with their units.
var emfMetrics = []map[string]string{
	{"Name": "bytes", "Unit": "Bytes"},
	{"Name": "blocks", "Unit": "Count"},
	{"Name": "storage_reads", "Unit": "Count"},
	{"Name": "index_cache_hits", "Unit": "Count"},
	{"Name": "index_cache_misses", "Unit": "Count"},
	{"Name": "ttfb_ms", "Unit": "Milliseconds"},
	{"Name": "duration_ms", "Unit": "Milliseconds"},
	{"Name": "denylist_reload_failures", "Unit": "Count"},
}

// emf returns the "_aws" member that turns a request log line into
// CloudWatch metrics in namespace: the values are the line's own fields,
// so nothing is logged twice.
func emf(namespace string, now time.Time) map[string]any {
	return map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  namespace,
			"Dimensions": [][]string{{}},
			"Metrics":    emfMetrics,
		}},
	}
}
