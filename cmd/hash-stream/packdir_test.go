package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
)

// folderTree writes a tree to pack: nested folders, an empty file, a
// 3 MB file, small files, an empty folder and, when sharded, a folder of
// 5300 files (a HAMT: its node would exceed 256 KiB). It returns the files
// by slash path.
func folderTree(t *testing.T, sharded bool) (string, map[string][]byte) {
	t.Helper()
	root := t.TempDir()
	files := map[string][]byte{
		"hello.txt":      []byte("hello world\n"),
		"a/b/empty.txt":  nil,
		"a/b/note.md":    []byte("# two folders down\n"),
		"a/big.bin":      readAll(t, testutil.HashStreamReader("hash-stream folder ", 3_000_000)),
		"docs/ünï.txt":   []byte("a name in UTF-8\n"),
		"docs/Upper.txt": []byte("upper case sorts first\n"),
	}
	if sharded {
		for i := range 5300 {
			files[fmt.Sprintf("sharded/f%05d", i)] = fmt.Appendf(nil, "file %d\n", i)
		}
	}
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "a", "nothing"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root, files
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildBlocks is what unixfs.BuildDirectory makes of the tree: its root
// and its blocks by multihash.
func buildBlocks(t *testing.T, root string) (cid.Cid, map[string][]byte) {
	t.Helper()
	blocks := map[string][]byte{}
	c, err := unixfs.BuildDirectory(os.DirFS(root), func(b unixfs.Block) error {
		blocks[string(b.CID.Hash())] = bytes.Clone(b.Data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, blocks
}

var containingRE = regexp.MustCompile(`Containing CID:\s+(\S+)`)

// checkDump checks a CAR dumped from the root holds exactly the blocks of
// the DAG and the files of the tree, and returns its bytes.
func checkDump(t *testing.T, car string, root cid.Cid, blocks map[string][]byte, files map[string][]byte) []byte {
	t.Helper()
	raw, err := os.ReadFile(car)
	if err != nil {
		t.Fatal(err)
	}
	roots, read := testutil.MustReadCAR(t, bytes.NewReader(raw))
	if len(roots) != 1 || !roots[0].Equals(root) {
		t.Errorf("CAR roots %v, want %s", roots, root)
	}
	seen := map[string]bool{}
	for _, b := range read {
		want, ok := blocks[string(b.CID.Hash())]
		if !ok || !bytes.Equal(b.Data, want) {
			t.Errorf("CAR block %s is not a block of the DAG", b.CID)
		}
		seen[string(b.CID.Hash())] = true
	}
	if len(seen) != len(blocks) {
		t.Errorf("CAR has %d distinct blocks, the DAG %d", len(seen), len(blocks))
	}
	got := carFiles(t, car, root.String())
	if len(got) != len(files) {
		t.Errorf("%d files in the CAR, %d in the tree", len(got), len(files))
	}
	for _, f := range got {
		if want, ok := files[f.path]; !ok || !bytes.Equal(f.content, want) {
			t.Errorf("%s: %d bytes in the CAR, not the file of the tree", f.path, len(f.content))
		}
	}
	return raw
}

// pack write of a folder into the fs store: the root is the folder's
// DAG root, streamer dump gives back every block and file, and the
// gateway resolves files by path, through plain folders and the HAMT.
func TestPackWriteFolder(t *testing.T) {
	tree, files := folderTree(t, true)
	wantRoot, blocks := buildBlocks(t, tree)
	dir := t.TempDir()
	code, out, errOut := runCLI(t, dir, "pack", "write", tree, "--pack-size", "2200000", "--fsync=false")
	if code != 0 {
		t.Fatalf("pack write: %d %s", code, errOut)
	}
	m := containingRE.FindStringSubmatch(out)
	if m == nil || m[1] != wantRoot.String() || !strings.Contains(out, fmt.Sprintf("Packing folder: %s (%d files, 6 folders, ", filepath.Base(tree), len(files))) {
		t.Fatalf("output (want root %s):\n%s", wantRoot, out)
	}
	if n := strings.Count(out, "Blobs:"); n < 2 {
		t.Errorf("%d packs, want several of at most 2200000 bytes", n)
	}

	car := filepath.Join(t.TempDir(), "dir.car")
	if code, _, errOut := runCLI(t, dir, "streamer", "dump", m[1], car); code != 0 {
		t.Fatalf("dump: %s", errOut)
	}
	checkDump(t, car, wantRoot, blocks, files)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr, _ := startGateway(t, ctx, dir)
	get := func(target string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, readAll(t, resp.Body)
	}
	// Each file by path as a CAR (the gateway resolves paths for CARs):
	// the path's blocks, then the file's, which rebuild it.
	for _, p := range []string{"hello.txt", "a/b/note.md", "a/b/empty.txt", "a/big.bin", "docs/ünï.txt", "sharded/f04242"} {
		status, body := get("/ipfs/" + m[1] + "/" + p + "?format=car")
		if status != http.StatusOK {
			t.Errorf("%s: %d %s", p, status, body)
			continue
		}
		car := filepath.Join(t.TempDir(), "file.car")
		if err := os.WriteFile(car, body, 0o644); err != nil {
			t.Fatal(err)
		}
		fileRoot, _, err := unixfs.BuildFile(bytes.NewReader(files[p]), func(unixfs.Block) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if got := carFiles(t, car, fileRoot.String()); len(got) != 1 || !bytes.Equal(got[0].content, files[p]) {
			t.Errorf("%s: the gateway's CAR does not rebuild the file", p)
		}
	}
	// A single-block file's CID alone, as a raw block.
	helloRoot, _, err := unixfs.BuildFile(bytes.NewReader(files["hello.txt"]), func(unixfs.Block) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if status, body := get("/ipfs/" + helloRoot.String() + "?format=raw"); status != http.StatusOK || !bytes.Equal(body, files["hello.txt"]) {
		t.Errorf("hello.txt's block: %d %q", status, body)
	}
}

// pack write of a folder into the real S3 server: same root, and the
// CAR streamer dump gives is byte for byte the one from the fs store.
func TestPackWriteFolderS3(t *testing.T) {
	tree, files := folderTree(t, false)
	wantRoot, blocks := buildBlocks(t, tree)

	dir := t.TempDir()
	if code, _, errOut := runCLI(t, dir, "pack", "write", tree, "--pack-size", "2200000", "--fsync=false"); code != 0 {
		t.Fatalf("fs pack write: %s", errOut)
	}
	fsCAR := filepath.Join(t.TempDir(), "fs.car")
	if code, _, errOut := runCLI(t, dir, "streamer", "dump", wantRoot.String(), fsCAR); code != 0 {
		t.Fatalf("fs dump: %s", errOut)
	}
	fromFS := checkDump(t, fsCAR, wantRoot, blocks, files)

	vars := map[string]string{
		envBackend:        "s3",
		s3.EnvIndexBucket: s3Server.NewBucket(t),
		s3.EnvPackBucket:  s3Server.NewBucket(t),
		s3.EnvIndexPrefix: "idx/",
		s3.EnvPackPrefix:  "packs/",
	}
	cli := s3CLI(t, vars)
	code, out, errOut := cli("pack", "write", tree, "-ps", "2200000")
	if m := containingRE.FindStringSubmatch(out); code != 0 || m == nil || m[1] != wantRoot.String() || !strings.Contains(out, "Store backend: s3") {
		t.Fatalf("s3 pack write: %d\n%s%s", code, out, errOut)
	}
	s3CAR := filepath.Join(t.TempDir(), "s3.car")
	if code, _, errOut := cli("streamer", "dump", wantRoot.String(), s3CAR); code != 0 {
		t.Fatalf("s3 dump: %s", errOut)
	}
	if fromS3 := checkDump(t, s3CAR, wantRoot, blocks, files); !bytes.Equal(fromS3, fromFS) {
		t.Error("the CAR dumped from S3 differs from the one dumped from the fs store")
	}
}

// A symbolic link anywhere in the folder: exit 1 naming it, and nothing
// stored or indexed.
func TestPackWriteFolderSymlink(t *testing.T) {
	tree, _ := folderTree(t, false)
	link := filepath.Join(tree, "a", "b", "link")
	if err := os.Symlink("note.md", link); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, out, errOut := runCLI(t, dir, "pack", "write", tree)
	want := link + ": a symbolic link: only regular files and folders can be packed"
	if code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
	if strings.Contains(out, "Containing CID") {
		t.Errorf("output:\n%s", out)
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("%s written", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The progress bar of a folder sees every byte of its files once.
func TestProgressFS(t *testing.T) {
	tree, files := folderTree(t, false)
	var want int
	for _, f := range files {
		want += len(f)
	}
	counted := dag.Counter{W: io.Discard}
	plain, err := unixfs.BuildDirectory(os.DirFS(tree), func(unixfs.Block) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	root, err := unixfs.BuildDirectory(progressFS{os.DirFS(tree), &counted}, func(unixfs.Block) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !root.Equals(plain) || counted.N != int64(want) {
		t.Errorf("root %s (%s without the bar), %d bytes counted, want %d", root, plain, counted.N, want)
	}
}
