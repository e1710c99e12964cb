package ingest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/ingest"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/ipfs/go-cid"
)

// The indexer holds CARs to the readers' limits (issue 21): a CAR with a
// block over the block limit, or whose index would pass the index file
// cap (small limits here; the defaults are the gateway's), is rejected
// naming the block, nothing of it stored or indexed. The same CAR within
// the limits is indexed.
func TestIngestRejectsWhatReadersRefuse(t *testing.T) {
	ctx := context.Background()
	car, _, info := testCAR(t, 3<<20) // 1 MiB leaves and a root node
	leaf := cid.NewCidV1(cid.Raw, info.Blobs[0].Multihash)
	tally := index.NewTally(index.Limits{MaxFileBytes: 1 << 30}, len(info.Blobs[len(info.Blobs)-1].Multihash))
	tally.Pack(len(info.Multihash))
	for _, b := range info.Blobs[:2] {
		if err := tally.Blob(b.Multihash, b.Offset, b.Length); err != nil {
			t.Fatal(err)
		}
	}
	twoBlobs := tally.Bytes() // the index of the first two blocks: the third is over
	third := cid.NewCidV1(cid.Raw, info.Blobs[2].Multihash)

	for _, tc := range []struct {
		name   string
		limits index.Limits
		block  int
		cid    cid.Cid
		msg    string
	}{
		{"block over the block limit", index.Limits{MaxBlockBytes: 1<<20 - 1}, 0, leaf, "over the 1048575-byte block limit"},
		{"index over the file cap", index.Limits{MaxFileBytes: twoBlobs}, 2, third, "index too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, ingest.WithLimits(tc.limits))
			r.src.put("ingest/big.car", car)
			res, err := r.x.Ingest(ctx, "ingest/big.car")
			if err != nil || res.Outcome != ingest.Rejected {
				t.Fatalf("outcome %q, %v", res.Outcome, err)
			}
			if r.src.has("ingest/big.car") || !r.src.has("rejected/big.car") {
				t.Fatal("not moved to the rejected prefix")
			}
			if _, err := r.packs.Stat(ctx, info.Multihash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("pack stored: %v", err)
			}
			if n := indexFiles(t, r.idx, info); n != 0 {
				t.Errorf("%d index files written", n)
			}
			log := r.log.String()
			for _, want := range []string{`"msg":"CAR rejected"`, tc.msg, `"block_cid":"` + tc.cid.String() + `"`} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %s: %s", want, log)
				}
			}
		})
	}

	// Within the limits (the first case's, one byte more): indexed.
	r := newRig(t, ingest.WithLimits(index.Limits{MaxBlockBytes: 1 << 20, MaxFileBytes: twoBlobs * 4}))
	r.src.put("ingest/ok.car", car)
	if res, err := r.x.Ingest(ctx, "ingest/ok.car"); err != nil || res.Outcome != ingest.Indexed {
		t.Fatalf("outcome %q, %v", res.Outcome, err)
	}
}
