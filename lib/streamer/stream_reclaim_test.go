package streamer_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/budget"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
)

// A stream whose response stalls gives back what it read ahead (the budget
// holds the floor alone, the block in the consumer's hands in it), and
// reads it again when the consumer comes back: every block still comes,
// in order, verified.
func TestStreamGivesBackReadAheadWhenStalled(t *testing.T) {
	s, root, leaves := random3mLeaves(t)
	const floor = 2 << 20
	b := budget.New(64<<20, budget.WithStallAfter(testutil.ProvokedTimeout))
	acct, err := b.Admit(context.Background(), floor)
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	var stats dag.Stats
	st := s.Stream(budget.NewContext(context.Background(), acct), leaves, root.Hash(), &stats)
	defer st.Close()
	first, err := st.Next()
	if err != nil {
		t.Fatal(err)
	}
	// The other leaves are read ahead: borrowed beside the floor.
	if !testutil.Eventually(func() bool { return b.Used() > floor }) {
		t.Fatalf("nothing read ahead: %d bytes in use", b.Used())
	}
	reads := stats.Reads.Load()
	start := time.Now()
	acct.Sending() // a write to the client that does not return
	if !testutil.Eventually(func() bool { return stats.Reclaims.Load() > 0 }) {
		t.Fatal("the stalled stream gave nothing back")
	}
	if took := time.Since(start); took < b.StallAfter() {
		t.Errorf("read-ahead given back after %s, before the stall time (%s)", took, b.StallAfter())
	}
	if b.Used() != floor {
		t.Errorf("%d bytes in use while stalled, want the floor (%d)", b.Used(), floor)
	}
	acct.Sent()
	st.Recycle(first)
	got := []int{len(first.Data)}
	for i := 1; ; i++ {
		blk, err := st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(leaves) || !blk.CID.Equals(leaves[i]) {
			t.Fatalf("block %d is %s", i, blk.CID)
		}
		got = append(got, len(blk.Data))
		st.Recycle(blk)
	}
	if len(got) != len(leaves) {
		t.Fatalf("%d blocks, want %d", len(got), len(leaves))
	}
	if stats.Reads.Load() <= reads {
		t.Errorf("%d reads before the stall, %d after: nothing read again", reads, stats.Reads.Load())
	}
	if b.Used() != floor {
		t.Errorf("%d bytes in use at the end, want the floor", b.Used())
	}
}
