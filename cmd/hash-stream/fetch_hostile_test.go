package main

// hash-stream fetch against a hostile gateway (lib/fetch/fetchtest): the
// DAGs and the drip of issue 21, bounded in `make test`; the same with the
// real binary and its defaults, timed and measured, in `make soak`.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/fetch/fetchtest"
	"github.com/ipfs/go-cid"
)

// Each hostile DAG ends with exit 1, a message naming the limit and the
// flag that raises it, and nothing left next to -o; the drip is failed
// over; --timeout ends a fetch that makes no progress; the part a killed
// fetch left is removed.
func TestFetchHostile(t *testing.T) {
	g := fetchtest.New(t)
	n3, n2 := g.DiamondDir(40), g.DiamondHAMT(4)
	small := g.DiamondDir(6) // 126 names, 64 files, 6 levels
	file := g.File([]byte("a file\n"), 1000)
	link := g.Dir(fetchtest.Entry("a.txt", file), fetchtest.Entry("link", g.Symlink("../../../../tmp/x")))
	for _, tt := range []struct {
		name string
		root cid.Cid
		args []string
		want []string // in the error line
	}{
		{"N3", n3, nil, []string{"holds 1048574 entries, over the limit of 1000000", "41 distinct blocks", "--max-entries raises the limit"}},
		{"N2", n2, nil, []string{"HAMT shard", "linked twice"}},
		{"max-entries", small, []string{"--max-entries", "100"}, []string{"the tree holds 126 entries, over the limit of 100", "--max-entries raises"}},
		{"max-depth", small, []string{"--max-depth", "3"}, []string{"goes more than 3 folders deep", "--max-depth raises"}},
		{"max-bytes", small, []string{"--max-bytes", "1000"}, []string{"holds 1408 bytes, over the limit of 1000", "--max-bytes raises"}},
		{"max-bytes file", file, []string{"--max-bytes", "6"}, []string{"holds 7 bytes, over the limit of 6", "--max-bytes raises"}},
		{"symlink", link, nil, []string{"link: symbolic link entry refused", "../../../../tmp/x", "--symlinks writes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			start := time.Now()
			code, _, errOut := runCLI(t, dir, append([]string{"fetch", tt.root.String(), "--gateway", g.URL, "-o", filepath.Join(dir, "out")}, tt.args...)...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			last := lines[len(lines)-1]
			if code != 1 || !strings.HasPrefix(last, "hash-stream fetch: ") || strings.Contains(errOut, "retrying") {
				t.Errorf("exit %d, %q; want 1 at once", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(last, w) {
					t.Errorf("error %q lacks %q", last, w)
				}
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %s", d)
			}
			onlyOutput(t, dir)
		})
	}
	// With --symlinks the link is written as it is.
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, dir, "fetch", link.String(), "--gateway", g.URL, "-o", filepath.Join(dir, "out"), "--symlinks"); code != 0 {
		t.Fatalf("--symlinks: %d %s", code, errOut)
	}
	if target, err := os.Readlink(filepath.Join(dir, "out", "link")); err != nil || target != "../../../../tmp/x" {
		t.Errorf("link: %q %v", target, err)
	}
	// Under the limits, the diamond is written whole.
	if code, _, errOut := runCLI(t, dir, "fetch", small.String(), "--gateway", g.URL, "-o", filepath.Join(dir, "small"), "--max-entries", "126", "--max-depth", "5", "--max-bytes", "1408"); code != 0 {
		t.Fatalf("a diamond under the limits: %d %s", code, errOut)
	}
	for _, bad := range [][]string{{"--max-entries", "0"}, {"--max-bytes", "-1"}, {"--min-rate", "x"}, {"--max-depth", "0"}, {"--timeout", "-1s"}} {
		if code, _, errOut := runCLI(t, dir, append([]string{"fetch", file.String(), "--gateway", g.URL, "-o", filepath.Join(dir, "x")}, bad...)...); code != 1 || !strings.Contains(errOut, "usage:") {
			t.Errorf("%v: exit %d, %q; want a usage error", bad, code, errOut)
		}
	}
}

// A gateway that answers 200 then drips its CAR a byte at a time (issue
// 21's N4) is failed over after one --rate-window; alone, with no minimum
// rate, --timeout ends the fetch; both leave nothing.
func TestFetchDripAndTimeout(t *testing.T) {
	content := bytes.Repeat([]byte("a file a gateway drips\n"), 2000)
	drip, good := fetchtest.New(t), fetchtest.New(t)
	root := drip.File(content, 8192)
	good.File(content, 8192)
	drip.Drip(5 * time.Millisecond)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	start := time.Now()
	code, _, errOut := runCLI(t, dir, "fetch", root.String(), "--gateway", drip.URL, "--gateway", good.URL, "-o", out, "--slice-size", "16384", "--min-rate", "1024", "--rate-window", "200ms")
	if code != 0 || !strings.Contains(errOut, "retrying") || !strings.Contains(errOut, "below the minimum rate") {
		t.Fatalf("drip then a good gateway: exit %d, %q", code, errOut)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %s: the rate window did not end the drip (the idle timeout is 30s)", d)
	}
	checkFile(t, out, content)
	os.Remove(out)
	code, _, errOut = runCLI(t, dir, "fetch", root.String(), "--gateway", drip.URL, "-o", out, "--min-rate", "0", "--timeout", "300ms")
	if code != 1 || !strings.Contains(errOut, "hash-stream fetch: timed out after 300ms (--timeout)") {
		t.Errorf("--timeout: exit %d, %q", code, errOut)
	}
	onlyOutput(t, dir)
}

// The temporary folder a killed fetch left (no process holds its lock) is
// removed by the next fetch to the same -o; another output's is kept.
func TestFetchRemovesLeftover(t *testing.T) {
	g := fetchtest.New(t)
	file := g.File([]byte("a file\n"), 1000)
	dir := t.TempDir()
	for _, name := range []string{".out.123456.part", ".other.654321.part"} {
		if err := os.MkdirAll(filepath.Join(dir, name, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errOut := runCLI(t, dir, "fetch", file.String(), "--gateway", g.URL, "-o", filepath.Join(dir, "out")); code != 0 {
		t.Fatalf("fetch: %d %s", code, errOut)
	}
	onlyOutput(t, dir, "out", ".other.654321.part")
}

// The hostile DAGs of issue 21 against the real binary with its defaults:
// N2 and N3 end with exit 1 in 5 s at most, under 128 MiB of peak RSS,
// leaving nothing; the drip (one byte every 200 ms) is failed over within
// the idle timeout and the rate window; a fetch killed with SIGKILL leaves
// its part, which the next fetch removes. Run by make soak.
func TestSoakFetchHostile(t *testing.T) {
	if os.Getenv("HASH_STREAM_SOAK") == "" {
		t.Skip("a soak test: run with HASH_STREAM_SOAK=1 (make soak)")
	}
	bin := soakBinary(t)
	g := fetchtest.New(t)
	for _, tt := range []struct {
		name string
		root cid.Cid
	}{
		{"N2 HAMT 4 levels of 256 links", g.DiamondHAMT(4)},
		{"N3 dir 40 levels of {a, b}", g.DiamondDir(40)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			code, wall, rss, stderr := timeFetch(t, bin, tt.root.String(), "--gateway", g.URL, "-o", filepath.Join(dir, "out"))
			t.Logf("exit %d in %s, peak RSS %d MiB: %s", code, wall.Round(time.Millisecond), rss>>20, strings.TrimSpace(stderr))
			if code != 1 || wall > 5*time.Second || rss > 128<<20 {
				t.Errorf("want exit 1 in 5 s under 128 MiB")
			}
			onlyOutput(t, dir)
		})
	}
	t.Run("N4 drip", func(t *testing.T) {
		content := bytes.Repeat([]byte("a file a gateway drips\n"), 20000)
		drip, good := fetchtest.New(t), fetchtest.New(t)
		root := drip.File(content, 65536)
		good.File(content, 65536)
		drip.Drip(200 * time.Millisecond)
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		code, wall, rss, stderr := timeFetch(t, bin, root.String(), "--gateway", drip.URL, "--gateway", good.URL, "-o", out, "--slice-size", "65536")
		t.Logf("exit %d in %s, peak RSS %d MiB: %s", code, wall.Round(time.Millisecond), rss>>20, strings.TrimSpace(stderr))
		if code != 0 || wall > 60*time.Second || !strings.Contains(stderr, "below the minimum rate") {
			t.Errorf("want exit 0 within the idle timeout and the rate window (60 s), after failing the drip over")
		}
		checkFile(t, out, content)
	})
	t.Run("kill -9", func(t *testing.T) {
		content := bytes.Repeat([]byte("a file whose fetch is killed\n"), 20000)
		stuck, good := fetchtest.New(t), fetchtest.New(t)
		root := stuck.File(content, 65536)
		good.File(content, 65536)
		stuck.Drip(time.Hour)
		asked := make(chan struct{}, 16)
		stuck.OnRequest(func(r *http.Request) {
			if r.URL.Query().Get("format") == "car" {
				asked <- struct{}{}
			}
		})
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		cmd := exec.Command(bin, "fetch", root.String(), "--gateway", stuck.URL, "-o", out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-asked:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatal("the fetch never asked a slice")
		}
		cmd.Process.Kill()
		cmd.Wait()
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || !regexp.MustCompile(`^\.out\.\d+\.part$`).MatchString(entries[0].Name()) {
			t.Fatalf("after kill -9: %v, want its part", entries)
		}
		t.Logf("left by kill -9: %s", entries[0].Name())
		if out, err := exec.Command(bin, "fetch", root.String(), "--gateway", good.URL, "-o", out).CombinedOutput(); err != nil {
			t.Fatalf("the next fetch: %v %s", err, out)
		}
		checkFile(t, out, content)
		onlyOutput(t, dir, "out")
	})
}

// timeFetch runs bin fetch args under /usr/bin/time -v when there is one
// (its figures are the ones reported), else alone (peak RSS 0), and
// returns its exit code, wall time, peak RSS and stderr.
func timeFetch(t *testing.T, bin string, args ...string) (int, time.Duration, int64, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{bin, "fetch"}, args...)
	timed := false
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		argv = append([]string{"/usr/bin/time", "-v"}, argv...)
		timed = true
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("%v: %v", argv, err)
	}
	var rss int64
	out := stderr.String()
	if timed {
		m := regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no RSS in /usr/bin/time's output: %s", out)
		}
		kb, _ := strconv.ParseInt(m[1], 10, 64)
		rss = kb << 10
		if m := regexp.MustCompile(`Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)`).FindStringSubmatch(out); m != nil {
			t.Logf("/usr/bin/time: elapsed %s, max RSS %d kB", m[1], kb)
		}
		out, _, _ = strings.Cut(out, "\tCommand being timed")
	} else {
		t.Log("no /usr/bin/time: peak RSS not measured")
	}
	return code, wall, rss, fmt.Sprint(strings.TrimSpace(out))
}
