package storecopy_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/storetest"
	"github.com/hash-stream/hash-stream-aws/lib/storecopy"
)

// A copy holds index files to the readers' limits (issue 21): a file whose
// record gives a block over the block limit, or a file over the index
// file cap, is skipped with a warning naming it (and the block), as
// readers with the same limits would refuse it; raised limits copy them.
func TestCopyHoldsToLimits(t *testing.T) {
	ctx := context.Background()
	src := loaded(t)
	pack := storetest.Sum(t, []byte("a pack"))
	long := storetest.Sum(t, []byte("a block of 4 MiB and a byte"))
	if err := index.NewSingleLevelWriter(src.Index).Add(ctx, []index.PackedBlob{{Multihash: long,
		BlobLocation: store.BlobLocation{Pack: store.Location{Multihash: pack}, Length: index.DefaultMaxBlockBytes + 1}}}, nil); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	res, err := storecopy.Copy(ctx, newMemory(), src, storecopy.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if res.Index.Invalid != 1 || res.Index.Failed != 0 {
		t.Errorf("result %+v, want one invalid index file", res)
	}
	for _, want := range []string{"level=WARN", "a block over the block limit", store.Key(long), "4194305 bytes, over the 4194304-byte block limit"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, logs.String())
		}
	}

	// The limits raised (the block's), and an index file cap under the
	// largest file of the store.
	logs.Reset()
	res, err = storecopy.Copy(ctx, newMemory(), src, storecopy.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		storecopy.WithLimits(index.Limits{MaxBlockBytes: index.DefaultMaxBlockBytes + 1, MaxFileBytes: 300}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Index.Invalid == 0 || res.Index.Copied == 0 || !strings.Contains(logs.String(), "index file skipped: too large") ||
		strings.Contains(logs.String(), "block limit") {
		t.Errorf("result %+v, log:\n%s", res, logs.String())
	}
}
