package index_test

import (
	"context"
	"fmt"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	hsstore "github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/multiformats/go-multihash"
)

// A DAG's CONTAINING record, written as the JavaScript CLI does, then read
// once into a Set that locates each of its blocks.
func ExampleReader_Set() {
	ctx := context.Background()
	sum := func(s string) multihash.Multihash {
		mh, _ := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
		return mh
	}
	root, leaf, pack := sum("root"), sum("leaf"), sum("pack")
	store := memory.NewIndexStore()
	_ = index.NewMultipleLevelWriter(store).Add(ctx, []index.PackedBlob{
		{Multihash: root, BlobLocation: hsstore.BlobLocation{Pack: hsstore.Location{Multihash: pack}, Offset: 60, Length: 100}},
		{Multihash: leaf, BlobLocation: hsstore.BlobLocation{Pack: hsstore.Location{Multihash: pack}, Offset: 200, Length: 1000}},
	}, root)

	r := index.NewReader(store)
	set, err := r.Set(ctx, root)
	if err != nil {
		fmt.Println(err)
		return
	}
	blob, ok := set.Blob(leaf)
	fmt.Println(set.Containing(), set.Len(), ok, blob.Offset, blob.Length)
	// Output:
	// true 2 true 200 1000
}
