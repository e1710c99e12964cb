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

var update = flag.Bool("update", false, "rewrite the generated files: the tables of COST.md, cachekey.min.js")

// costLine is one line of a scenario table: a quantity per column and the
// unit price it is multiplied by. qty < 0 marks a column where the line does
// not apply.
type costLine struct {
	what, formula string
	qty           []float64
	unitUSD       float64
}

const na = -1

// renderCostTable renders lines and their total per column, then extra
// lines (an option's, such as WAF) that are shown but not summed.
func renderCostTable(cols []string, lines []costLine, extra ...costLine) string {
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
	for _, l := range extra {
		fmt.Fprintf(&b, "| %s (not in the total) | %s |", l.what, l.formula)
		for _, q := range l.qty {
			if q == na {
				b.WriteString(" n/a |")
				continue
			}
			fmt.Fprintf(&b, " %s (%s) |", trimQty(q), usdStr(q*l.unitUSD))
		}
		b.WriteString("\n")
	}
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
	wafReq := p("wafRequest") / 1e6

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
		}, costLine{"AWS WAF requests, with `waf` or `webAclArn`", "n (ECS: 1)",
			[]float64{n, n, n, n, 1}, wafReq})

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
	}, costLine{"AWS WAF requests, with `waf` or `webAclArn`", "10^6 (cache hits included: WAF sees every request)",
		[]float64{m, m, m, m}, wafReq})

	// One maxResponseBytes slice missed by every regional edge cache
	// (without Origin Shield each may fetch it on its own) or by Origin
	// Shield alone.
	recs := c("regionalEdgeCaches")
	slice := c("maxResponseBytes")
	sliceSeconds := (slice - c("uncappedBytes")) / c("cappedBytesPerSec")
	sliceStreamGB := (slice - c("uncappedBytes")) / gib
	sliceGETs := packs*slice/gib + 1
	sections["shield"] = fmt.Sprintf("One slice of %s bytes (`maxResponseBytes`), a cache miss everywhere; "+
		"without Origin Shield each of the %.0f regional edge caches (`regionalEdgeCaches`) may fetch it from the origin on its own.\n\n",
		trimQty(slice), recs) +
		renderCostTable([]string{"no Origin Shield, every regional edge cache misses", "Origin Shield (`originShieldRegion`)"}, []costLine{
			{"origin fetches per object (Lambda requests)", "regionalEdgeCaches, or 1",
				[]float64{recs, 1}, lReq},
			{"Lambda GB-seconds", "fetches × (maxResponseBytes − uncappedBytes) / cappedBytesPerSec × memoryGB",
				[]float64{recs * sliceSeconds * c("memoryGB"), sliceSeconds * c("memoryGB")}, lGBs},
			{"Lambda streamed GB", "fetches × (maxResponseBytes − uncappedBytes) / 2^30",
				[]float64{recs * sliceStreamGB, sliceStreamGB}, lStream},
			{"S3 pack GETs", "fetches × (packGETsPerGiB × maxResponseBytes / 2^30 + 1)",
				[]float64{recs * sliceGETs, sliceGETs}, s3GET},
			{"Origin Shield requests", "regionalEdgeCaches − 1 (the shield's own regional edge cache is not charged)",
				[]float64{na, recs - 1}, p("originShieldRequest") / 1e4},
		})

	w := worstCaseHour(DefaultMemoryMB, int(c("accountConcurrency")))
	conc := c("accountConcurrency")
	sections["worst"] = fmt.Sprintf("%.0f executions (`accountConcurrency`) of %d MB each streaming a %s-byte slice back to back, "+
		"%.0f responses an hour, every one a cache miss. This is what the guardrails warning of `cdk synth` prints (with the configured `memorySize`).\n\n",
		conc, DefaultMemoryMB, trimQty(slice), w.responses) +
		renderCostTable([]string{"per hour"}, []costLine{
			{"Lambda requests", "responses = accountConcurrency × 3600 / ((maxResponseBytes − uncappedBytes) / cappedBytesPerSec)",
				[]float64{w.responses}, lReq},
			{"Lambda GB-seconds", "accountConcurrency × 3600 × memoryGB",
				[]float64{conc * 3600 * c("memoryGB")}, lGBs},
			{"Lambda streamed GB", "accountConcurrency × 3600 × cappedBytesPerSec / 2^30",
				[]float64{conc * 3600 * c("cappedBytesPerSec") / gib}, lStream},
			{"CloudFront egress, GB", "responses × maxResponseBytes / 2^30",
				[]float64{w.responses * slice / gib}, cfOut},
			{"CloudFront requests and cache-key function", "responses",
				[]float64{w.responses}, cfReq + cfFn},
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
	if *update {
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
	// The worst hour, by hand: 1000 executions × 3600 s of 1 GB at
	// $0.0000133334 is $48.00; 1000 × 3600 × 2e6 B = 6705.5 GB streamed at
	// $0.008 is $53.64; a response is 96.5 s, so 37,305.7 responses of
	// 199e6 B are 6914.0 GB of egress at $0.085, $587.69.
	w := worstCaseHour(1024, 1000)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"responses", w.responses, 37305.7},
		{"lambda", w.lambda, 48.00 + 37305.7*0.2e-6},
		{"stream", w.stream, 53.64},
		{"egress", w.egress, 587.69},
	} {
		if c.got < c.want*0.999 || c.got > c.want*1.001 {
			t.Errorf("worst hour %s = %.4f, want about %.4f", c.name, c.got, c.want)
		}
	}
	if tot := w.total(); tot < 689 || tot > 690.5 {
		t.Errorf("worst hour total %.2f, want about $689.5", tot)
	}
	// Reserved concurrency scales it down linearly.
	if r := worstCaseHour(1024, 10).total(); r < w.total()/100*0.999 || r > w.total()/100*1.001 {
		t.Errorf("worst hour at 10 executions %.4f, want a hundredth of %.4f", r, w.total())
	}
	// Origin Shield: one origin fetch instead of one per regional edge cache.
	if !strings.Contains(s["shield"], "| origin fetches per object (Lambda requests) | regionalEdgeCaches, or 1 | 13.00 (") {
		t.Errorf("shield table:\n%s", s["shield"])
	}
}
