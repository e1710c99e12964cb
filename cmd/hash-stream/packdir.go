package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/schollz/progressbar/v3"
)

// packWriteFolder is pack write of a folder: the tree is checked first
// (unixfs.Scan), so a symbolic link or a special file anywhere stores and
// indexes nothing; then its blocks go into packs and are indexed under the
// folder's root CID, as a file's are under its root.
func packWriteFolder(ctx context.Context, env *cliEnv, dir string, st *stores, writers []index.Writer, opts []pack.WriterOption, limits index.Limits, maxSize int64, writerName string) error {
	fsys := os.DirFS(dir)
	stats, err := unixfs.Scan(fsys)
	if err != nil {
		return inFolder(dir, err)
	}
	// Every file and folder is a block at least, and every full chunk of
	// the bytes: a tree of more than one index file locates is refused
	// before anything is stored.
	blocks := max(int64(stats.Files), (stats.Bytes+unixfs.DefaultChunkSize-1)/unixfs.DefaultChunkSize) + int64(stats.Folders)
	if err := checkBlockCount(dir, blocks, limits); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "\nPacking folder: %s (%d files, %d folders, %d bytes)\n    Pack Max Size: %d bytes\n    Index Writer: %s\n    Store backend: %s\n",
		filepath.Base(dir), stats.Files, stats.Folders, stats.Bytes, maxSize, writerName, st.backend)
	src := fsys
	if env.stderrIsTTY {
		bar := progressbar.DefaultBytes(stats.Bytes, "packing")
		defer bar.Close()
		src = progressFS{fsys, bar}
	}
	root, packs, err := pack.WriteDirectory(ctx, st.packs, src, opts...)
	if err != nil {
		return leftBehind(env, overLimit(inFolder(dir, err)))
	}
	return indexWritten(ctx, env, writers, root, packs)
}

// inFolder makes the paths err names, relative to the folder, paths the
// user can find: the folder joined with them.
func inFolder(dir string, err error) error {
	var ue *unixfs.UnsupportedError
	if errors.As(err, &ue) {
		ue.Path = filepath.Join(dir, filepath.FromSlash(ue.Path))
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && !filepath.IsAbs(pe.Path) {
		pe.Path = filepath.Join(dir, filepath.FromSlash(pe.Path))
	}
	return err
}

// progressFS counts the bytes read from its files on a progress bar.
type progressFS struct {
	fs.FS
	bar io.Writer
}

func (p progressFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(p.FS, name) }

func (p progressFS) Open(name string) (fs.File, error) {
	f, err := p.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return progressFile{f, p.bar}, nil
}

type progressFile struct {
	fs.File
	bar io.Writer
}

func (f progressFile) Read(b []byte) (int, error) {
	n, err := f.File.Read(b)
	f.bar.Write(b[:n])
	return n, err
}
