package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The cost model of COST.md: its tables are generated here from the counts
// this project measures and the list prices, so they cannot drift from
// either. `go test ./infra -run TestCostModel -update` rewrites them.

var updateCost = flag.Bool("update", false, "rewrite the generated tables of COST.md")

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
}

const (
	awsLambda = "https://aws.amazon.com/lambda/pricing/"
	awsS3     = "https://aws.amazon.com/s3/pricing/"
	awsCF     = "https://aws.amazon.com/cloudfront/pricing/"
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

// costLine is one line of a scenario table: a quantity per column and the
// unit price it is multiplied by. qty < 0 marks a column where the line does
// not apply.
type costLine struct {
	what, formula string
	qty           []float64
	unitUSD       float64
}

const na = -1

func renderCostTable(cols []string, lines []costLine) string {
	var b strings.Builder
	b.WriteString("| line | formula |")
	for _, c := range cols {
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n| --- | --- |" + strings.Repeat(" ---: |", len(cols)) + "\n")
	totals := make([]float64, len(cols))
	for _, l := range lines {
		fmt.Fprintf(&b, "| %s | %s |", l.what, l.formula)
		for i, q := range l.qty {
			if q == na {
				b.WriteString(" n/a |")
				continue
			}
			usd := q * l.unitUSD
			totals[i] += usd
			fmt.Fprintf(&b, " %s (%s) |", trimQty(q), usdStr(usd))
		}
		b.WriteString("\n")
	}
	b.WriteString("| **total** | |")
	for _, t := range totals {
		fmt.Fprintf(&b, " **%s** |", usdStr(t))
	}
	b.WriteString("\n")
	return b.String()
}

// usdStr keeps small per-GB amounts visible: 6 decimals under a cent.
func usdStr(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v < 0.01:
		return fmt.Sprintf("$%.6f", v)
	default:
		return fmt.Sprintf("$%.4f", v)
	}
}

func trimQty(q float64) string {
	switch {
	case q == 0:
		return "0"
	case q >= 100:
		return fmt.Sprintf("%.0f", q)
	case q >= 1:
		return fmt.Sprintf("%.2f", q)
	default:
		return fmt.Sprintf("%.4f", q)
	}
}

// costSections computes every generated table of COST.md.
func costSections() map[string]string {
	c, p := costCount, costPrice
	s3GET, s3LIST := p("s3GET")/1e3, p("s3LIST")/1e3
	lReq, lGBs, lStream := p("lambdaRequest")/1e6, p("lambdaGBs"), p("lambdaStreamGB")
	cfReq, cfFn, cfOut := p("cfRequest")/1e4, p("cfFunction")/1e6, p("cfEgressGB")

	// Per GiB of CAR served through Lambda: n responses of at most
	// maxResponseBytes; each streams its first 6 MB uncapped, the rest at
	// 2 MB/s.
	n := gib / c("maxResponseBytes")
	capped := gib - n*c("uncappedBytes")
	seconds := capped / c("cappedBytesPerSec")
	packs := c("packGETsPerGiB")
	blocksPerGiB := gib / c("blockBytes")
	sections := map[string]string{}

	var b strings.Builder
	b.WriteString("| count | value | measured by |\n| --- | ---: | --- |\n")
	for _, x := range costCounts {
		fmt.Fprintf(&b, "| %s (`%s`) | %s | %s |\n", x.what, x.key, trimQty(x.value), x.source)
	}
	sections["counts"] = b.String()

	b.Reset()
	b.WriteString("| price | USD | unit | source (read 2026-11-29) |\n| --- | ---: | --- | --- |\n")
	for _, x := range costPrices {
		fmt.Fprintf(&b, "| %s (`%s`) | %g | %s | %s |\n", x.what, x.key, x.usd, x.unit, x.source)
	}
	sections["prices"] = b.String()

	carCols := []string{"Lambda, miss, new environment", "Lambda, miss, warm", "CloudFront hit", "one GET per block, miss, warm", "ECS Fargate, miss, warm (+ task-hours)"}
	sections["car"] = fmt.Sprintf("Served as %.2f responses of at most %s bytes (`n` = 2^30 / maxResponseBytes).\n\n", n, trimQty(c("maxResponseBytes"))) +
		renderCostTable(carCols, []costLine{
			{"S3 pack GETs", "packGETsPerGiB + n (one more per slice: an upper estimate); JS reference: 2^30 / blockBytes; ECS: one response, packGETsPerGiB",
				[]float64{packs + n, packs + n, 0, blocksPerGiB, packs}, s3GET},
			{"S3 index LISTs", "n × coldLISTs (new environment) or n × warmIndexReads",
				[]float64{n * c("coldLISTs"), n * c("warmIndexReads"), 0, n * c("warmIndexReads"), c("warmIndexReads")}, s3LIST},
			{"S3 index GETs", "n × coldIndexGETsCAR (new environment) or n × warmIndexReads",
				[]float64{n * c("coldIndexGETsCAR"), n * c("warmIndexReads"), 0, n * c("warmIndexReads"), c("warmIndexReads")}, s3GET},
			{"Lambda requests", "n",
				[]float64{n, n, 0, n, na}, lReq},
			{"Lambda GB-seconds", "(2^30 − n × uncappedBytes) / cappedBytesPerSec × memoryGB (the uncapped 6 MB counted as 0 s)",
				[]float64{seconds * c("memoryGB"), seconds * c("memoryGB"), 0, seconds * c("memoryGB"), na}, lGBs},
			{"Lambda streamed GB", "(2^30 − n × uncappedBytes) / 2^30",
				[]float64{capped / gib, capped / gib, 0, capped / gib, na}, lStream},
			{"CloudFront requests", "n (ECS: 1)",
				[]float64{n, n, n, n, 1}, cfReq},
			{"CloudFront Function (cache key)", "same as requests",
				[]float64{n, n, n, n, 1}, cfFn},
			{"CloudFront egress, GB", "1",
				[]float64{1, 1, 1, 1, 1}, cfOut},
		})

	const m = 1e6
	blockGB := c("blockBytes") * m / gib
	blockCols := []string{"Lambda, miss, new environment", "Lambda, miss, warm", "CloudFront hit", "ECS Fargate, miss, warm (+ task-hours)"}
	sections["block"] = renderCostTable(blockCols, []costLine{
		{"S3 pack GETs", "10^6 × packGETsPerBlock",
			[]float64{m * c("packGETsPerBlock"), m * c("packGETsPerBlock"), 0, m * c("packGETsPerBlock")}, s3GET},
		{"S3 index LISTs", "10^6 × coldLISTs (every request on a new environment: an upper bound) or warmIndexReads",
			[]float64{m * c("coldLISTs"), m * c("warmIndexReads"), 0, m * c("warmIndexReads")}, s3LIST},
		{"S3 index GETs", "10^6 × coldIndexGETsBlock or warmIndexReads",
			[]float64{m * c("coldIndexGETsBlock"), m * c("warmIndexReads"), 0, m * c("warmIndexReads")}, s3GET},
		{"Lambda requests", "10^6",
			[]float64{m, m, 0, na}, lReq},
		{"Lambda GB-seconds", "10^6 × blockSeconds × memoryGB (ASSUMED duration)",
			[]float64{m * c("blockSeconds") * c("memoryGB"), m * c("blockSeconds") * c("memoryGB"), 0, na}, lGBs},
		{"Lambda streamed GB", "0: a 1 MiB response is inside the first 6 MB",
			[]float64{0, 0, 0, na}, lStream},
		{"CloudFront requests", "10^6",
			[]float64{m, m, m, m}, cfReq},
		{"CloudFront Function (cache key)", "10^6",
			[]float64{m, m, m, m}, cfFn},
		{"CloudFront egress, GB", "10^6 × blockBytes / 2^30",
			[]float64{blockGB, blockGB, blockGB, blockGB}, cfOut},
	})

	hour := c("taskVCPU")*p("fargateVCPUh") + c("taskGB")*p("fargateGBh")
	sections["fargate"] = fmt.Sprintf("| line | formula | per task-hour | per task-month (730 h) |\n| --- | --- | ---: | ---: |\n"+
		"| Fargate ARM task | taskVCPU × fargateVCPUh + taskGB × fargateGBh | $%.5f | $%.2f |\n", hour, hour*730)
	return sections
}

var costMarker = regexp.MustCompile(`(?s)(<!-- cost:begin (\w+) -->\n).*?(<!-- cost:end -->)`)

// TestCostModel fails when a generated table of COST.md differs from what
// the counts and prices give; -update rewrites them.
func TestCostModel(t *testing.T) {
	const path = "COST.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sections := costSections()
	seen := map[string]bool{}
	out := costMarker.ReplaceAllFunc(doc, func(m []byte) []byte {
		g := costMarker.FindSubmatch(m)
		name := string(g[2])
		seen[name] = true
		body, ok := sections[name]
		if !ok {
			t.Errorf("COST.md has a section %q the model does not compute", name)
			return m
		}
		return append(append(append([]byte{}, g[1]...), body...), g[3]...)
	})
	for name := range sections {
		if !seen[name] {
			t.Errorf("COST.md lacks the section <!-- cost:begin %s -->", name)
		}
	}
	if bytes.Equal(out, doc) {
		return
	}
	if *updateCost {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the tables of %s", path)
		return
	}
	t.Errorf("COST.md's tables differ from the model: run `go test ./infra -run TestCostModel -update` and review the diff")
}

// TestCostModelSanity checks the model's arithmetic on figures worked by
// hand, so a wrong formula fails even when COST.md was regenerated.
func TestCostModelSanity(t *testing.T) {
	n := float64(gib) / 199e6
	if n < 5.39 || n > 5.40 {
		t.Errorf("slices per GiB = %v, want about 5.396", n)
	}
	// 2^30 − 5.396 × 6e6 = 1,041,365,xxx bytes at 2e6 B/s: about 520.7 s.
	if s := (gib - n*6e6) / 2e6; s < 520 || s > 521.5 {
		t.Errorf("capped seconds per GiB = %v, want about 520.7", s)
	}
	// A million 1 MiB blocks is 976.5625 GB of egress.
	if g := mib * 1e6 / float64(gib); g != 976.5625 {
		t.Errorf("egress GB per million blocks = %v", g)
	}
	s := costSections()
	if !strings.Contains(s["block"], "976.5625") && !strings.Contains(s["block"], "977") {
		t.Errorf("block table lacks the egress quantity:\n%s", s["block"])
	}
}
