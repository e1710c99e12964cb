package index

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/multiformats/go-multihash"
)

// However many multihashes are read at once, no more index file bytes than
// the bound are decoded at once; a file over the bound decodes alone.
func TestDecodeBound(t *testing.T) {
	ctx := context.Background()
	st := memory.NewIndexStore()
	var mhs []multihash.Multihash
	var size int64
	for i := range 16 {
		mh, _ := multihash.Sum([]byte{byte(i)}, multihash.SHA2_256, -1)
		data, err := Encode(TypeBlob, Record{Multihash: mh, Type: Blob, Location: store.Location{Multihash: mh}, Offset: 1, Length: 2, HasRange: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, mh, nil, data); err != nil {
			t.Fatal(err)
		}
		mhs = append(mhs, mh)
		size = int64(len(data))
	}
	// A decode holds its bytes until the bound is full (no other file
	// fits beside it) or every other file is decoding or decoded: the
	// bound is filled, never passed, whatever the scheduling.
	var cur, peak, started atomic.Int64
	var full int64 // the bytes that fill the bound
	decodeFile = func(data []byte) (string, Record, error) {
		started.Add(1)
		n := cur.Add(int64(len(data)))
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer cur.Add(-int64(len(data)))
		deadline := time.Now().Add(testutil.WaitTimeout)
		for cur.Load() < full && started.Load() < int64(len(mhs)) && time.Now().Before(deadline) {
			runtime.Gosched()
		}
		return Decode(data)
	}
	defer func() { decodeFile = Decode }()

	for _, bound := range []int64{2 * size, size / 2} {
		peak.Store(0)
		started.Store(0)
		full = max(bound/size, 1) * size
		r := NewReader(st, WithDecodeBytes(bound), WithCache(nil))
		var wg sync.WaitGroup
		for _, mh := range mhs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := r.Set(ctx, mh); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		want := max(bound, size) // a file over the bound decodes alone
		if peak.Load() > want || peak.Load() == 0 {
			t.Errorf("bound %d: %d bytes decoded at once, want at most %d", bound, peak.Load(), want)
		}
		if peak.Load() < full {
			t.Errorf("bound %d: at most %d bytes decoded at once, never the %d that fill it", bound, peak.Load(), full)
		}
	}
}
