package main

// The cost model's inputs: counts this project measures (or documented
// limits) and AWS list prices. cost_test.go renders COST.md's tables from
// them (and checks they are current); the stack reads them for the
// guardrails warning (worstCaseHour), so the figure it prints is the one
// COST.md shows.

const (
	gib = 1 << 30 // AWS bills data in GB of 2^30 bytes
	mib = 1 << 20
)

// count is a figure this project measures (or a documented limit), with
// where it comes from.
type count struct {
	key, what string
	value     float64
	source    string
}

// price is a list price, us-east-1, first tier, with where it was read.
type price struct {
	key, what string
	usd       float64
	unit      string
	source    string
}

var costCounts = []count{
	{"packGETsPerGiB", "S3 ranged GETs on packs per GiB of CAR", 21,
		"`HASH_STREAM_BENCH_BYTES=1073741824 go test -run XXX -bench 'ServeCAR/fs' -benchtime 1x ./lib/gateway`: 21.00 reads/op (`BenchmarkServeCAR`, lib/gateway/bench_test.go; 6 per 256 MiB)"},
	{"coldLISTs", "index LISTs of a request on a new execution environment", 1,
		"`TestRequestCounts` steps \"cold CAR\" and \"cold raw block\", cmd/hash-stream/roundtrip_test.go"},
	{"coldIndexGETsCAR", "index GETs of a CAR request, new environment", 2,
		"same test, \"cold CAR\" (a root has a BLOB and a CONTAINING record)"},
	{"coldIndexGETsBlock", "index GETs of a raw block request, new environment", 1,
		"same test, \"cold raw block\""},
	{"warmIndexReads", "index reads once the environment's index cache holds the records", 0,
		"same test, \"warm CAR\" and \"warm raw block\""},
	{"packGETsPerBlock", "S3 GETs on packs per raw block request", 1,
		"a block is one contiguous range of one pack (`lib/streamer`); \"warm raw block\" above makes one pack GET"},
	{"maxResponseBytes", "bytes of one Lambda response at most (larger CARs are served as slices: `entity-bytes`)", 199e6,
		"`lambdastream.DefaultMaxBytes` (lib/lambdastream/options.go), under Lambda's 200 MB streamed response cap"},
	{"uncappedBytes", "bytes per response streamed at full speed", 6e6,
		"Lambda docs, \"Bandwidth limits for response streaming\" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html)"},
	{"cappedBytesPerSec", "streaming rate past the first 6 MB, bytes/s", 2e6,
		"same page: at most 2 MBps"},
	{"memoryGB", "function memory, GB", 1,
		"`DefaultMemoryMB` = 1024 (infra/config.go)"},
	{"blockSeconds", "billed duration of a 1 MiB block request, s (ASSUMED, not measured: an S3 GET's first byte plus 1 MiB in-region)", 0.05,
		"not measured against AWS; the function's own start-to-answer without S3 is `BenchmarkColdStart` ms/answer (functions/gateway/measure_test.go). The duration line is linear in it"},
	{"blockBytes", "bytes of a block", mib,
		"the CLI's 1 MiB chunks (the unit of the second table)"},
	{"taskVCPU", "Fargate task vCPU (`compute=ecs`)", 1,
		"`DefaultTaskCPU` = 1024 (infra/config.go)"},
	{"taskGB", "Fargate task memory, GB", 2,
		"`DefaultTaskMemoryMB` = 2048 (infra/config.go)"},
	{"accountConcurrency", "Lambda concurrent executions of a region, default quota (what an unreserved function may take)", 1000,
		"Lambda Developer Guide, \"Lambda quotas\" (Concurrent executions: 1,000); `reservedConcurrency` caps it for the gateway"},
	{"regionalEdgeCaches", "CloudFront regional edge caches, each of which may miss an object on its own without Origin Shield", 13,
		"AWS global infrastructure page (\"13 Regional Edge Caches\"); CloudFront Developer Guide, \"Use Amazon CloudFront Origin Shield\" (without it, each regional edge cache can send a request to the origin for the same content)"},
}

const (
	awsLambda = "https://aws.amazon.com/lambda/pricing/"
	awsS3     = "https://aws.amazon.com/s3/pricing/"
	awsCF     = "https://aws.amazon.com/cloudfront/pricing/"
	awsWAF    = "https://aws.amazon.com/waf/pricing/"
)

var costPrices = []price{
	{"s3GET", "S3 Standard GET", 0.0004, "per 1,000 requests",
		awsS3 + " (the stored copy shows no number; $0.0004 from a third-party summary: https://c3x.dev/blog/s3-request-fees-explained)"},
	{"s3LIST", "S3 Standard LIST", 0.005, "per 1,000 requests",
		awsS3 + " (third-party summary as above)"},
	{"lambdaRequest", "Lambda requests", 0.20, "per 1,000,000 requests",
		awsLambda + " (quoted from that page by a third-party transcription: api-evangelist/aws-lambda plans-pricing.yml)"},
	{"lambdaGBs", "Lambda duration, Arm", 0.0000133334, "per GB-second",
		awsLambda + " (the page renders rates client-side; $0.0000133334 from a third-party summary: https://cloudchipr.com/blog/aws-lambda-pricing)"},
	{"lambdaStreamGB", "Lambda response streaming, past the first 6 MB of each response", 0.008, "per GB",
		awsLambda + " (NOT FOUND in any stored copy; the figure commonly given for this charge: check it before relying on it)"},
	{"cfRequest", "CloudFront HTTPS requests, United States", 0.01, "per 10,000 requests",
		awsCF + " (the stored copy's request table is cut; $0.0100 from a third-party listing: github.com/vreutova/infracost-idem-support pull 15)"},
	{"cfFunction", "CloudFront Functions invocations", 0.10, "per 1,000,000 invocations",
		awsCF + " (as quoted in infra/README for the cache-key function; also https://cur.vantage.sh/aws/amazoncloudfront/)"},
	{"cfEgressGB", "CloudFront data transfer out to the internet, United States, first 10 TB", 0.085, "per GB",
		awsCF + " (read in the stored copy of the page)"},
	{"fargateVCPUh", "Fargate Linux/ARM vCPU", 0.03238, "per vCPU-hour",
		"https://aws.amazon.com/fargate/pricing/ (not in a stored copy; from a third-party summary: https://www.vantage.sh/blog/fargate-pricing)"},
	{"fargateGBh", "Fargate Linux/ARM memory", 0.00356, "per GB-hour",
		"https://aws.amazon.com/fargate/pricing/ (third-party summary as above)"},
	{"wafRequest", "AWS WAF requests inspected (every request, cache hits included)", 0.60, "per 1,000,000 requests",
		awsWAF + " (as quoted in infra/README for `waf`, read 2026-11-29)"},
	{"wafACLMonth", "AWS WAF web ACL", 5, "per web ACL-month",
		awsWAF + " (as above)"},
	{"wafRuleMonth", "AWS WAF rule", 1, "per rule-month",
		awsWAF + " (as above; `wafCacheBustingRateLimit` adds a second rule)"},
	{"originShieldRequest", "CloudFront Origin Shield requests, United States (only those that reach the shield from another regional edge cache)", 0.0075, "per 10,000 requests",
		awsCF + " (NOT FOUND in a stored copy; the figure commonly given for the US: check it before relying on it)"},
}

func costCount(key string) float64 {
	for _, c := range costCounts {
		if c.key == key {
			return c.value
		}
	}
	panic("cost model: no count " + key)
}

func costPrice(key string) float64 {
	for _, p := range costPrices {
		if p.key == key {
			return p.usd
		}
	}
	panic("cost model: no price " + key)
}

// hourCost is the origin and delivery cost of one hour of saturated
// streaming, by line (USD).
type hourCost struct {
	responses          float64 // responses streamed in the hour
	lambda, stream     float64 // Lambda requests and GB-seconds; response streaming
	egress, cloudFront float64 // CloudFront data transfer out; requests and the cache-key function
}

func (h hourCost) total() float64 { return h.lambda + h.stream + h.egress + h.cloudFront }

// worstCaseHour is what an hour costs when concurrency executions of a
// function of memoryMB each stream the largest response (maxResponseBytes:
// 6 MB uncapped, counted as 0 s, then 2 MB/s) back to back, every one a
// cache miss: distinct entity-bytes slices or filenames, which no cache
// key folds together. It is a floor of the worst case, not a bound: a
// client asking for slices under 6 MB is not held to 2 MB/s, so it can
// draw more egress per execution than this.
func worstCaseHour(memoryMB, concurrency int) hourCost {
	c, p := costCount, costPrice
	perResponse := (c("maxResponseBytes") - c("uncappedBytes")) / c("cappedBytesPerSec") // seconds
	execSeconds := float64(concurrency) * 3600
	n := execSeconds / perResponse
	h := hourCost{responses: n}
	h.lambda = n*p("lambdaRequest")/1e6 + execSeconds*float64(memoryMB)/1024*p("lambdaGBs")
	h.stream = execSeconds * c("cappedBytesPerSec") / gib * p("lambdaStreamGB")
	h.egress = n * c("maxResponseBytes") / gib * p("cfEgressGB")
	h.cloudFront = n * (p("cfRequest")/1e4 + p("cfFunction")/1e6)
	return h
}
