package streamer

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/multiformats/go-multihash"
)

// BenchmarkStream reads the 256 blocks of a 256 MiB file from an fs store
// through a planned Stream, with verification and without it (the only
// place it can be turned off), to measure what verification costs.
func BenchmarkStream(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	ctx := context.Background()
	packs := fs.NewPackStore(filepath.Join(dir, "pack"), fs.WithSync(false))
	root, infos, err := pack.WriteFile(ctx, packs, testutil.HashStreamReader("stream bench ", size))
	if err != nil {
		b.Fatal(err)
	}
	idx := fs.NewIndexStore(filepath.Join(dir, "index"))
	if err := pack.AddToIndex(ctx, []index.Writer{index.NewMultipleLevelWriter(idx)}, infos, root.Hash()); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		verify func(multihash.Multihash, []byte) error
	}{
		{"verify", dag.Verify},
		{"noverify", func(multihash.Multihash, []byte) error { return nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := New(index.NewReader(idx), packs)
			s.verify = bc.verify
			rootData, err := s.Block(ctx, root.Hash(), root.Hash(), nil)
			if err != nil {
				b.Fatal(err)
			}
			leaves, err := dag.Links(root, rootData)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			for b.Loop() {
				st := s.Stream(ctx, leaves, root.Hash(), nil)
				n := 0
				for {
					blk, err := st.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n++
					st.Recycle(blk)
				}
				st.Close()
				if n != len(leaves) {
					b.Fatalf("%d blocks", n)
				}
			}
		})
	}
}
