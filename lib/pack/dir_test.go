package pack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
)

// WriteDirectory packs every block of the folder's DAG, in the order
// BuildDirectory emits them, and puts the root in the last pack's header.
func TestWriteDirectory(t *testing.T) {
	tree := fstest.MapFS{
		"big.bin":        {Data: bytes.Repeat([]byte("0123456789"), 250_000)}, // 3 leaves
		"docs/a.txt":     {Data: []byte("a")},
		"docs/empty.txt": {},
		"nothing":        {Mode: fs.ModeDir | 0o755},
	}
	for i := range 50 {
		tree[fmt.Sprintf("many/%02d.txt", i)] = &fstest.MapFile{Data: []byte{byte(i)}}
	}
	var want []unixfs.Block
	wantRoot, err := unixfs.BuildDirectory(tree, func(b unixfs.Block) error {
		want = append(want, unixfs.Block{CID: b.CID, Data: bytes.Clone(b.Data)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ps := memory.NewPackStore()
	ctx := context.Background()
	root, infos, err := pack.WriteDirectory(ctx, ps, tree, pack.WithMaxSize(1_100_000), pack.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if !root.Equals(wantRoot) || len(infos) < 2 {
		t.Fatalf("root %s in %d packs, want %s in several", root, len(infos), wantRoot)
	}
	if last := infos[len(infos)-1]; len(last.Roots) != 1 || !last.Roots[0].Equals(root) {
		t.Errorf("last pack's roots %v", last.Roots)
	}
	var i int
	for _, p := range infos {
		for _, b := range p.Blobs {
			if i >= len(want) {
				t.Fatalf("more blobs than the %d blocks", len(want))
			}
			data, err := store.ReadRange(ctx, ps, store.Location{Multihash: p.Multihash}, b.Offset, b.Length)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Multihash, want[i].CID.Hash()) || !bytes.Equal(data, want[i].Data) {
				t.Errorf("blob %d: %s, want block %s", i, cid.NewCidV1(cid.Raw, b.Multihash), want[i].CID)
			}
			i++
		}
	}
	if i != len(want) {
		t.Errorf("%d blobs, want %d", i, len(want))
	}

	// A symlink fails the write with the UnsupportedError.
	tree["docs/link"] = &fstest.MapFile{Mode: fs.ModeSymlink}
	_, _, err = pack.WriteDirectory(ctx, memory.NewPackStore(), tree, pack.WithTempDir(t.TempDir()))
	var ue *unixfs.UnsupportedError
	if !errors.As(err, &ue) || ue.Path != "docs/link" {
		t.Errorf("with a symlink: %v", err)
	}
}
