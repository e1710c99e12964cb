package memory_test

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
)

func Example() {
	ctx := context.Background()
	pack := []byte("some pack bytes")
	mh, _ := multihash.Sum(pack, multihash.SHA2_256, -1)

	packs := memory.NewPackStore()
	_ = packs.Put(ctx, mh, bytes.NewReader(pack), int64(len(pack)))
	rc, _ := packs.GetRange(ctx, store.Location{Multihash: mh}, 5, 4)
	b, _ := io.ReadAll(rc)
	fmt.Printf("%s\n", b)

	index := memory.NewIndexStore()
	_ = index.Put(ctx, mh, mh, []byte("an index file"))
	files, _ := index.Files(ctx, mh)
	fmt.Println(len(files), files[0].Name == store.Key(mh)+"/"+store.Key(mh))
	// Output:
	// pack
	// 1 true
}
