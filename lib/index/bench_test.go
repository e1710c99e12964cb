package index_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// containingFile writes the stored form of containingRecord(root, n,
// perPack) directly, as index.Encode would (TestContainingFile), without
// Encode's node tree of a large record.
func containingFile(n, perPack int) []byte {
	b64 := func(i int) string { return base64.RawStdEncoding.EncodeToString(testMH(i)) }
	var buf bytes.Buffer
	root := b64(-1000)
	fmt.Fprintf(&buf, `{"data":{"location":{"/":{"bytes":"%s"}},"multihash":{"/":{"bytes":"%s"}},"subRecords":[`, root, root)
	for p := 0; p*perPack < n; p++ {
		if p > 0 {
			buf.WriteByte(',')
		}
		pack := b64(-1 - p)
		fmt.Fprintf(&buf, `{"location":{"/":{"bytes":"%s"}},"multihash":{"/":{"bytes":"%s"}},"subRecords":[`, pack, pack)
		for i := p * perPack; i < min(n, (p+1)*perPack); i++ {
			if i > p*perPack {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"length":1000,"location":{"/":{"bytes":"%s"}},"multihash":{"/":{"bytes":"%s"}},"offset":%d,"subRecords":[],"type":0}`,
				pack, b64(i), (i-p*perPack)*1000)
		}
		buf.WriteString(`],"type":1}`)
	}
	buf.WriteString(`],"type":2},"type":"index/containing@0.1"}`)
	return buf.Bytes()
}

func TestContainingFile(t *testing.T) {
	want, err := index.Encode(index.TypeContaining, containingRecord(testMH(-1000), 7, 3))
	if err != nil {
		t.Fatal(err)
	}
	if got := containingFile(7, 3); !bytes.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// BenchmarkDecodeContaining reads a CONTAINING record of 315,000 blobs
// (67 MB, just under store.DefaultMaxIndexFileBytes) as Reader.Set does:
// Decode, then NewSet. It reports the peak heap above the file's own bytes
// (sampled every millisecond), the peak RSS of the process from just
// before (Linux), and the size of the Set. HASH_STREAM_BLOBS sets another
// number of blobs.
func BenchmarkDecodeContaining(b *testing.B) {
	n := 315_000
	if v := os.Getenv("HASH_STREAM_BLOBS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	data := containingFile(n, 10_000)
	if int64(len(data)) > store.DefaultMaxIndexFileBytes {
		b.Logf("%d bytes: over the default cap of %d", len(data), store.DefaultMaxIndexFileBytes)
	}
	peakHeap, peakRSS, setSize := measureDecode(b, data, n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		_, rec, err := index.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		index.NewSet([]index.Record{rec})
	}
	b.ReportMetric(float64(len(data))/1e6, "file-MB")
	b.ReportMetric(float64(peakHeap)/1e6, "peak-heap-MB")
	if peakRSS > 0 {
		b.ReportMetric(float64(peakRSS)/1e6, "peak-RSS-MB")
	}
	b.ReportMetric(float64(setSize)/1e6, "set-MB")
}

// measureDecode decodes data into a Set once, sampling the heap.
func measureDecode(b *testing.B, data []byte, n int) (peakHeap, peakRSS uint64, setSize int64) {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	_, rec, err := index.Decode(data)
	if err != nil {
		b.Fatal(err)
	}
	s := index.NewSet([]index.Record{rec})
	close(done)
	if s.Len() != n {
		b.Fatalf("%d blobs in the set, want %d", s.Len(), n)
	}
	return peak.Load() - base.HeapAlloc, readPeakRSS(), s.Size()
}

// resetPeakRSS resets the process's peak RSS (VmHWM), where Linux lets it.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// readPeakRSS returns VmHWM in bytes, or 0.
func readPeakRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
