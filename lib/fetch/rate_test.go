package fetch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/fetch/fetchtest"
)

// A gateway that answers 200 and then drips its CAR a byte at a time
// (issue 21's N4: the idle timer never fires) is failed over at the end
// of the first rate window; alone, it fails with ErrSlow.
func TestFetchDripFailsOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	content := bytes.Repeat([]byte("a file dripped by a gateway\n"), 1000)
	drip, good := fetchtest.New(t), fetchtest.New(t)
	root := drip.File(content, 4096)
	if good.File(content, 4096) != root {
		t.Fatal("two builds differ")
	}
	drip.Drip(5 * time.Millisecond)
	const window = 200 * time.Millisecond
	// 1 KiB/s over 200 ms is 204 bytes; the drip sends about 40.
	opts := []Option{WithSliceSize(8192), WithIdleTimeout(30 * time.Second), WithMinRate(1024, window)}
	c, err := New([]string{drip.URL, good.URL}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	start := time.Now()
	if err := c.Fetch(ctx, root, out); err != nil {
		t.Fatalf("with a good second gateway: %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %s: the rate window did not end the drip (the idle timeout is 30s)", d)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, content) {
		t.Error("content differs")
	}
	if drip.CARRequests() == 0 {
		t.Error("the dripping gateway was never asked")
	}
	c, _ = New([]string{drip.URL}, append(opts, WithRetries(1))...)
	if err := c.Fetch(ctx, root, out+".2"); !errors.Is(err, ErrSlow) {
		t.Errorf("dripping alone: %v, want ErrSlow", err)
	}
}
