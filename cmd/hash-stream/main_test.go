package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// runCLI runs the CLI in-process against the fs store in dir.
func runCLI(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errOut, getenv: func(k string) string {
		if k == envDir {
			return dir
		}
		return ""
	}}
	code = run(context.Background(), env, args)
	return code, out.String(), errOut.String()
}

// pack write then streamer dump gives back a CAR whose blocks all verify
// and rebuild the original file.
func TestPackWriteAndDump(t *testing.T) {
	interop := filepath.Join(testutil.Shared(t), "interop")
	dir := t.TempDir()
	code, out, errOut := runCLI(t, dir, "pack", "write", filepath.Join(interop, "originals", "random-3m.bin"), "--pack-size", "2200000")
	if code != 0 {
		t.Fatalf("pack write: %d %s", code, errOut)
	}
	const root = "bafybeicnbjdnewgphuifn3mfbao2r4rbjyhyjc254pbmsaw3yq2gmyi4ha"
	if !strings.Contains(out, root) || strings.Count(out, "MH(") != 7 {
		t.Errorf("output:\n%s", out)
	}
	// Byte-identical packs to the JS store.
	for _, p := range []string{"bafkreie47atxr6qxoidc7je3ieutfjp4qrs4kws5k2qeslynmek3f6gwf4", "bafkreicbhvdete76okplz43cah3zflzl7g3ngc2jhtbwtm7ly5twbtc2hi"} {
		want, _ := os.ReadFile(filepath.Join(interop, "js-fs-store", "pack", p+".car"))
		got, err := os.ReadFile(filepath.Join(dir, "pack", p+".car"))
		if err != nil || !bytes.Equal(got, want) || len(want) == 0 {
			t.Errorf("pack %s differs from the JS one (%v)", p, err)
		}
	}
	car := filepath.Join(t.TempDir(), "out.car")
	if code, _, errOut := runCLI(t, dir, "streamer", "dump", root, car); code != 0 {
		t.Fatalf("dump: %s", errOut)
	}
	f, err := os.Open(car)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	roots, blocks := testutil.MustReadCAR(t, f)
	if len(roots) != 1 || roots[0].String() != root {
		t.Fatalf("roots %v", roots)
	}
	if len(blocks) == 0 {
		t.Fatal("no block in the CAR")
	}
	var file []byte
	for _, b := range blocks[1:] { // leaves follow the root
		file = append(file, b.Data...)
	}
	n := len(blocks)
	want, _ := os.ReadFile(filepath.Join(interop, "originals", "random-3m.bin"))
	if n != 5 || sha256.Sum256(file) != sha256.Sum256(want) {
		t.Errorf("%d blocks; rebuilt file differs", n)
	}
}

// Bad input gets exit code 1, a one-line error naming the thing, and
// leaves nothing behind.
func TestBadInput(t *testing.T) {
	conf := filepath.Join(testutil.Shared(t), "conformance")
	good, err := os.ReadFile(filepath.Join(conf, "subdir-with-mixed-block-files.car"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-3] ^= 0xff
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"not a car", []string{"pack", "import", write("text.car", []byte("hello, not a CAR"))}, "text.car: invalid CAR"},
		{"truncated car", []string{"pack", "import", write("short.car", good[:len(good)-10])}, "short.car: invalid CAR"},
		{"block not matching its CID", []string{"pack", "import", write("flipped.car", flipped)}, "flipped.car: invalid CAR"},
		{"bad cid", []string{"index", "find", "records", "not-a-cid"}, `bad CID "not-a-cid"`},
		{"unknown cid", []string{"streamer", "dump", "bafkreie47atxr6qxoidc7je3ieutfjp4qrs4kws5k2qeslynmek3f6gwf4", filepath.Join(tmp, "x.car")}, "block not found"},
		{"unknown writer", []string{"pack", "write", write("f.txt", []byte("x")), "-iw", "bogus"}, `unknown index writer "bogus"`},
		{"missing file", []string{"pack", "write", filepath.Join(tmp, "nope")}, "no such file"},
		{"too many args", []string{"pack", "write", "a", "b"}, "want 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			code, _, errOut := runCLI(t, dir, c.args...)
			if code != 1 || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q, want 1 and %q", code, errOut, c.want)
			}
			// Nothing was stored.
			entries, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
			if len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(tmp, "x.car")); !os.IsNotExist(err) {
		t.Errorf("failed dump left its output file: %v", err)
	}
}

// An index file that does not decode is skipped with a warning naming it
// while another file of the CID is usable; when none is, the error names
// them.
func TestUnreadableIndexFile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(testutil.Shared(t), "conformance")
	if code, _, errOut := runCLI(t, dir, "pack", "import", filepath.Join(conf, "gateway-raw-block.car")); code != 0 {
		t.Fatal(errOut)
	}
	const root = "bafybeie72edlprgtlwwctzljf6gkn2wnlrddqjbkxo3jomh4n7omwblxly"
	key := "bafkreie72edlprgtlwwctzljf6gkn2wnlrddqjbkxo3jomh4n7omwblxly"
	files, _ := filepath.Glob(filepath.Join(dir, "index", key, "*"))
	if len(files) != 2 {
		t.Fatalf("%d index files written, want 2 (BLOB and CONTAINING records)", len(files))
	}
	if err := os.WriteFile(files[0], []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, dir, "index", "find", "records", root)
	if code != 0 || !strings.Contains(out, "type: BLOB") || !strings.Contains(errOut, "index file skipped") ||
		!strings.Contains(errOut, filepath.Base(files[0])) || !strings.Contains(errOut, "invalid record") {
		t.Errorf("one bad file: exit %d, stdout %q, stderr %q; want the records and a warning naming the file", code, out, errOut)
	}
	if err := os.WriteFile(files[1], nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, dir, "index", "find", "records", root)
	if code != 1 || !strings.Contains(errOut, "no usable index file") ||
		!strings.Contains(errOut, filepath.Base(files[0])) || !strings.Contains(errOut, filepath.Base(files[1])) {
		t.Errorf("no good file: exit %d, stderr %q", code, errOut)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"pack", "write", "--help"}, {"streamer", "dump", "-h"}} {
		code, out, errOut := runCLI(t, t.TempDir(), args...)
		if code != 0 || !strings.Contains(out+errOut, "Usage") && !strings.Contains(out+errOut, "usage") {
			t.Errorf("%v: exit %d, output %q", args, code, out+errOut)
		}
	}
}

// pack extract copies a stored pack to a file, checked against its
// multihash; a corrupt pack fails with exit 1, naming the pack, and
// leaves no file.
func TestPackExtract(t *testing.T) {
	interop := filepath.Join(testutil.Shared(t), "interop")
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, dir, "pack", "write", filepath.Join(interop, "originals", "random-3m.bin"), "--pack-size", "2200000"); code != 0 {
		t.Fatalf("pack write: %s", errOut)
	}
	const packKey = "bafkreie47atxr6qxoidc7je3ieutfjp4qrs4kws5k2qeslynmek3f6gwf4"
	stored := filepath.Join(dir, "pack", packKey+".car")
	want, err := os.ReadFile(stored)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pack.car")
	if code, _, errOut := runCLI(t, dir, "pack", "extract", packKey, out); code != 0 {
		t.Fatalf("pack extract: %s", errOut)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("extracted pack differs (%v)", err)
	}

	bad := bytes.Clone(want)
	bad[len(bad)-1] ^= 1
	if err := os.WriteFile(stored, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(t.TempDir(), "bad.car")
	code, _, errOut := runCLI(t, dir, "pack", "extract", packKey, out2)
	if code != 1 || !strings.Contains(errOut, packKey) || !strings.Contains(errOut, "do not hash to its multihash") {
		t.Fatalf("corrupt pack: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Fatalf("a file was left: %v", err)
	}
}
