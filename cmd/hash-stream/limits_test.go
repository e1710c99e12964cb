package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/ipfs/go-cid"
)

// writeBlockCAR writes a CARv1 whose root is one raw block of size bytes
// and returns its path and the block's CID.
func writeBlockCAR(t *testing.T, size int) (string, cid.Cid) {
	t.Helper()
	car, c, err := fixture.RawBlockCAR(bytes.Repeat([]byte("six mebibytes "), size/14+1)[:size])
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "block.car")
	if err := os.WriteFile(path, car, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, c
}

// storedFiles counts the files under the fs store dir (packs and index
// files alike).
func storedFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return n
}

func getStatus(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// Issue 21, "pack import of a CAR with a 6 MiB block": serve would answer
// 502 for it (over --max-block-bytes, 4 MiB), so pack import and index add
// refuse it, naming the block, and store nothing. With --max-block-bytes
// raised on both sides it is stored and served.
func TestWritersRefuseABlockServeRefuses(t *testing.T) {
	dir := t.TempDir()
	car, c := writeBlockCAR(t, 6<<20)

	code, _, stderr := runCLI(t, dir, "pack", "import", car)
	if code != 1 || !strings.Contains(stderr, c.String()) || !strings.Contains(stderr, "6291456 bytes, over the 4194304-byte block limit") ||
		!strings.Contains(stderr, "--max-block-bytes") {
		t.Fatalf("pack import: exit %d: %s", code, stderr)
	}
	if n := storedFiles(t, dir); n != 0 {
		t.Fatalf("%d files stored", n)
	}
	code, _, stderr = runCLI(t, dir, "index", "add", c.String(), car)
	if code != 1 || !strings.Contains(stderr, c.String()) || !strings.Contains(stderr, "over the 4194304-byte block limit") {
		t.Fatalf("index add: exit %d: %s", code, stderr)
	}
	if n := storedFiles(t, dir); n != 0 {
		t.Fatalf("%d files stored", n)
	}
	// pack write holds its blocks to the same limit (its leaves are 1 MiB).
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, bytes.Repeat([]byte("x"), 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, dir, "pack", "write", file, "--max-block-bytes", strconv.Itoa(1<<20-1))
	if code != 1 || !strings.Contains(stderr, "block bafkrei") || !strings.Contains(stderr, "over the 1048575-byte block limit") {
		t.Fatalf("pack write: exit %d: %s", code, stderr)
	}
	if n := storedFiles(t, dir); n != 0 {
		t.Fatalf("%d files stored", n)
	}
	if code, _, stderr = runCLI(t, dir, "pack", "import", car, "--max-block-bytes", "0"); code != 1 || !strings.Contains(stderr, "--max-block-bytes must be positive") {
		t.Fatalf("--max-block-bytes 0: exit %d: %s", code, stderr)
	}

	// Raised on both sides: stored, indexed and served.
	raised := strconv.Itoa(8 << 20)
	if code, _, stderr = runCLI(t, dir, "pack", "import", car, "--max-block-bytes", raised); code != 0 {
		t.Fatalf("pack import --max-block-bytes %s: exit %d: %s", raised, code, stderr)
	}
	vars := map[string]string{envDir: dir}
	status, body := getStatus(t, "http://"+startServe(t, vars, "--max-block-bytes", raised)+"/ipfs/"+c.String()+"?format=raw")
	if status != http.StatusOK || len(body) != 6<<20 {
		t.Fatalf("serve --max-block-bytes %s: %d, %d bytes", raised, status, len(body))
	}
	// What the limit keeps out: serve with its default refuses the block.
	if status, _ = getStatus(t, "http://"+startServe(t, vars)+"/ipfs/"+c.String()+"?format=raw"); status != http.StatusBadGateway {
		t.Fatalf("serve with the default limit: %d", status)
	}
}

// The defaults of the writers' flags are serve's (issue 21): one limit,
// declared in lib/index, read by both.
func TestWriterLimitDefaultsAreServes(t *testing.T) {
	for _, cmd := range [][]string{{"pack", "import"}, {"pack", "write"}, {"index", "add"}, {"store", "copy"}, {"serve"}} {
		code, _, stderr := runCLI(t, t.TempDir(), append(cmd, "--help")...)
		if code != 0 && code != 2 {
			t.Fatalf("%v --help: exit %d", cmd, code)
		}
		want := "(default " + strconv.Itoa(index.DefaultMaxBlockBytes) + ")"
		i := strings.Index(stderr, "-max-block-bytes")
		if i < 0 || !strings.Contains(stderr[i:], want) {
			t.Errorf("%v: --max-block-bytes without %s:\n%s", cmd, want, stderr)
		}
	}
}

// pack write of a folder with more files and folders than one index file
// can locate is refused before anything is read or stored (a small cap
// here; 332,220 blocks at the default 64 MiB).
func TestPackWriteFolderRefusesTooManyBlocks(t *testing.T) {
	limits := index.Limits{MaxFileBytes: 2000}
	n := limits.MaxBlobs() // files: with the folder, one block more
	src := t.TempDir()
	for i := range n {
		if err := os.WriteFile(filepath.Join(src, strconv.Itoa(i)), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	st := &stores{index: fs.NewIndexStore(filepath.Join(dir, "index")), packs: fs.NewPackStore(filepath.Join(dir, "pack")), backend: "fs"}
	writers, err := index.NewWriters(index.WritersAll, st.index)
	if err != nil {
		t.Fatal(err)
	}
	env := &cliEnv{stdout: io.Discard, stderr: io.Discard}
	opts := []pack.WriterOption{pack.WithWriterLimits(limits), pack.WithTempDir(t.TempDir())}
	err = packWriteFolder(context.Background(), env, src, st, writers, opts, limits, pack.DefaultMaxSize, index.WritersAll)
	if !errors.Is(err, index.ErrIndexOverLimit) || !strings.Contains(err.Error(), "at least "+strconv.Itoa(n+1)+" blocks") {
		t.Fatalf("got %v", err)
	}
	if files := storedFiles(t, dir); files != 0 {
		t.Fatalf("%d files stored", files)
	}
	// One file fewer: written.
	if err := os.Remove(filepath.Join(src, "0")); err != nil {
		t.Fatal(err)
	}
	if err := packWriteFolder(context.Background(), env, src, st, writers, opts, limits, pack.DefaultMaxSize, index.WritersAll); err != nil {
		t.Fatal(err)
	}
}
