package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/server"
	"github.com/ipfs/go-cid"
)

// metric returns the value of the Prometheus metric name (no labels) the
// server's metrics listener reports.
func (s *soakServer) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// peakRSSMiB returns the server's peak resident memory (VmHWM) in MiB.
func (s *soakServer) peakRSSMiB(t *testing.T) float64 {
	return float64(peakRSS(t, s.cmd.Process)) / (1 << 20)
}

// TestSoakNonReaders is issue 21's N1 at full size, with `serve`'s
// defaults (320 MiB budget, 30 s write timeout, 10 s admission wait): 1,000
// connections from 30 addresses (127.0.0.2-31, round robin) ask for the
// CAR of a 200 MiB file and never read (4 KiB receive buffers). Once every
// admitted one is stalled, a new client (127.0.0.250) fetches a 1 MiB raw
// block (want 200 within 1 s) and the whole CAR (want at least half its
// rate before the attack), all before the attackers' write deadline; the
// server's peak RSS must stay within the budget and 96 MiB.
func TestSoakNonReaders(t *testing.T) {
	soak(t)
	const (
		attackers = 1000
		addresses = 30
		budgetMiB = server.DefaultMemoryBudget >> 20
	)
	srv := startSoakServer(t, 200<<20, "--metrics-listen", "127.0.0.1:0")
	car := "/ipfs/" + srv.cid + "?format=car"
	base := "http://" + srv.addr
	client := clientFrom("127.0.0.250", 2*time.Minute)

	// A 1 MiB leaf, found down the first links from the root.
	c, err := cid.Decode(srv.cid)
	if err != nil {
		t.Fatal(err)
	}
	for c.Prefix().Codec != cid.Raw {
		resp, err := client.Get(base + "/ipfs/" + c.String() + "?format=raw")
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", c, resp.StatusCode, err)
		}
		links, err := dag.Links(c, data)
		if err != nil || len(links) == 0 {
			t.Fatalf("links of %s: %v %v", c, links, err)
		}
		c = links[0]
	}
	raw := "/ipfs/" + c.String() + "?format=raw"

	// timeGet fetches target whole and returns the time to the status
	// line and to the end, and the bytes.
	timeGet := func(target string) (toStatus, took time.Duration, n int64) {
		t.Helper()
		start := time.Now()
		resp, err := client.Get(base + target)
		if err != nil {
			t.Fatalf("new client %s: %v", target, err)
		}
		toStatus = time.Since(start)
		n, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("new client %s: status %d after %s, %d bytes, %v", target, resp.StatusCode, time.Since(start), n, err)
		}
		return toStatus, time.Since(start), n
	}
	rates := func(label string, tries int) []float64 {
		var r []float64
		for range tries {
			_, took, n := timeGet(car)
			if n < 200<<20 {
				t.Fatalf("%s CAR: %d bytes", label, n)
			}
			r = append(r, float64(n)/took.Seconds()/1e6)
		}
		slices.Sort(r)
		return r
	}
	var rawIdle []time.Duration
	for range 3 {
		_, took, _ := timeGet(raw)
		rawIdle = append(rawIdle, took)
	}
	idle := rates("unloaded", 3)
	t.Logf("unloaded: 1 MiB raw block in %v; 200 MiB CAR at %.0f MB/s (median of %.0f)", rawIdle, idle[1], idle)

	dialers := make([]*net.Dialer, addresses)
	for i := range dialers {
		dialers[i] = stalledDialer(fmt.Sprintf("127.0.0.%d", 2+i))
	}
	attackStart := time.Now()
	for i := range attackers {
		conn, err := dialers[i%addresses].Dial("tcp", srv.addr)
		if err != nil {
			t.Fatalf("attacker %d: %v", i, err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", car)
	}
	// Wait until every attacker's response is admitted, waiting or shed
	// (the requests reach the server in no set order: while the
	// attackers' shares even out, a stalled response of an address
	// holding two more than a waiting one is shed), and every admitted
	// one is stalled and holds its floor alone.
	floor := 1<<20 + 512<<10
	var admitted, waiting, stalled, used, shedBefore float64
	if !waitFor(DefaultWriteTimeout/2, func() bool {
		admitted, waiting = srv.metric(t, "hashstream_memory_budget_responses"), srv.metric(t, "hashstream_memory_budget_waiting")
		stalled, used = srv.metric(t, "hashstream_memory_budget_stalled"), srv.metric(t, "hashstream_memory_budget_used_bytes")
		shedBefore = srv.metric(t, "hashstream_responses_shed_total")
		return admitted > 0 && admitted+waiting+shedBefore == attackers && stalled == admitted && used == admitted*float64(floor)
	}) {
		t.Fatalf("attack not in place after %s: %v admitted, %v waiting, %v shed, %v stalled, %v bytes of the budget used (floors %v)",
			time.Since(attackStart), admitted, waiting, shedBefore, stalled, used, admitted*float64(floor))
	}
	ready := time.Since(attackStart)
	rssAttack := srv.rss(t)
	t.Logf("attack in place %s after it began: %v responses admitted, stalled, holding their floors alone; %v waiting; %v shed while the addresses' shares evened out; server RSS %.0f MiB",
		ready.Round(time.Millisecond), admitted, waiting, shedBefore, rssAttack)

	var rawLoaded, rawStatus []time.Duration
	for range 5 {
		toStatus, took, _ := timeGet(raw)
		rawStatus = append(rawStatus, toStatus)
		rawLoaded = append(rawLoaded, took)
	}
	loaded := rates("loaded", 3)
	measured := time.Since(attackStart)
	stalled = srv.metric(t, "hashstream_memory_budget_stalled")
	shed := srv.metric(t, "hashstream_responses_shed_total") - shedBefore
	peak := srv.peakRSSMiB(t)
	slices.Sort(rawLoaded)
	t.Logf("under attack: 1 MiB raw block: status in %v, whole in %v; 200 MiB CAR at %.0f MB/s (median of %.0f), %.0f%% of unloaded",
		rawStatus, rawLoaded, loaded[1], loaded, 100*loaded[1]/idle[1])
	t.Logf("measured %s after the attack began (write timeout 30 s); then %v responses stalled, %v shed for the new client; server peak RSS %.0f MiB (budget %d MiB + 96 = %d)",
		measured.Round(time.Millisecond), stalled, shed, peak, budgetMiB, budgetMiB+96)
	if worst := rawLoaded[len(rawLoaded)-1]; worst > time.Second {
		t.Errorf("the raw block took %s under attack, want at most 1 s", worst)
	}
	if loaded[1] < idle[1]/2 {
		t.Errorf("the CAR streamed at %.0f MB/s under attack, below half its unloaded %.0f MB/s", loaded[1], idle[1])
	}
	if measured >= DefaultWriteTimeout {
		t.Errorf("measured %s after the attack began: the attackers' write deadline (%s) may have freed room", measured, DefaultWriteTimeout)
	}
	if stalled < admitted/2 {
		t.Errorf("only %v of %v attackers' responses still stalled: the attack was not in place", stalled, admitted)
	}
	if peak > budgetMiB+96 {
		t.Errorf("peak RSS %.0f MiB, over the budget + 96 MiB (%d)", peak, budgetMiB+96)
	}
}
