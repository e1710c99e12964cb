package unixfs_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
)

type expectedFile struct {
	Name       string `json:"name"`
	Original   string `json:"original"`
	Size       uint64 `json:"size"`
	Containing struct {
		CID      string `json:"cid"`
		RootNode *struct {
			RootBlockHex string `json:"root_block_hex"`
		} `json:"root_node"`
	} `json:"containing"`
	Packs []struct {
		Blobs []struct {
			BlockCID string `json:"block_cid"`
			Length   int    `json:"length"`
		} `json:"blobs"`
	} `json:"packs"`
}

// The originals give the same root CIDs, blocks and block order as the
// JavaScript CLI.
func TestBuildFileMatchesJavaScript(t *testing.T) {
	interop := filepath.Join(testutil.Shared(t), "interop")
	raw, err := os.ReadFile(filepath.Join(interop, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected struct {
		Files []expectedFile `json:"files"`
	}
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatal(err)
	}
	if len(expected.Files) != 3 {
		t.Fatalf("%d files in expected.json", len(expected.Files))
	}
	for _, f := range expected.Files {
		t.Run(f.Name, func(t *testing.T) {
			in, err := os.Open(filepath.Join(interop, f.Original))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			var got []string
			var last []byte
			root, size, err := unixfs.BuildFile(in, func(b unixfs.Block) error {
				if !b.CID.Equals(mustSum(t, b.CID.Prefix(), b.Data)) {
					t.Errorf("block %s does not hash to its CID", b.CID)
				}
				got = append(got, b.CID.String())
				last = append(last[:0], b.Data...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if root.String() != f.Containing.CID || size != f.Size {
				t.Errorf("root %s size %d, want %s %d", root, size, f.Containing.CID, f.Size)
			}
			var want []string
			for _, p := range f.Packs {
				for _, b := range p.Blobs {
					want = append(want, b.BlockCID)
				}
			}
			// expected.json names blocks by their raw-codec CID; compare multihashes.
			if len(got) != len(want) {
				t.Fatalf("%d blocks, want %d", len(got), len(want))
			}
			for i := range got {
				if mh(t, got[i]) != mh(t, want[i]) {
					t.Errorf("block %d is %s, want %s", i, got[i], want[i])
				}
			}
			if rn := f.Containing.RootNode; rn != nil && hex.EncodeToString(last) != rn.RootBlockHex {
				t.Errorf("root block\n got %x\nwant %s", last, rn.RootBlockHex)
			}
		})
	}
}

// The balanced layout emits nodes as @ipld/unixfs does: width 3 and ten
// one-byte chunks give the tree drawn in its documentation, emitted in
// this order (the lone-leaf node r5 goes out before r4).
func TestBalancedLayoutOrder(t *testing.T) {
	var order []string
	names := map[string]string{}
	leaves := 0
	root, size, err := unixfs.BuildFile(strings.NewReader("abcdefghij"), func(b unixfs.Block) error {
		if b.CID.Prefix().Codec == cid.Raw {
			leaves++
			names[b.CID.KeyString()] = fmt.Sprintf("l%d", leaves)
		} else {
			names[b.CID.KeyString()] = fmt.Sprintf("n%d", len(names)-leaves+1)
		}
		order = append(order, names[b.CID.KeyString()])
		return nil
	}, unixfs.WithChunkSize(1), unixfs.WithWidth(3))
	if err != nil {
		t.Fatal(err)
	}
	// n1..n3 hold three leaves each; n4 holds l10 alone; n5 = (n1 n2 n3);
	// n6 = (n4); the root n7 = (n5 n6).
	want := "l1 l2 l3 l4 n1 l5 l6 l7 n2 l8 l9 l10 n3 n4 n5 n6 n7"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("order\n got %s\nwant %s", got, want)
	}
	if names[root.KeyString()] != "n7" || size != 10 {
		t.Errorf("root %s size %d", names[root.KeyString()], size)
	}
}

func TestSmallFiles(t *testing.T) {
	for _, n := range []int{0, 1, 5, 6, 7} {
		var blocks []unixfs.Block
		root, size, err := unixfs.BuildFile(bytes.NewReader(make([]byte, n)), func(b unixfs.Block) error {
			blocks = append(blocks, unixfs.Block{CID: b.CID, Data: append([]byte(nil), b.Data...)})
			return nil
		}, unixfs.WithChunkSize(5))
		if err != nil {
			t.Fatal(err)
		}
		if size != uint64(n) || !blocks[len(blocks)-1].CID.Equals(root) {
			t.Errorf("%d bytes: size %d, root %s, last block %s", n, size, root, blocks[len(blocks)-1].CID)
		}
		// Up to one chunk (and the empty file) is a single raw block.
		if n <= 5 && (len(blocks) != 1 || root.Prefix().Codec != cid.Raw || len(blocks[0].Data) != n) {
			t.Errorf("%d bytes: %d blocks, root codec %x", n, len(blocks), root.Prefix().Codec)
		}
		if n > 5 && (len(blocks) != 3 || root.Prefix().Codec != cid.DagProtobuf) {
			t.Errorf("%d bytes: %d blocks, root codec %x", n, len(blocks), root.Prefix().Codec)
		}
	}
}

func mustSum(t *testing.T, p cid.Prefix, data []byte) cid.Cid {
	t.Helper()
	c, err := p.Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mh(t *testing.T, s string) string {
	t.Helper()
	c, err := cid.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return c.Hash().HexString()
}

func BenchmarkBuildFile(b *testing.B) {
	const size = 64 << 20
	data := make([]byte, size)
	copy(data, bytes.Repeat([]byte("hash stream "), size/12))
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		sink := sha256.New()
		_, _, err := unixfs.BuildFile(bytes.NewReader(data), func(bl unixfs.Block) error {
			sink.Write(bl.Data)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
