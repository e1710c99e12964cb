package main

import "fmt"

// Synth-time warnings: configurations that deploy but are likely to cost
// or fail later. The stack adds each as a CDK warning annotation (`cdk
// synth` prints it; `cdk synth --strict` fails on it), with an ID that
// `Annotations.acknowledgeWarning` would take.

// Warning IDs.
const (
	WarnGuardrails         = "hash-stream:guardrails-off"
	WarnReadTimeoutQuota   = "hash-stream:origin-read-timeout-quota"
	WarnKeepaliveQuota     = "hash-stream:origin-keepalive-timeout-quota"
	WarnTimeoutCutsStreams = "hash-stream:timeout-cuts-large-responses"
)

type configWarning struct{ id, message string }

// configWarnings are the warnings cfg deserves.
func configWarnings(cfg Config) []configWarning {
	var ws []configWarning
	if cfg.OriginReadTimeoutSeconds > QuotaOriginTimeoutSeconds {
		ws = append(ws, configWarning{WarnReadTimeoutQuota, fmt.Sprintf(
			"originReadTimeout=%d is above the %d s CloudFront allows by default (CloudFront Developer Guide, \"Quotas\": response timeout per origin): the deploy fails unless the account has an approved quota increase (Service Quotas, CloudFront)",
			cfg.OriginReadTimeoutSeconds, QuotaOriginTimeoutSeconds)})
	}
	if cfg.OriginKeepaliveTimeoutSeconds > QuotaOriginTimeoutSeconds {
		ws = append(ws, configWarning{WarnKeepaliveQuota, fmt.Sprintf(
			"originKeepaliveTimeout=%d is above the %d s CloudFront allows by default (CloudFront Developer Guide, \"Quotas\": keep-alive timeout per origin): the deploy fails unless the account has an approved quota increase",
			cfg.OriginKeepaliveTimeoutSeconds, QuotaOriginTimeoutSeconds)})
	}
	if cfg.Compute != ComputeLambda {
		return ws
	}
	if cfg.TimeoutSeconds < MaxStreamSeconds {
		ws = append(ws, configWarning{WarnTimeoutCutsStreams, fmt.Sprintf(
			"timeout=%d: the largest response the gateway streams (199,000,000 bytes: 6 MB at full speed, then 2 MB/s) takes about %d s, so the function timeout cuts it; clients must ask for smaller entity-bytes slices, or raise timeout",
			cfg.TimeoutSeconds, MaxStreamSeconds)})
	}
	if cfg.ReservedConcurrency == 0 && !cfg.WAF && cfg.WebACLArn == "" {
		conc := int(costCount("accountConcurrency"))
		w, one := worstCaseHour(cfg.MemoryMB, conc), worstCaseHour(cfg.MemoryMB, 1)
		ws = append(ws, configWarning{WarnGuardrails, fmt.Sprintf(
			"no guardrail: neither reservedConcurrency nor waf/webAclArn is set. A client asking for distinct entity-bytes slices or filenames misses the cache every time, "+
				"and each miss holds an execution for up to %d s: at the account's default %d concurrent executions that is at least $%.0f an hour "+
				"(Lambda $%.0f, response streaming $%.0f, CloudFront egress $%.0f; infra/COST.md, \"Worst hour without guardrails\"), and it throttles every other function of the account in the region. "+
				"Set -c reservedConcurrency=<n> (about $%.2f an hour per execution) and/or -c waf=true (stack in us-east-1) or -c webAclArn=<ARN of a CLOUDFRONT web ACL>",
			MaxStreamSeconds, conc, w.total(), w.lambda, w.stream, w.egress, one.total())})
	}
	return ws
}
