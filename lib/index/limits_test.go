package index_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// randomMH returns a multihash of fn over random bytes.
func randomMH(t *testing.T, r *rand.Rand, code uint64, length int) multihash.Multihash {
	t.Helper()
	b := make([]byte, 64)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	mh, err := multihash.Sum(b, code, length)
	if err != nil {
		t.Fatal(err)
	}
	return mh
}

// The Tally's count is the size of the file the multiple-level writer
// encodes, with a containing record and without one (each PACK record a
// file), for packs and blobs of several hash lengths and digit counts.
func TestTallyMatchesEncode(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	codes := []struct {
		code uint64
		len  int
	}{{multihash.SHA2_256, -1}, {multihash.SHA2_512, -1}, {multihash.IDENTITY, -1}, {multihash.BLAKE3, 20}}
	for round := range 40 {
		var blobs []index.PackedBlob
		for range 1 + r.IntN(4) {
			c := codes[r.IntN(len(codes))]
			pack := randomMH(t, r, c.code, c.len)
			for range 1 + r.IntN(30) {
				c := codes[r.IntN(len(codes))]
				blobs = append(blobs, index.PackedBlob{Multihash: randomMH(t, r, c.code, c.len), BlobLocation: store.BlobLocation{
					Pack: store.Location{Multihash: pack}, Offset: r.Uint64N(1 << (r.IntN(40) + 1)), Length: r.Uint64N(4 << 20)}})
			}
		}
		root := randomMH(t, r, codes[round%len(codes)].code, codes[round%len(codes)].len)
		records := index.PackRecords(blobs)
		data, err := index.Encode(index.TypeContaining, index.NewContaining(root, records))
		if err != nil {
			t.Fatal(err)
		}
		var largest int
		for _, p := range records {
			d, err := index.Encode(index.TypeContaining, p)
			if err != nil {
				t.Fatal(err)
			}
			largest = max(largest, len(d))
		}
		for _, tc := range []struct {
			containing int
			want       int
		}{{len(root), len(data)}, {0, largest}} {
			tally := index.NewTally(index.Limits{MaxBlockBytes: 4 << 20, MaxFileBytes: 1 << 30}, tc.containing)
			prev := ""
			for _, b := range blobs {
				if k := string(b.Pack.Multihash); k != prev {
					tally.Pack(len(b.Pack.Multihash))
					prev = k
				}
				if err := tally.Blob(b.Multihash, b.Offset, b.Length); err != nil {
					t.Fatal(err)
				}
			}
			if got := tally.Bytes(); got != int64(tc.want) {
				t.Fatalf("round %d, containing length %d: tally %d bytes, encoded %d", round, tc.containing, got, tc.want)
			}
		}
	}
}

// The Tally refuses the blob that would pass the cap, and a block over the
// block limit, with ErrOverLimit; MaxBlobs is a bound no DAG passes.
func TestTallyRefuses(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	limits := index.Limits{MaxBlockBytes: 1000, MaxFileBytes: 4096}
	tally := index.NewTally(limits, 34)
	tally.Pack(34)
	if err := tally.Blob(randomMH(t, r, multihash.SHA2_256, -1), 0, 1001); !errors.Is(err, index.ErrOverLimit) || !errors.Is(err, index.ErrBlockOverLimit) || !strings.Contains(err.Error(), "1001 bytes, over the 1000-byte block limit") {
		t.Fatalf("a block over the limit: %v", err)
	}
	var n int
	for {
		err := tally.Blob(randomMH(t, r, multihash.SHA2_256, -1), 0, 0)
		if err != nil {
			if !errors.Is(err, index.ErrIndexOverLimit) || !errors.Is(err, index.ErrOverLimit) || !strings.Contains(err.Error(), "over the 4096-byte cap") {
				t.Fatalf("blob %d: %v", n, err)
			}
			break
		}
		n++
		if tally.Bytes() > limits.MaxFileBytes {
			t.Fatalf("blob %d counted past the cap: %d bytes", n, tally.Bytes())
		}
	}
	if n != limits.MaxBlobs() {
		t.Errorf("%d smallest blobs fit, MaxBlobs says %d", n, limits.MaxBlobs())
	}
	if got := index.DefaultLimits().MaxBlobs(); got < 250_000 || got > 400_000 {
		t.Errorf("MaxBlobs with the default cap: %d", got)
	}
}
