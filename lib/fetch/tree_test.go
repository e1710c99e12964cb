package fetch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/fetch/fetchtest"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	"github.com/ipfs/go-unixfsnode/data/builder"
)

// countFiles returns the regular files under dir, checking each holds
// content.
func countFiles(t *testing.T, dir string, content []byte) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, content) {
			t.Errorf("%s: %q", path, b)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A DAG that reuses its subtrees is measured from its distinct blocks and
// refused before anything is written when it is over a cap: the 40-level
// {a: child, b: child} directory (2^41 names in 41 blocks, issue 21's N3)
// and the HAMT whose shards link 256 times to the same child (2^32
// entries in 5 blocks, N2) end at once, with every block asked once; a
// small diamond under the caps is written whole, its shared blocks
// fetched once.
func TestFetchDiamonds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leaf := []byte("the leaf of a diamond\n")
	for _, tt := range []struct {
		name  string
		build func(g *fetchtest.Gateway) cid.Cid
		opts  []Option
		check func(t *testing.T, err error)
	}{
		{"N3 dir of 40 levels", func(g *fetchtest.Gateway) cid.Cid { return g.DiamondDir(40) }, nil, func(t *testing.T, err error) {
			var le *LimitError
			if !errors.As(err, &le) || le.What != "entries" || le.Limit != DefaultMaxEntries || !strings.Contains(err.Error(), "41 distinct blocks") {
				t.Errorf("%v, want a LimitError on entries from 41 distinct blocks", err)
			}
		}},
		{"N2 HAMT of 4 levels", func(g *fetchtest.Gateway) cid.Cid { return g.DiamondHAMT(4) }, nil, func(t *testing.T, err error) {
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "linked twice") {
				t.Errorf("%v, want ErrMalformed: a shard linked twice", err)
			}
		}},
		{"entries", func(g *fetchtest.Gateway) cid.Cid { return g.DiamondDir(6) }, []Option{WithMaxEntries(100)}, func(t *testing.T, err error) {
			var le *LimitError
			if !errors.As(err, &le) || le.What != "entries" || le.Got != 126 || le.Where != "the tree" {
				t.Errorf("%v, want 126 entries in the tree over 100", err)
			}
		}},
		{"depth", func(g *fetchtest.Gateway) cid.Cid { return g.DiamondDir(6) }, []Option{WithMaxDepth(3)}, func(t *testing.T, err error) {
			var le *LimitError
			if !errors.As(err, &le) || le.What != "depth" || !strings.Contains(err.Error(), "more than 3 folders deep") {
				t.Errorf("%v, want more than 3 folders deep", err)
			}
		}},
		{"bytes", func(g *fetchtest.Gateway) cid.Cid { return g.DiamondDir(6) }, []Option{WithMaxBytes(1000)}, func(t *testing.T, err error) {
			var le *LimitError
			if !errors.As(err, &le) || le.What != "bytes" || le.Got != 64*int64(len(leaf)) {
				t.Errorf("%v, want %d bytes over 1000", err, 64*len(leaf))
			}
		}},
		{"HAMT entries", func(g *fetchtest.Gateway) cid.Cid { return g.DiamondHAMT(1) }, []Option{WithMaxEntries(255)}, func(t *testing.T, err error) {
			var le *LimitError
			if !errors.As(err, &le) || le.What != "entries" {
				t.Errorf("%v, want a LimitError on entries", err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := fetchtest.New(t)
			root := tt.build(g)
			c, err := New([]string{g.URL}, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			start := time.Now()
			err = c.Fetch(ctx, root, filepath.Join(dir, "out"))
			tt.check(t, err)
			if !permanent(err) {
				t.Errorf("%v: not permanent (it would be asked again)", err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("refused after %s", d)
			}
			if n := g.RawRequests(); n > 45 {
				t.Errorf("%d blocks asked: distinct blocks are asked once", n)
			}
			if n := g.CARRequests(); n > 1 {
				t.Errorf("%d CARs asked, want at most 1 (a HAMT's shards, once)", n)
			}
			if left := listDir(t, dir); len(left) != 0 {
				t.Errorf("left %v", left)
			}
		})
	}
	// Under the caps, a diamond is written whole: 64 files under 6
	// levels, from 7 distinct blocks asked once each.
	g := fetchtest.New(t)
	root := g.DiamondDir(6)
	c, err := New([]string{g.URL}, WithMaxEntries(126), WithMaxDepth(5), WithMaxBytes(64*int64(len(leaf))))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := c.Fetch(ctx, root, out); err != nil {
		t.Fatalf("a diamond under the caps: %v", err)
	}
	if n := countFiles(t, out, leaf); n != 64 {
		t.Errorf("%d files, want 64", n)
	}
	// The root, 5 folders and the leaf's block once in the plan; the
	// leaf is written from the plan's copy.
	if n := g.RawRequests(); n != 7 {
		t.Errorf("%d blocks asked, want 7 (each distinct block once)", n)
	}
}

// The cap on bytes defaults to the size the root declares: a directory
// whose links' Tsize understate their files is refused, an honest one is
// written; a file over WithMaxBytes is refused before it is asked.
func TestFetchMaxBytes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g := fetchtest.New(t)
	content := bytes.Repeat([]byte("0123456789"), 1000)
	file := g.File(content, 1000)
	c, err := New([]string{g.URL}, WithSliceSize(4000))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lying := g.Dir(fetchtest.Link{Name: "f", CID: file, Tsize: 100})
	err = c.Fetch(ctx, lying, filepath.Join(dir, "lying"))
	var le *LimitError
	if !errors.As(err, &le) || le.What != "bytes" || le.Limit != 100 || !strings.Contains(err.Error(), "the size its root declares") {
		t.Errorf("understated Tsize: %v, want a LimitError on bytes over 100, the declared size", err)
	}
	if left := listDir(t, dir); len(left) != 0 {
		t.Errorf("left %v", left)
	}
	honest := g.Dir(fetchtest.Entry("f", file))
	if err := c.Fetch(ctx, honest, filepath.Join(dir, "honest")); err != nil {
		t.Fatalf("honest Tsize: %v", err)
	}
	if n := countFiles(t, filepath.Join(dir, "honest"), content); n != 1 {
		t.Errorf("%d files", n)
	}
	for _, limit := range []int64{int64(len(content)) - 1, int64(len(content))} {
		c, _ := New([]string{g.URL}, WithSliceSize(4000), WithMaxBytes(limit))
		cars := g.CARRequests()
		out := filepath.Join(t.TempDir(), "file")
		err := c.Fetch(ctx, file, out)
		if limit < int64(len(content)) {
			if !errors.As(err, &le) || le.What != "bytes" || le.Got != int64(len(content)) || g.CARRequests() != cars {
				t.Errorf("file over the limit: %v, %d slices asked", err, g.CARRequests()-cars)
			}
			continue
		}
		if err != nil {
			t.Errorf("file at the limit: %v", err)
		}
		if err := c.FetchCAR(ctx, file, out+".car"); err != nil {
			t.Errorf("CAR of a file at the limit: %v", err)
		}
	}
}

// A root that declares 2^62 bytes (one link to a one-byte leaf) fails on
// its first slice, without making its 2^40 slices first.
func TestFetchHugeDeclaredSize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g := fetchtest.New(t)
	leaf := g.File([]byte("x"), 1)
	ufs, err := builder.BuildUnixFS(func(b *builder.Builder) {
		builder.DataType(b, data.Data_File)
		builder.FileSize(b, 1<<62)
		builder.BlockSizes(b, []uint64{1 << 62})
	})
	if err != nil {
		t.Fatal(err)
	}
	root := g.Node(ufs, fetchtest.Link{CID: leaf, Tsize: 1 << 62})
	c, err := New([]string{g.URL})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.Fetch(ctx, root, filepath.Join(dir, "out")); err == nil {
		t.Error("a file of 2^62 bytes from one byte: fetched")
	}
	var buf bytes.Buffer
	if err := c.WriteCAR(ctx, root, &buf); !errors.Is(err, ErrMalformed) {
		t.Errorf("its CAR: %v, want ErrMalformed", err)
	}
	if left := listDir(t, dir); len(left) != 0 {
		t.Errorf("left %v", left)
	}
}

// A symbolic link entry is refused by default, before anything is
// written; WithSymlinks writes it as it is, inside the output.
func TestFetchSymlinks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g := fetchtest.New(t)
	file := g.File([]byte("a file\n"), 1000)
	target := "../../../../tmp/x"
	root := g.Dir(fetchtest.Entry("a.txt", file), fetchtest.Entry("sub", g.Dir(fetchtest.Entry("link", g.Symlink(target)))))
	dir := t.TempDir()
	c, _ := New([]string{g.URL})
	err := c.Fetch(ctx, root, filepath.Join(dir, "out"))
	if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), "sub/link") || !strings.Contains(err.Error(), target) {
		t.Errorf("%v, want ErrSymlink naming sub/link and its target", err)
	}
	if left := listDir(t, dir); len(left) != 0 {
		t.Errorf("left %v", left)
	}
	c, _ = New([]string{g.URL}, WithSymlinks(true))
	if err := c.Fetch(ctx, root, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(filepath.Join(dir, "out", "sub", "link")); err != nil || got != target {
		t.Errorf("link: %q %v, want %q", got, err, target)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "out", "a.txt")); err != nil || string(b) != "a file\n" {
		t.Errorf("a.txt: %q %v", b, err)
	}
}
