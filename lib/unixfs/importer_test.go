package unixfs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
)

// The size rule, worked out for the test tree: a Directory node is 4
// bytes of Data plus, per counted link (a file or an empty folder), 44
// bytes and the name's length while the name is under 86 bytes and the
// Tsize under 128. Files of a name's length hold their name.
const (
	linkOverhead = 44
	dataField    = 4
)

// writeThresholdFolder writes a folder whose size by the importer's rule
// is threshold+extra: files and empty folders with 6-byte names, the last
// file's name padded to land exactly there, and a non-empty sub-folder,
// which counts for nothing.
func writeThresholdFolder(t *testing.T, dir string, threshold, extra int) {
	t.Helper()
	const name = 6 // f00000
	per := linkOverhead + name
	n := (threshold - dataField) / per // entries of 6-byte names that fit
	rest := threshold + extra - dataField - (n-1)*per - linkOverhead
	for i := range n - 1 {
		if i%20 == 0 {
			mkdir(t, filepath.Join(dir, fmt.Sprintf("e%05d", i))) // empty: counted
			continue
		}
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%05d", i)), fmt.Sprintf("f%05d", i))
	}
	last := "z" + strings.Repeat("x", rest-1)
	writeFile(t, filepath.Join(dir, last), last[:10])
	writeFile(t, filepath.Join(dir, "sub", "inside.txt"), "in a sub-folder")
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// jsTree writes the tree the JavaScript importer and BuildDirectory both
// encode: nested folders, an empty file, a 3 MB random file, small files
// with names whose byte order differs from their order in UTF-16 or case,
// empty folders, a folder exactly at the shard threshold (plain), one a
// byte above (HAMT, two levels), and a folder of many non-empty
// sub-folders whose node is larger than the threshold (plain: their links
// do not count).
func jsTree(t *testing.T) string {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a", "b", "c", "deep.txt"), "three folders down\n")
	writeFile(t, filepath.Join(root, "a", "b", "side.txt"), "beside c\n")
	writeFile(t, filepath.Join(root, "empty.txt"), "")
	writeFile(t, filepath.Join(root, "hello.txt"), "hello world\n")
	writeFile(t, filepath.Join(root, "B.txt"), "upper case sorts first\n")
	writeFile(t, filepath.Join(root, "éa.txt"), "two UTF-8 bytes\n")
	writeFile(t, filepath.Join(root, "\U0001F600.txt"), "four UTF-8 bytes, a surrogate pair in UTF-16\n")
	writeFile(t, filepath.Join(root, "\uFB01.txt"), "three UTF-8 bytes, sorts after the emoji in UTF-16\n")
	mkdir(t, filepath.Join(root, "empty-folder"))
	mkdir(t, filepath.Join(root, "only-empty", "inner"))
	random := make([]byte, 3_000_000)
	rand.NewChaCha8([32]byte{'h', 's'}).Read(random)
	writeFile(t, filepath.Join(root, "random-3m.bin"), string(random))
	writeThresholdFolder(t, filepath.Join(root, "at-threshold"), unixfs.DefaultShardThreshold, 0)
	writeThresholdFolder(t, filepath.Join(root, "above-threshold"), unixfs.DefaultShardThreshold, 1)
	// 2200 links of 124 bytes (80-byte names): a 272 KiB node.
	for i := range 2200 {
		writeFile(t, filepath.Join(root, "subfolders", fmt.Sprintf("d%05d-%s", i, strings.Repeat("x", 73)), "f"), "")
	}
	return root
}

// BuildDirectory gives the root CID and the blocks ipfs-unixfs-importer
// 17.1.1 gives with profile unixfs-v1-2025 (Node, skipped without it).
func TestBuildDirectoryMatchesImporter(t *testing.T) {
	node, modules := testutil.Node(t, "ipfs-unixfs-importer")
	root := jsTree(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "importer.mjs"), "--modules", modules, root)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("importer.mjs: %v\n%s", err, stderr.String())
	}
	t.Logf("the importer ran %v", time.Since(start).Round(time.Millisecond))
	var js struct {
		Root   string   `json:"root"`
		Blocks []string `json:"blocks"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &js); err != nil {
		t.Fatalf("importer output: %v\n%.500s", err, stdout.String())
	}

	got, blocks := build(t, os.DirFS(root))
	if got.String() != js.Root {
		t.Errorf("root %s, the importer's %s", got, js.Root)
	}
	ours := map[string]bool{}
	for _, b := range blocks {
		ours[b.CID.String()] = true
	}
	theirs := map[string]bool{}
	for _, c := range js.Blocks {
		theirs[c] = true
	}
	var missing, extra []string
	for c := range theirs {
		if !ours[c] {
			missing = append(missing, c)
		}
	}
	for c := range ours {
		if !theirs[c] {
			extra = append(extra, c)
		}
	}
	if len(missing)+len(extra) > 0 {
		slices.Sort(missing)
		slices.Sort(extra)
		t.Errorf("%d blocks of the importer missing, %d blocks it does not have: missing %.5v, extra %.5v", len(missing), len(extra), missing, extra)
	}
	t.Logf("%d distinct blocks (%d emitted), root %s", len(ours), len(blocks), got)

	// The tree's folders are laid out as intended, so the comparison
	// covers both sides of the threshold and the uncounted sub-folders.
	for _, tc := range []struct {
		folder string
		hamt   bool
	}{{"at-threshold", false}, {"above-threshold", true}, {"subfolders", false}, {"a", false}} {
		sub, err := fs.Sub(os.DirFS(root), tc.folder)
		if err != nil {
			t.Fatal(err)
		}
		c, blocks := build(t, sub)
		rootBlock := blocks[len(blocks)-1]
		if !rootBlock.CID.Equals(c) {
			t.Fatalf("%s: the root is not the last block", tc.folder)
		}
		if isHAMT := nodeType(t, rootBlock.Data) == hamtShard; isHAMT != tc.hamt {
			t.Errorf("%s: HAMT %v, want %v", tc.folder, isHAMT, tc.hamt)
		}
		if tc.folder == "subfolders" && len(rootBlock.Data) <= unixfs.DefaultShardThreshold {
			t.Errorf("subfolders: node of %d bytes, want one above the threshold", len(rootBlock.Data))
		}
	}
}

// build runs BuildDirectory and returns the root and copies of the
// blocks, checking each hashes to its CID.
func build(t *testing.T, fsys fs.FS, opts ...unixfs.Option) (cid.Cid, []unixfs.Block) {
	t.Helper()
	var blocks []unixfs.Block
	root, err := unixfs.BuildDirectory(fsys, func(b unixfs.Block) error {
		if !b.CID.Equals(mustSum(t, b.CID.Prefix(), b.Data)) {
			t.Errorf("block %s does not hash to its CID", b.CID)
		}
		blocks = append(blocks, unixfs.Block{CID: b.CID, Data: bytes.Clone(b.Data)})
		return nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return root, blocks
}
