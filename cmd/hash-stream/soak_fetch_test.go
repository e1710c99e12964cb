package main

// The memory-budget soak of `hash-stream serve`, run by `make soak`
// (HASH_STREAM_SOAK=1) and never by `make test`: many clients fetching
// large CARs at once, measuring the server's peak RSS and the aggregate
// throughput. Every connection goes to 127.0.0.1, each client's from its
// own loopback address (127.0.0.2, 127.0.0.3, ...: distinct clients to
// serve's per-client limit), and the run is bounded in clients and time.

import (
	"bufio"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func soakEnvInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// soakBinary returns the hash-stream binary to test: HASH_STREAM_SOAK_BIN (an
// older build, to compare), else one built from this tree.
func soakBinary(t *testing.T) string {
	if bin := os.Getenv("HASH_STREAM_SOAK_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "hash-stream")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServeProcess runs `hash-stream serve` over dir on a free loopback port and
// returns its base URL and process; it is killed when t ends.
func startServeProcess(t *testing.T, bin, dir string, args ...string) (string, *os.Process) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--dir", dir, "--listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if name := os.Getenv("HASH_STREAM_SOAK_LOG"); name != "" {
		f, err := os.Create(name) // the server's request log, to look at
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		cmd.Stderr = f
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := addr.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stdout)
			return "http://" + m[1], cmd.Process
		}
	}
	t.Fatal("serve printed no address")
	return "", nil
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, p *os.Process) int64 {
	return procStatusBytes(t, p.Pid, "VmHWM")
}

// TestSoakManyLargeFetches: HASH_STREAM_SOAK_CLIENTS clients (default 200)
// fetch the CAR of a HASH_STREAM_SOAK_MB file (default 200 MB) from an fs
// store over and over for HASH_STREAM_SOAK_SECONDS (default 20); it reports
// the aggregate throughput, errors and the server's peak RSS, and fails
// when the RSS passes HASH_STREAM_SOAK_MAX_RSS_MB (default 512).
func TestSoakManyLargeFetches(t *testing.T) {
	if os.Getenv("HASH_STREAM_SOAK") == "" {
		t.Skip("a soak test: run with HASH_STREAM_SOAK=1 (make soak)")
	}
	clients := soakEnvInt(t, "HASH_STREAM_SOAK_CLIENTS", 200)
	size := soakEnvInt(t, "HASH_STREAM_SOAK_MB", 200) << 20
	seconds := soakEnvInt(t, "HASH_STREAM_SOAK_SECONDS", 20)
	maxRSS := int64(soakEnvInt(t, "HASH_STREAM_SOAK_MAX_RSS_MB", 512)) << 20

	bin := soakBinary(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "big.bin")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, int64(size)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	store := filepath.Join(dir, "store")
	out, err := exec.Command(bin, "pack", "write", file, "--dir", store, "--fsync=false").CombinedOutput()
	if err != nil {
		t.Fatalf("pack write: %v\n%s", err, out)
	}
	root := regexp.MustCompile(`\bbafy\w+`).FindString(string(out))
	if root == "" {
		t.Fatalf("no root CID in:\n%s", out)
	}
	os.Remove(file)
	base, proc := startServeProcess(t, bin, store, strings.Fields(os.Getenv("HASH_STREAM_SOAK_SERVE_ARGS"))...)

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	var total, complete, failed, refused atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(i/250), byte(2+i%250))}}
			client := &http.Client{Transport: &http.Transport{DialContext: from.DialContext, DisableCompression: true}}
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ipfs/"+root+"?format=car", nil)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				total.Add(n)
				switch {
				case resp.StatusCode == http.StatusServiceUnavailable:
					refused.Add(1)
					time.Sleep(time.Second)
				case resp.StatusCode != http.StatusOK:
					failed.Add(1)
				case err == nil:
					complete.Add(1)
				case ctx.Err() == nil:
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rss := peakRSS(t, proc)
	t.Logf("%d clients, %d MiB file, %s: %.0f MB/s aggregate (%d bytes), %d complete CARs, %d failed, %d refused (503), server peak RSS %d MiB",
		clients, size>>20, elapsed.Round(time.Millisecond), float64(total.Load())/elapsed.Seconds()/1e6, total.Load(), complete.Load(), failed.Load(), refused.Load(), rss>>20)
	if failed.Load() > 0 {
		t.Errorf("%d requests failed", failed.Load())
	}
	if rss > maxRSS {
		t.Errorf("peak RSS %d MiB is over %d MiB", rss>>20, maxRSS>>20)
	}
}
