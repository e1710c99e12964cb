package storecopy_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/storecopy"
)

func ExampleCopy() {
	ctx := context.Background()
	src := storecopy.Stores{Index: memory.NewIndexStore(), Packs: memory.NewPackStore()}
	pack := []byte("some pack bytes")
	mh, _ := multihash.Sum(pack, multihash.SHA2_256, -1)
	_ = src.Packs.Put(ctx, mh, bytes.NewReader(pack), int64(len(pack)))
	_ = index.NewSingleLevelWriter(src.Index).Add(ctx, []index.PackedBlob{{
		Multihash:    mh,
		BlobLocation: store.BlobLocation{Pack: store.Location{Multihash: mh}, Length: uint64(len(pack))},
	}}, nil)

	// A BLOB and a PACK record: two index files.
	dst := storecopy.Stores{Index: memory.NewIndexStore(), Packs: memory.NewPackStore()}
	for range 2 {
		res, err := storecopy.Copy(ctx, dst, src, storecopy.WithConcurrency(4))
		fmt.Printf("packs %+v, index %+v, %v\n", res.Packs, res.Index, err)
	}
	// Output:
	// packs {Copied:1 Skipped:0 Failed:0 Invalid:0 Bytes:15}, index {Copied:2 Skipped:0 Failed:0 Invalid:0 Bytes:447}, <nil>
	// packs {Copied:0 Skipped:1 Failed:0 Invalid:0 Bytes:0}, index {Copied:0 Skipped:2 Failed:0 Invalid:0 Bytes:0}, <nil>
}
