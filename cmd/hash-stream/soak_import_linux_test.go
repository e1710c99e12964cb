//go:build linux

package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Issue 21, "pack import of a CAR with 1.2M tiny blocks", in full: the
// real CLI refuses it (its index would pass the 64 MiB index file cap
// serve reads with) within 256 MiB, storing nothing, and imports one of
// 300,000 blocks, under the cap, within 256 MiB too. A soak test (make
// soak): the bounded regression is lib/pack's TestScanHoldsToLimits.
func TestSoakImportTinyBlocks(t *testing.T) {
	soak(t)
	bin := soakBinary(t)
	for _, tc := range []struct {
		blocks int
		ok     bool
	}{{1_200_000, false}, {300_000, true}} {
		car := filepath.Join(t.TempDir(), "tiny.car")
		writeTinyCAR(t, car, tc.blocks)
		dir := t.TempDir()
		rss, code, out := runMeasured(t, bin, "pack", "import", car, "--dir", dir, "--fsync=false")
		t.Logf("pack import of %d tiny blocks: exit %d, peak RSS %.1f MiB", tc.blocks, code, float64(rss)/(1<<20))
		if rss > 256<<20 {
			t.Errorf("peak RSS %d bytes, over 256 MiB", rss)
		}
		switch {
		case tc.ok && code != 0:
			t.Errorf("exit %d: %s", code, out)
		case !tc.ok && (code != 1 || !strings.Contains(out, "index too large")):
			t.Errorf("exit %d: %s", code, out)
		case !tc.ok && storedFiles(t, dir) != 0:
			t.Errorf("files stored for a refused CAR")
		}
	}
}

// writeTinyCAR writes a CARv1 of n raw blocks, each the decimal digits of
// its number, the first the root.
func writeTinyCAR(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	block := func(i int) (cid.Cid, []byte) {
		data := []byte(strconv.Itoa(i))
		mh, err := multihash.Sum(data, multihash.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		return cid.NewCidV1(cid.Raw, mh), data
	}
	root, _ := block(0)
	head, err := dag.CARHeader(root)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(head)
	for i := range n {
		c, data := block(i)
		if err := dag.WriteSection(w, c, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// runMeasured runs bin with args to its end and returns its peak RSS
// (getrusage of the child: ru_maxrss, in KiB on Linux), exit code and
// output.
func runMeasured(t *testing.T, bin string, args ...string) (int64, int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage")
	}
	return ru.Maxrss << 10, cmd.ProcessState.ExitCode(), out.String()
}
