package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// benchSize is the file served by BenchmarkServeCAR: 1 GiB by default,
// HASH_STREAM_BENCH_BYTES to change it. Generated, never stored in the repo.
func benchSize() int64 {
	if v, err := strconv.ParseInt(os.Getenv("HASH_STREAM_BENCH_BYTES"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1 << 30
}

var (
	benchOnce sync.Once
	benchDir  string
	benchRoot cid.Cid
	benchErr  error
)

// benchStore writes the benchmark file once per process into an fs store.
func benchStore(b *testing.B) (string, cid.Cid) {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "hash-stream-bench-*")
		if benchErr != nil {
			return
		}
		ctx := context.Background()
		var infos []pack.Info
		benchRoot, infos, benchErr = pack.WriteFile(ctx, fs.NewPackStore(filepath.Join(benchDir, "pack")),
			testutil.HashStreamReader("hash-stream bench ", benchSize()), pack.WithTempDir(benchDir))
		if benchErr != nil {
			return
		}
		benchErr = pack.AddToIndex(ctx, []index.Writer{index.NewMultipleLevelWriter(fs.NewIndexStore(filepath.Join(benchDir, "index")))}, infos, benchRoot.Hash())
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir, benchRoot
}

// BenchmarkServeCAR serves the whole benchmark file as a CAR over loopback
// HTTP, from the fs store and from the real S3 server, and reports MB/s,
// storage reads per response and time to first byte.
func BenchmarkServeCAR(b *testing.B) {
	dir, root := benchStore(b)
	b.Run("fs", func(b *testing.B) {
		serveCAR(b, fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack")), root)
	})
	// The same with a denylist of 100,000 CIDs, none of them served: the
	// cost of the per-block check (issue 23: at most 2% of throughput).
	b.Run("fs-denylist", func(b *testing.B) {
		set := benchDenylist(b, 100_000)
		serveCAR(b, fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack")), root,
			gateway.WithDenylist(func(context.Context) *denylist.Set { return set }))
	})
	b.Run("s3", func(b *testing.B) {
		s3Server.Require(b)
		client := s3Server.Client()
		idx, packs := s3.NewIndexStore(client, s3Server.NewBucket(b)), s3.NewPackStore(client, s3Server.NewBucket(b))
		ctx := context.Background()
		r, infos, err := pack.WriteFile(ctx, packs, testutil.HashStreamReader("hash-stream bench ", benchSize()), pack.WithTempDir(b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		if err := pack.AddToIndex(ctx, []index.Writer{index.NewMultipleLevelWriter(idx)}, infos, r.Hash()); err != nil {
			b.Fatal(err)
		}
		serveCAR(b, idx, packs, r)
	})
}

func serveCAR(b *testing.B, idx store.IndexStore, ps store.PackStore, root cid.Cid, opts ...gateway.Option) {
	packs := &countingPacks{PackStore: ps}
	s := streamer.New(index.NewReader(idx), packs)
	srv := httptest.NewServer(gateway.New(s, opts...))
	defer srv.Close()
	url := srv.URL + "/ipfs/" + root.String() + "?format=car"
	b.SetBytes(benchSize())
	b.ReportAllocs()
	var ttfb time.Duration
	for b.Loop() {
		start := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		br := bufio.NewReaderSize(resp.Body, 1<<20)
		if _, err := br.Peek(1); err != nil {
			b.Fatal(err)
		}
		ttfb += time.Since(start)
		n, err := io.Copy(io.Discard, br)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n < benchSize() {
			b.Fatalf("status %d, %d bytes, %v", resp.StatusCode, n, err)
		}
	}
	b.ReportMetric(float64(packs.reads.Load())/float64(b.N), "reads/op")
	b.ReportMetric(float64(ttfb.Microseconds())/float64(b.N)/1000, "ttfb-ms")
}

// BenchmarkConcurrentSmallCARs has 200 clients fetch a small directory CAR
// at once, and reports p50 and p99 latency.
func BenchmarkConcurrentSmallCARs(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	idx, packs := fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack"))
	f, err := os.Open(filepath.Join(testutil.RepoRoot(), "testdata", "cars", "subdir-with-mixed-block-files.car"))
	if err != nil {
		b.Fatal(err)
	}
	info, err := pack.Import(ctx, packs, f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	if err := index.NewMultipleLevelWriter(idx).Add(ctx, info.Blobs, info.Roots[0].Hash()); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(gateway.New(streamer.New(index.NewReader(idx, index.WithCache(index.NewCache(16<<20))), packs)))
	defer srv.Close()
	url := srv.URL + "/ipfs/" + info.Roots[0].String() + "?format=car"
	const clients = 200
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var mu sync.Mutex
	var lat []time.Duration
	for b.Loop() {
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				resp, err := client.Get(url)
				if err != nil {
					errs <- err
					return
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || n != 1973 {
					errs <- fmt.Errorf("status %d, %d bytes, %v", resp.StatusCode, n, err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// countingPacks counts ranged reads.
type countingPacks struct {
	store.PackStore
	reads atomic.Int64
}

func (c *countingPacks) GetRange(ctx context.Context, loc store.Location, off, n int64) (io.ReadCloser, error) {
	c.reads.Add(1)
	return c.PackStore.GetRange(ctx, loc, off, n)
}

// benchDenylist is a list of n /ipfs/CID rules for CIDs no store holds.
func benchDenylist(b *testing.B, n int) *denylist.Set {
	b.Helper()
	var text strings.Builder
	for i := range n {
		mh, _ := multihash.Sum([]byte(strconv.Itoa(i)), multihash.SHA2_256, -1)
		text.WriteString("/ipfs/" + cid.NewCidV1(cid.Raw, mh).String() + "\n")
	}
	l, err := denylist.Parse(strings.NewReader(text.String()), "bench.deny")
	if err != nil {
		b.Fatal(err)
	}
	return denylist.NewSet(l)
}
