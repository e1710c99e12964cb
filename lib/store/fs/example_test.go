package fs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	pack := []byte("some pack bytes")
	mh, _ := multihash.Sum(pack, multihash.SHA2_256, -1)
	packs := fs.NewPackStore(filepath.Join(dir, "pack"))
	if err := packs.Put(ctx, mh, bytes.NewReader(pack), int64(len(pack))); err != nil {
		fmt.Println(err)
	}
	rc, _ := packs.GetRange(ctx, store.Location{Multihash: mh}, 5, 4)
	b, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Printf("%s\n", b)

	_, err := os.Stat(filepath.Join(dir, "pack", store.Key(mh)+".car"))
	fmt.Println(err == nil)

	// Paths in index records may not leave the folder.
	_, err = packs.GetRange(ctx, store.Location{Path: "../secret"}, 0, -1)
	fmt.Println(err)
	// Output:
	// pack
	// true
	// fs: path "../secret" has a ".." segment: invalid path
}
