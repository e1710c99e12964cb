package carwalk_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/carwalk"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// countingPacks counts the ranged reads of a pack store.
type countingPacks struct {
	store.PackStore
	reads atomic.Int64
}

func (p *countingPacks) GetRange(ctx context.Context, loc store.Location, offset, length int64) (io.ReadCloser, error) {
	p.reads.Add(1)
	return p.PackStore.GetRange(ctx, loc, offset, length)
}

// block is a block to store.
type block struct {
	cid  cid.Cid
	data []byte
}

func rawBlock(t testing.TB, data string) block {
	t.Helper()
	mh, err := multihash.Sum([]byte(data), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return block{cid.NewCidV1(cid.Raw, mh), []byte(data)}
}

// cborBlock is a dag-cbor list of links, hashed with code (sha2-256 or
// identity).
func cborBlock(t testing.TB, code uint64, links ...cid.Cid) block {
	t.Helper()
	b, err := testutil.CBORLinks(links...)
	if err != nil {
		t.Fatal(err)
	}
	mh, err := multihash.Sum(b, code, -1)
	if err != nil {
		t.Fatal(err)
	}
	return block{cid.NewCidV1(cid.DagCBOR, mh), b}
}

// newStore stores blocks as one pack, indexed under root as containing.
func newStore(t testing.TB, root cid.Cid, blocks []block) (dag.Source, *countingPacks) {
	t.Helper()
	header, err := dag.CARHeader(root)
	if err != nil {
		t.Fatal(err)
	}
	car := bytes.NewBuffer(header)
	for _, b := range blocks {
		if err := dag.WriteSection(car, b.cid, b.data); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	idx, packs := memory.NewIndexStore(), &countingPacks{PackStore: memory.NewPackStore()}
	info, err := pack.Import(ctx, packs, bytes.NewReader(car.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := index.NewMultipleLevelWriter(idx).Add(ctx, info.Blobs, root.Hash()); err != nil {
		t.Fatal(err)
	}
	packs.reads.Store(0)
	return streamer.New(index.NewReader(idx), packs), packs
}

// dump walks root as a CAR does (dups as given) and returns the CIDs
// written, in order.
func dump(t testing.TB, s dag.Source, root cid.Cid, opts ...carwalk.Option) ([]cid.Cid, error) {
	t.Helper()
	ctx := context.Background()
	data, err := s.Block(ctx, root.Hash(), root.Hash(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []cid.Cid
	wk := carwalk.New(ctx, s, func(c cid.Cid, data []byte) error {
		got = append(got, c)
		return nil
	}, append([]carwalk.Option{carwalk.WithContaining(root.Hash())}, opts...)...)
	if err := wk.Block(root, data); err != nil {
		return got, err
	}
	err = wk.All(root, data)
	if wk.Written() != len(got) {
		t.Errorf("Written() = %d, %d blocks emitted", wk.Written(), len(got))
	}
	return got, err
}

func checkOrder(t *testing.T, got []cid.Cid, want ...block) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Equals(want[i].cid)
	}
	if !ok {
		t.Errorf("wrote %v, want %d blocks in order %v", got, len(want), want)
	}
}

// Depth first as the trustless spec says: root, then each child's subtree
// in link order. With root→[A, C, B] and A→[B]: root, A, B, C (dups=n);
// root, A, B, C, B (dups=y).
func TestOrder(t *testing.T) {
	b, c := rawBlock(t, "B"), rawBlock(t, "C")
	a := cborBlock(t, multihash.SHA2_256, b.cid)
	root := cborBlock(t, multihash.SHA2_256, a.cid, c.cid, b.cid)
	s, _ := newStore(t, root.cid, []block{b, c, a, root})
	got, err := dump(t, s, root.cid)
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, got, root, a, b, c)
	got, err = dump(t, s, root.cid, carwalk.WithDups(true))
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, got, root, a, b, c, b)
}

// A node linking one leaf 10,000 times: with dups=y the leaf is written
// 10,000 times but read once (the node's want list holds it once, its
// repeats come from the block kept); with dups=n it is written once.
func TestDupsReadsEachBlockOnce(t *testing.T) {
	leaf := rawBlock(t, string(bytes.Repeat([]byte("leaf "), 20000))) // 100 kB
	links := make([]cid.Cid, 10000)
	for i := range links {
		links[i] = leaf.cid
	}
	root := cborBlock(t, multihash.SHA2_256, links...)
	s, packs := newStore(t, root.cid, []block{leaf, root})
	got, err := dump(t, s, root.cid, carwalk.WithDups(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10001 {
		t.Errorf("dups=y: %d blocks written, want 10001", len(got))
	}
	if n := packs.reads.Load(); n > 3 {
		t.Errorf("dups=y: %d storage reads for a root and one leaf linked 10,000 times, want at most 3", n)
	}
	t.Logf("dups=y: %d storage reads", packs.reads.Load())

	packs.reads.Store(0)
	got, err = dump(t, s, root.cid)
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, got, root, leaf)
	if n := packs.reads.Load(); n > 3 {
		t.Errorf("dups=n: %d storage reads, want at most 3", n)
	}

	// Without the cache each repeat is read again: still right, only
	// slower (the bound holds while the blocks fit the cache).
	packs.reads.Store(0)
	few := cborBlock(t, multihash.SHA2_256, leaf.cid, leaf.cid, leaf.cid)
	s, packs = newStore(t, few.cid, []block{leaf, few})
	got, err = dump(t, s, few.cid, carwalk.WithDups(true), carwalk.WithCacheBytes(0))
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, got, few, leaf, leaf, leaf)
	if n := packs.reads.Load(); n != 4 {
		t.Errorf("dups=y without a cache: %d reads, want 4 (the root, the leaf 3 times)", n)
	}
}

// Identity CIDs are never written as blocks, root or child; their links
// are walked.
func TestIdentityNotWritten(t *testing.T) {
	leaf := rawBlock(t, "a stored leaf")
	idLeafMH, err := multihash.Sum([]byte("inline"), multihash.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	idLeaf := cid.NewCidV1(cid.Raw, idLeafMH)
	mid := cborBlock(t, multihash.IDENTITY, leaf.cid, idLeaf)
	root := cborBlock(t, multihash.SHA2_256, mid.cid, idLeaf)
	s, _ := newStore(t, root.cid, []block{leaf, root})
	for _, dups := range []bool{false, true} {
		got, err := dump(t, s, root.cid, carwalk.WithDups(dups))
		if err != nil {
			t.Fatal(err)
		}
		checkOrder(t, got, root, leaf)
	}
	// An identity root: nothing but what it links to.
	idRoot := cborBlock(t, multihash.IDENTITY, leaf.cid)
	s, _ = newStore(t, leaf.cid, []block{leaf})
	ctx := context.Background()
	var got []cid.Cid
	wk := carwalk.New(ctx, s, func(c cid.Cid, _ []byte) error { got = append(got, c); return nil })
	if err := wk.Block(idRoot.cid, idRoot.data); err != nil {
		t.Fatal(err)
	}
	if err := wk.All(idRoot.cid, idRoot.data); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, got, leaf)
}

// chain stores a dag-cbor chain of n nodes below the returned root (each
// node links the next; the last links nothing), root first.
func chain(t testing.TB, n int) (cid.Cid, []block) {
	t.Helper()
	blocks := make([]block, n)
	blocks[n-1] = cborBlock(t, multihash.SHA2_256)
	for i := n - 2; i >= 0; i-- {
		blocks[i] = cborBlock(t, multihash.SHA2_256, blocks[i+1].cid)
	}
	return blocks[0].cid, blocks
}

// chainDepth is the depth of TestDeepChain's chain: 20,000 (five times
// the default limit, a second or two), or HASH_STREAM_DEEP_CHAIN (100000
// walks whole in about 10 s; 1200000 checks only the default limit, as
// the index of a chain of over about 300,000 blocks needs a larger index
// file limit).
func chainDepth(t testing.TB) int {
	if v, err := strconv.Atoi(os.Getenv("HASH_STREAM_DEEP_CHAIN")); err == nil && v > 1 {
		return v
	}
	return 20000
}

// A deep dag-cbor chain never ends the process: past the maximum depth the
// walk fails with ErrTooDeep after writing the levels it may; with a limit
// above its depth it streams whole. The walk holds at most the streams of
// the nodes on its path, here one at a time: the goroutines stay few.
func TestDeepChain(t *testing.T) {
	n := chainDepth(t)
	root, blocks := chain(t, n)
	s, _ := newStore(t, root, blocks)
	base := runtime.NumGoroutine()
	var peak int
	emit := func(cid.Cid, []byte) error {
		peak = max(peak, runtime.NumGoroutine())
		return nil
	}
	ctx := context.Background()
	var written []cid.Cid
	wk := carwalk.New(ctx, s, func(c cid.Cid, d []byte) error { written = append(written, c); return emit(c, d) }, carwalk.WithContaining(root.Hash()))
	if err := wk.Block(root, blocks[0].data); err != nil {
		t.Fatal(err)
	}
	err := wk.All(root, blocks[0].data)
	if !errors.Is(err, carwalk.ErrTooDeep) {
		t.Fatalf("default depth: %v, want ErrTooDeep", err)
	}
	// The root and DefaultMaxDepth levels below it.
	if len(written) != carwalk.DefaultMaxDepth+1 {
		t.Errorf("%d blocks written before the limit, want %d", len(written), carwalk.DefaultMaxDepth+1)
	}
	for i, c := range written {
		if !c.Equals(blocks[i].cid) {
			t.Fatalf("block %d is %s, want %s", i, c, blocks[i].cid)
		}
	}
	if n > 300000 {
		return // see chainDepth
	}
	written = written[:0]
	wk = carwalk.New(ctx, s, func(c cid.Cid, d []byte) error { written = append(written, c); return emit(c, d) },
		carwalk.WithContaining(root.Hash()), carwalk.WithMaxDepth(n-1))
	if err := wk.Block(root, blocks[0].data); err != nil {
		t.Fatal(err)
	}
	if err := wk.All(root, blocks[0].data); err != nil {
		t.Fatalf("max depth %d: %v", n-1, err)
	}
	if len(written) != n || !written[n-1].Equals(blocks[n-1].cid) {
		t.Errorf("%d blocks written, want the %d of the chain", len(written), n)
	}
	// A planner and a reader per stream, one stream open at a time.
	if peak-base > 10 {
		t.Errorf("up to %d goroutines while walking (%d before): streams left open on the path", peak, base)
	}
	// One level less than the chain is too shallow: the error, not a crash.
	wk = carwalk.New(ctx, s, func(cid.Cid, []byte) error { return nil }, carwalk.WithContaining(root.Hash()), carwalk.WithMaxDepth(n-2))
	if err := wk.All(root, blocks[0].data); !errors.Is(err, carwalk.ErrTooDeep) {
		t.Errorf("max depth %d of a %d-level chain: %v, want ErrTooDeep", n-2, n-1, err)
	}
}

func TestIsIdentity(t *testing.T) {
	id, err := multihash.Sum([]byte("x"), multihash.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    cid.Cid
		want bool
	}{
		{cid.NewCidV1(cid.Raw, id), true},
		{cid.NewCidV1(cid.DagCBOR, id), true},
		{cid.NewCidV1(0x300001, id), true}, // a codec of three varint bytes
		{rawBlock(t, "x").cid, false},
		{cid.MustParse("QmYhmPjhFjYFyaoiuNzYv8WGavpSRDwdHWe5B4M5du5Rtk"), false},
		{cid.Undef, false},
	} {
		if got := dag.IsIdentity(tc.c); got != tc.want || (tc.c.Defined() && got != dag.IsIdentityHash(tc.c.Hash())) {
			t.Errorf("IsIdentity(%s) = %v, want %v", tc.c, got, tc.want)
		}
	}
}
