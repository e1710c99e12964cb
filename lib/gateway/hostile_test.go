package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// forgeRecords replaces the index of f's root (CONTAINING) and of one blob
// (single-level) with records whose location for that blob is edited.
func forgeRecords(t *testing.T, idx store.IndexStore, f faultFile, blob int, edit func(*index.PackedBlob)) {
	t.Helper()
	ctx := context.Background()
	blobs := append([]index.PackedBlob(nil), f.blobs...)
	edit(&blobs[blob])
	rec := index.NewContaining(f.root.Hash(), index.PackRecords(blobs))
	data, err := index.Encode(index.TypeContaining, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Put(ctx, f.root.Hash(), rec.SubRecords[0].Multihash, data); err != nil {
		t.Fatal(err)
	}
}

// Index records are untrusted: a length or offset no block can have is
// refused before it sizes an allocation, with a 502 (or a cut CAR), and the
// server lives on.
func TestImpossibleIndexRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*index.PackedBlob)
	}{
		{"length 2^40", func(l *index.PackedBlob) { l.Length = 1 << 40 }},
		{"length 2^50", func(l *index.PackedBlob) { l.Length = 1 << 50 }},
		{"length one over the limit", func(l *index.PackedBlob) { l.Length = streamer.DefaultMaxBlockBytes + 1 }},
		{"offset+length overflows", func(l *index.PackedBlob) { l.Offset = 1<<63 - 10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			idx, packs := memory.NewIndexStore(), memory.NewPackStore()
			f := writeFaultFile(t, memory.NewIndexStore(), packs) // packs only
			srv := newServer(t, idx, packs, nil)

			// The root's record is forged: raw and CAR answer 502 at once.
			forgeRecords(t, idx, f, 4, tc.edit)
			r := fetch(t, srv, http.MethodGet, "/ipfs/"+f.root.String()+"?format=raw")
			checkError(t, r, http.StatusBadGateway)
			if !strings.Contains(string(r.body), "impossible location") {
				t.Errorf("raw body %q", r.body)
			}
			checkError(t, fetch(t, srv, http.MethodGet, "/ipfs/"+f.root.String()+"?format=car"), http.StatusBadGateway)

			// A child's record is forged (learned from the CONTAINING
			// record): the CAR is cut, never completed.
			idx2 := memory.NewIndexStore()
			forgeRecords(t, idx2, f, 1, tc.edit)
			srv2 := newServer(t, idx2, packs, nil)
			checkCutMidStream(t, fetch(t, srv2, http.MethodGet, "/ipfs/"+f.root.String()+"?format=car"), f, f.leaf(1))
			// And the server still serves.
			if r := fetch(t, srv2, http.MethodGet, "/ipfs/"+f.leaf(0).String()+"?format=raw"); r.status != 200 {
				t.Errorf("after the bad record: leaf 0 status %d", r.status)
			}
		})
	}
}

// panicPacks panics in GetRange, as a bug or a decoder fed hostile input
// would, in whichever goroutine reads.
type panicPacks struct{ store.PackStore }

func (panicPacks) GetRange(context.Context, store.Location, int64, int64) (io.ReadCloser, error) {
	panic("injected panic in GetRange")
}

// A panic while serving becomes that response's 500 (or cut) and a log
// line; the process and the other requests go on.
func TestPanicIsAResponseError(t *testing.T) {
	idx, packs := memory.NewIndexStore(), memory.NewPackStore()
	f := writeFaultFile(t, idx, packs)
	var logs testutil.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := gateway.New(streamer.New(index.NewReader(idx), panicPacks{packs}, streamer.WithLogger(log)), gateway.WithLogger(log))
	srv := httptest.NewServer(h)
	defer srv.Close()
	// Raw: the panic is on the handler's goroutine.
	checkError(t, fetch(t, srv, http.MethodGet, "/ipfs/"+f.leaf(0).String()+"?format=raw"), http.StatusInternalServerError)
	// CAR: the root is read on the handler's goroutine too.
	checkError(t, fetch(t, srv, http.MethodGet, "/ipfs/"+f.root.String()+"?format=car"), http.StatusInternalServerError)

	// A panic in a read goroutine of the streamer ends its stream.
	var calls int
	var cmu sync.Mutex
	hooks := &packHooks{PackStore: packs, getRange: func(ctx context.Context, _ int64, loc store.Location, off, length int64) (io.ReadCloser, error) {
		cmu.Lock()
		calls++
		n := calls
		cmu.Unlock()
		if n > 1 {
			panic("injected panic in a streamer read")
		}
		return packs.GetRange(ctx, loc, off, length)
	}}
	h2 := gateway.New(streamer.New(index.NewReader(idx), hooks, streamer.WithLogger(log)), gateway.WithLogger(log))
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	r := fetch(t, srv2, http.MethodGet, "/ipfs/"+f.root.String()+"?format=car")
	if r.status == http.StatusOK && r.readErr == nil {
		t.Fatalf("a CAR whose read panicked ended cleanly (%d bytes)", len(r.body))
	}
	if !strings.Contains(logs.String(), "injected panic") || !strings.Contains(logs.String(), "stack") {
		t.Errorf("no panic log line with a stack:\n%s", logs.String())
	}
}

// With a budget, responses wait for room or get 503 + Retry-After, and
// what they hold never passes the budget.
func TestBudgetAdmission(t *testing.T) {
	idx, packs := memory.NewIndexStore(), memory.NewPackStore()
	f := writeFaultFile(t, idx, packs)
	b := budget.New(4 << 20)
	h := gateway.New(streamer.New(index.NewReader(idx), packs), gateway.WithBudget(b, 0, 200*time.Millisecond))
	srv := httptest.NewServer(h)
	defer srv.Close()

	// The budget is taken: a new response waits, then gets 503.
	hold, err := b.Admit(context.Background(), 3<<20)
	if err != nil {
		t.Fatal(err)
	}
	r := fetch(t, srv, http.MethodGet, "/ipfs/"+f.root.String()+"?format=car")
	checkError(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	// Budget freed while it waits: served. This handler waits as long as
	// a test does, and the budget is freed once the response waits.
	patient := httptest.NewServer(gateway.New(streamer.New(index.NewReader(idx), packs), gateway.WithBudget(b, 0, testutil.WaitTimeout)))
	defer patient.Close()
	type result struct {
		r   response
		err error
	}
	served := make(chan result, 1)
	go func() {
		r, err := try(patient, http.MethodGet, "/ipfs/"+f.root.String()+"?format=car")
		served <- result{r, err}
	}()
	if !testutil.Eventually(func() bool { return b.Waiting() == 1 }) {
		t.Fatalf("%d responses wait for the budget, want 1", b.Waiting())
	}
	hold.Close()
	res := <-served
	if res.err != nil {
		t.Fatal(res.err)
	}
	r = res.r
	if got, ok := fileBytes(t, mustCAR(t, r).byHash(), f.root); !ok || !bytes.Equal(got, f.data) {
		t.Fatalf("status %d: the file does not come back whole", r.status)
	}
	// A client can read its last byte before its handler returns and
	// closes the response's account: wait for the handlers.
	if !testutil.Eventually(func() bool { return b.Used() == 0 }) {
		t.Errorf("budget used after the responses: %d", b.Used())
	}
}

// Many clients at once: the bytes held stay within the budget (no overdraft: every block fits a floor), everyone who
// reads gets the whole file, and everything goes back when they are done.
func TestBudgetBoundsConcurrentResponses(t *testing.T) {
	idx, packs := memory.NewIndexStore(), memory.NewPackStore()
	f := writeFaultFile(t, idx, packs)
	const size = 12 << 20
	b := budget.New(size)
	h := gateway.New(streamer.New(index.NewReader(idx), packs), gateway.WithBudget(b, 0, 30*time.Second))
	// Use is sampled at every response write (the response holds its
	// floor then) and every millisecond.
	var peakUse atomic.Int64
	sample := func() {
		u := b.Used()
		for {
			p := peakUse.Load()
			if u <= p || peakUse.CompareAndSwap(p, u) {
				return
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(samplingWriter{w, sample}, r)
	}))
	defer srv.Close()

	stop := make(chan struct{})
	peak := make(chan int64)
	go func() {
		for {
			select {
			case <-stop:
				peak <- peakUse.Load()
				return
			case <-time.After(time.Millisecond): // a sampling tick, not a wait
				sample()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, q := range []string{"format=car", "format=car&car-dups=y", "format=car&dag-scope=entity&entity-bytes=1000:2500000"} {
				r, err := try(srv, http.MethodGet, "/ipfs/"+f.root.String()+"?"+q)
				if err == nil && (r.status != 200 || r.readErr != nil) {
					err = fmt.Errorf("client %d ?%s: status %d, read error %v", i, q, r.status, r.readErr)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	max := <-peak
	close(errs)
	for err := range errs {
		t.Errorf("a client failed: %v", err)
	}
	if max > size || b.Overdraft() != 0 {
		t.Errorf("peak use %d of a %d-byte budget, overdraft %d", max, size, b.Overdraft())
	}
	if max == 0 {
		t.Error("the budget was never used")
	}
	// A client can read its last byte before its handler returns and
	// closes the response's account: wait for the handlers.
	if !testutil.Eventually(func() bool { return b.Used() == 0 }) {
		t.Errorf("budget used %v after all responses: %d", testutil.WaitTimeout, b.Used())
	}
	t.Logf("peak budget use %d of %d bytes", max, size)
}

// samplingWriter calls sample before each write of a response.
type samplingWriter struct {
	http.ResponseWriter
	sample func()
}

func (w samplingWriter) Write(p []byte) (int, error) {
	w.sample()
	return w.ResponseWriter.Write(p)
}

func (w samplingWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

func (w samplingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
