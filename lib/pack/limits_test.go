package pack_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// countingPacks is a memory pack store counting the packs put.
type countingPacks struct {
	*memory.PackStore
	puts atomic.Int32
}

func (c *countingPacks) Put(ctx context.Context, mh multihash.Multihash, r io.Reader, size int64) error {
	c.puts.Add(1)
	return c.PackStore.Put(ctx, mh, r, size)
}

// blockCAR returns a CARv1 whose root is one raw block of size bytes.
func blockCAR(t *testing.T, size int) ([]byte, cid.Cid) {
	t.Helper()
	car, c, err := fixture.RawBlockCAR(bytes.Repeat([]byte{'x'}, size))
	if err != nil {
		t.Fatal(err)
	}
	return car, c
}

// The default limits of the writers are the readers' (issue 21): pack
// import refuses a block one byte over the streamer's default block
// limit, naming it, and stores nothing; a block at the limit is stored,
// indexed and read back by a streamer with its defaults.
func TestImportHoldsToTheReadersDefaults(t *testing.T) {
	ctx := context.Background()
	if index.DefaultMaxBlockBytes != streamer.DefaultMaxBlockBytes || index.DefaultLimits().MaxBlockBytes != streamer.DefaultMaxBlockBytes {
		t.Fatalf("block limits: writers %d, streamer %d", index.DefaultLimits().MaxBlockBytes, streamer.DefaultMaxBlockBytes)
	}
	if index.DefaultLimits().MaxFileBytes != store.DefaultMaxIndexFileBytes {
		t.Fatalf("index file cap: writers %d, stores %d", index.DefaultLimits().MaxFileBytes, store.DefaultMaxIndexFileBytes)
	}

	over, overCID := blockCAR(t, streamer.DefaultMaxBlockBytes+1)
	packs := &countingPacks{PackStore: memory.NewPackStore()}
	_, err := pack.Import(ctx, packs, bytes.NewReader(over))
	var be *pack.BlockError
	if !errors.As(err, &be) || !errors.Is(err, index.ErrBlockOverLimit) || !be.CID.Equals(overCID) || !strings.Contains(err.Error(), overCID.String()) {
		t.Fatalf("a block over the limit: %v", err)
	}
	if packs.puts.Load() != 0 {
		t.Fatal("a pack was stored")
	}

	at, atCID := blockCAR(t, streamer.DefaultMaxBlockBytes)
	info, err := pack.Import(ctx, packs, bytes.NewReader(at))
	if err != nil {
		t.Fatal(err)
	}
	idx := memory.NewIndexStore()
	writers, err := index.NewWriters(index.WritersAll, idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pack.AddToIndex(ctx, writers, []pack.Info{info}, atCID.Hash()); err != nil {
		t.Fatal(err)
	}
	got, err := streamer.New(index.NewReader(idx), packs).Block(ctx, atCID.Hash(), atCID.Hash(), nil)
	if err != nil || len(got) != streamer.DefaultMaxBlockBytes {
		t.Fatalf("read back %d bytes: %v", len(got), err)
	}
}

// Scan, and so Import, index add and the indexer, refuse the block with
// which the CAR's index would pass the index file cap, before storing
// anything, keeping at most as many blobs as one index file holds; and a
// block over the block limit before its data is read.
func TestScanHoldsToLimits(t *testing.T) {
	car, cids, offsets := scanCAR(t, 40)
	info, err := pack.Scan(bytes.NewReader(car))
	if err != nil {
		t.Fatal(err)
	}
	tally := index.NewTally(index.Limits{MaxFileBytes: 1 << 30}, len(cids[0].Hash()))
	tally.Pack(len(info.Multihash))
	for _, b := range info.Blobs[:25] {
		if err := tally.Blob(b.Multihash, b.Offset, b.Length); err != nil {
			t.Fatal(err)
		}
	}
	limits := index.Limits{MaxFileBytes: tally.Bytes()} // 25 blocks fit, not 26
	for _, tc := range []struct {
		name   string
		limits index.Limits
		block  int
		is     error
		msg    string
	}{
		{"index cap", limits, 25, index.ErrIndexOverLimit, "over the " + strconv.FormatInt(limits.MaxFileBytes, 10) + "-byte cap"},
		{"block limit", index.Limits{MaxBlockBytes: 99}, 0, index.ErrBlockOverLimit, "100 bytes, over the 99-byte block limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			packs := &countingPacks{PackStore: memory.NewPackStore()}
			_, err := pack.Import(context.Background(), packs, bytes.NewReader(car), pack.WithLimits(tc.limits))
			var be *pack.BlockError
			if !errors.As(err, &be) || !errors.Is(err, tc.is) || !errors.Is(err, pack.ErrInvalidCAR) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v", err)
			}
			if be.Index != tc.block || !be.CID.Equals(cids[tc.block]) || be.Offset != int64(offsets[tc.block]) {
				t.Errorf("block %d (%s) at %d, want %d (%s) at %d", be.Index, be.CID, be.Offset, tc.block, cids[tc.block], offsets[tc.block])
			}
			if packs.puts.Load() != 0 {
				t.Error("a pack was stored")
			}
		})
	}
	if n := limits.MaxBlobs(); n < 25 || n > 30 {
		t.Errorf("MaxBlobs %d for a cap that holds 25 blobs of 3-digit offsets", n)
	}
}

// The pack writer (pack write) holds its blocks to the limits as they
// come: a block over the block limit, or the block with which the DAG's
// index would pass the cap, fails the write naming it, before it or the
// pack before it is stored; within the first pack nothing is stored, later
// the packs stored before are left behind and named. Within the limits
// the same file is written.
func TestWriterHoldsToLimits(t *testing.T) {
	ctx := context.Background()
	var input bytes.Buffer
	input.ReadFrom(testutil.HashStreamReader("limits ", 5<<20+1)) // 6 leaves and a root
	// fourBlobs is the size of the index of the first four blocks, and a
	// few bytes more: the writer counts offsets of a header it does not
	// know yet at their largest (one digit more at most).
	fourBlobs := func(opts ...pack.WriterOption) (int64, cid.Cid) {
		root, infos, err := pack.WriteFile(ctx, memory.NewPackStore(), bytes.NewReader(input.Bytes()), append(opts, pack.WithTempDir(t.TempDir()))...)
		if err != nil {
			t.Fatal(err)
		}
		tally := index.NewTally(index.Limits{MaxFileBytes: 1 << 30}, len(root.Hash()))
		var blobs []index.PackedBlob
		for _, p := range infos {
			blobs = append(blobs, p.Blobs...)
		}
		if len(blobs) != 7 {
			t.Fatalf("%d blocks", len(blobs))
		}
		var prev multihash.Multihash
		for _, b := range blobs[:4] {
			if !bytes.Equal(b.Pack.Multihash, prev) {
				tally.Pack(len(b.Pack.Multihash))
				prev = b.Pack.Multihash
			}
			if err := tally.Blob(b.Multihash, b.Offset, b.Length); err != nil {
				t.Fatal(err)
			}
		}
		return tally.Bytes() + 8, cid.NewCidV1(cid.Raw, blobs[4].Multihash)
	}
	onePack, fifth := fourBlobs()
	packPerLeaf, _ := fourBlobs(pack.WithMaxSize(1100000))
	var first cid.Cid
	{
		_, infos, err := pack.WriteFile(ctx, memory.NewPackStore(), bytes.NewReader(input.Bytes()), pack.WithTempDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		first = cid.NewCidV1(cid.Raw, infos[0].Blobs[0].Multihash)
	}

	for _, tc := range []struct {
		name string
		opts []pack.WriterOption
		is   error
		cid  cid.Cid
		left int // packs left behind
	}{
		{"block limit", []pack.WriterOption{pack.WithWriterLimits(index.Limits{MaxBlockBytes: 1<<20 - 1})}, index.ErrBlockOverLimit, first, 0},
		{"index cap, first pack", []pack.WriterOption{pack.WithWriterLimits(index.Limits{MaxFileBytes: onePack})}, index.ErrIndexOverLimit, fifth, 0},
		// A leaf a pack: the fourth leaf's pack is not stored.
		{"index cap, later pack", []pack.WriterOption{pack.WithWriterLimits(index.Limits{MaxFileBytes: packPerLeaf}), pack.WithMaxSize(1100000)}, index.ErrIndexOverLimit, fifth, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			packs := &countingPacks{PackStore: memory.NewPackStore()}
			_, _, err := pack.WriteFile(ctx, packs, bytes.NewReader(input.Bytes()), append(tc.opts, pack.WithTempDir(t.TempDir()))...)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.cid.String()) {
				t.Fatalf("got %v", err)
			}
			var le *pack.LeftError
			if errors.As(err, &le) != (tc.left > 0) || le != nil && len(le.Packs) != tc.left {
				t.Errorf("left behind: %v", err)
			}
			if int(packs.puts.Load()) != tc.left {
				t.Errorf("%d packs stored, want %d", packs.puts.Load(), tc.left)
			}
		})
	}
	if _, _, err := pack.WriteFile(ctx, memory.NewPackStore(), bytes.NewReader(input.Bytes()), pack.WithTempDir(t.TempDir()),
		pack.WithWriterLimits(index.Limits{MaxBlockBytes: 1 << 20, MaxFileBytes: onePack * 2})); err != nil {
		t.Fatalf("within the limits: %v", err)
	}
}
