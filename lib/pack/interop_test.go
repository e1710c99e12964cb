package pack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
)

type expectedFiles struct {
	Files []struct {
		Name        string `json:"name"`
		Original    string `json:"original"`
		PackMaxSize int64  `json:"pack_max_size"`
		Containing  struct {
			CID string `json:"cid"`
		} `json:"containing"`
	} `json:"files"`
}

// Writing each original with both index writers gives the JS store: the
// same pack files, pack keys, index folders, and index file bytes (only
// the timestamp file names differ).
func TestWriteFileMatchesJavaScriptStore(t *testing.T) {
	interop := filepath.Join(testutil.Shared(t), "interop")
	var exp expectedFiles
	readJSON(t, filepath.Join(interop, "expected.json"), &exp)

	dir := t.TempDir()
	packs := fs.NewPackStore(filepath.Join(dir, "pack"))
	idx := fs.NewIndexStore(filepath.Join(dir, "index"))
	writers := []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)}
	ctx := context.Background()
	for _, f := range exp.Files {
		in, err := os.Open(filepath.Join(interop, f.Original))
		if err != nil {
			t.Fatal(err)
		}
		root, infos, err := pack.WriteFile(ctx, packs, in, pack.WithMaxSize(f.PackMaxSize), pack.WithTempDir(dir))
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		if root.String() != f.Containing.CID {
			t.Errorf("%s: root %s, want %s", f.Name, root, f.Containing.CID)
		}
		if err := pack.AddToIndex(ctx, writers, infos, root.Hash()); err != nil {
			t.Fatal(err)
		}
	}
	js := filepath.Join(interop, "js-fs-store")
	// Packs: same names, same bytes.
	compareTree(t, filepath.Join(js, "pack"), filepath.Join(dir, "pack"), false)
	// Index: same folders; in each, the same sub-record-named files and the
	// same contents for the timestamp-named ones.
	compareTree(t, filepath.Join(js, "index"), filepath.Join(dir, "index"), true)
}

// compareTree checks that want and got hold the same files with the same
// bytes. With timestamps, files whose names are all digits are compared
// by content within their folder.
func compareTree(t *testing.T, want, got string, timestamps bool) {
	t.Helper()
	w, g := listTree(t, want, timestamps), listTree(t, got, timestamps)
	if len(w) != len(g) {
		t.Errorf("%s: %d files, want %d", got, len(g), len(w))
	}
	for k, wantData := range w {
		if !bytes.Equal(g[k], wantData) {
			t.Errorf("%s: differs or missing\n got %.200s\nwant %.200s", k, g[k], wantData)
		}
	}
}

func listTree(t *testing.T, dir string, timestamps bool) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	counts := map[string]int{}
	var stamped []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if timestamps && isDigits(d.Name()) {
			// Name a timestamp file by its folder and content rank instead.
			stamped = append(stamped, filepath.Dir(rel)+"\x00"+string(data))
			return nil
		}
		out[rel] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(stamped)
	for _, s := range stamped {
		folder, data, _ := bytes.Cut([]byte(s), []byte{0})
		counts[string(folder)]++
		out[filepath.Join(string(folder), "timestamp", string(rune('0'+counts[string(folder)])))] = data
	}
	return out
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}
