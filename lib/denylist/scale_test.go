package denylist_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// The scale target of a bad-bits sized list: a million legacy double-hash
// entries load within 2 s and 128 MiB of heap.
const (
	scaleEntries = 1_000_000
	scaleMaxLoad = 2 * time.Second
	scaleMaxHeap = 128 << 20
)

// scaleCID is the CID of entry i of the generated list.
func scaleCID(i int) cid.Cid {
	mh, _ := multihash.Sum([]byte(fmt.Sprint("entry ", i)), multihash.SHA2_256, -1)
	return cid.NewCidV1(cid.DagProtobuf, mh)
}

// writeScaleList writes a bad-bits like list (a header, then one legacy
// double-hash per line) to a temporary directory.
func writeScaleList(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "badbits.deny")
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "version: 1\nname: generated\nhints:\n  status: 451\n---\n")
	for i := range scaleEntries {
		sum := sha256.Sum256([]byte(scaleCID(i).String() + "/"))
		fmt.Fprintf(w, "//%s\n", hex.EncodeToString(sum[:]))
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// loadMeasured loads p and returns the set, the time taken, the peak heap
// in use during the load (sampled every millisecond) and the heap kept
// after it.
func loadMeasured(tb testing.TB, p string) (*denylist.Set, time.Duration, uint64, uint64) {
	tb.Helper()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	})
	start := time.Now()
	s, err := denylist.Load(p)
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		tb.Fatal(err)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return s, took, peak - base.HeapInuse, after.HeapInuse - base.HeapInuse
}

func TestLoadMillionLegacyEntries(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures time and heap: run without -race and -short (BenchmarkLoadMillionLegacyEntries reports the figures)")
	}
	p := writeScaleList(t)
	s, took, peak, kept := loadMeasured(t, p)
	t.Logf("%d entries: load %v, peak heap %.1f MiB, kept %.1f MiB", scaleEntries, took, mib(peak), mib(kept))
	if l := s.Lists()[0]; l.Rules != scaleEntries || l.Invalid != 0 {
		t.Fatalf("rules %d, invalid %d", l.Rules, l.Invalid)
	}
	if took > scaleMaxLoad {
		t.Errorf("load took %v, want <= %v", took, scaleMaxLoad)
	}
	if peak > scaleMaxHeap {
		t.Errorf("peak heap %.1f MiB, want <= %.0f MiB", mib(peak), mib(scaleMaxHeap))
	}
	for _, i := range []int{0, scaleEntries / 2, scaleEntries - 1} {
		if r, ok := s.Match(scaleCID(i), nil); !ok || r.Status != 451 || r.Line != i+6 {
			t.Errorf("entry %d: %v, %v", i, r, ok)
		}
	}
	if r, ok := s.Match(scaleCID(scaleEntries), nil); ok {
		t.Errorf("a CID not listed is blocked by %v", r)
	}
	runtime.KeepAlive(s)
}

func BenchmarkLoadMillionLegacyEntries(b *testing.B) {
	p := writeScaleList(b)
	info, _ := os.Stat(p)
	b.SetBytes(info.Size())
	var peak, kept uint64
	for b.Loop() {
		s, _, pk, kp := loadMeasured(b, p)
		peak, kept = max(peak, pk), kp
		runtime.KeepAlive(s)
	}
	b.ReportMetric(mib(peak), "peak-heap-MiB")
	b.ReportMetric(mib(kept), "kept-heap-MiB")
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
