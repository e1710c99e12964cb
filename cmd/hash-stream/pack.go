package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/schollz/progressbar/v3"
)

// indexWriters returns the writers an --index-writer value names.
func indexWriters(name string, s store.IndexStore) ([]index.Writer, error) {
	w, err := index.NewWriters(name, s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return w, nil
}

func checkFormat(format string) error {
	if format != "car" {
		return fmt.Errorf("%w: unknown pack format %q (only car)", errUsage, format)
	}
	return nil
}

// writeInput is what pack write and pack import start from: the stores
// opened for writing, the index writers and the readers' limits the flags
// name, and the input (the one positional argument), open.
type writeInput struct {
	path    string
	file    *os.File
	st      *stores
	writers []index.Writer
	limits  index.Limits
}

// openWrite is the preamble pack write and pack import share: it parses
// args with fs, on which wf is registered (one positional argument, the
// input), runs check (the command's own flags; nil for none), then opens
// the stores and the input. The caller closes the input's file.
func openWrite(ctx context.Context, env *cliEnv, fs *flagSet, wf *writeFlags, args []string, check func() error) (*writeInput, error) {
	pos, err := fs.parse(args, 1, 1)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, err
		}
	}
	st, writers, limits, err := wf.open(ctx, env)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return nil, err
	}
	return &writeInput{path: pos[0], file: f, st: st, writers: writers, limits: limits}, nil
}

func packWrite(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("pack write", "<file|folder>", "Writes a file as a UnixFS DAG (1 MiB raw leaves, balanced 1024-link nodes, CIDv1) into CAR packs,\n"+
		"stores them and indexes them. The same file gives the same packs and index files as the JavaScript CLI.\n"+
		"A folder is written as a UnixFS directory laid out as the IPIP-499 profile unixfs-v1-2025 (what\n"+
		"ipfs-unixfs-importer makes with it): its files as above, each folder a plain directory node, or a HAMT\n"+
		"(fanout 256) once its node would exceed 256 KiB. Only regular files and folders: a symbolic link or a\n"+
		"special file anywhere in the tree is refused before anything is stored. The containing CID is the\n"+
		"folder's root.", env.stderr)
	var wf writeFlags
	var format, size string
	var maxSize int64
	wf.register(fs, env, `index writer: "all" (both, what block-by-block clients need), "single-level", "multiple-level" or "none"`)
	fs.stringVar(&size, []string{"pack-size", "ps"}, strconv.Itoa(pack.DefaultMaxSize), "maximum pack size in bytes")
	fs.stringVar(&format, []string{"format", "f"}, "car", `pack format: "car"`)
	in, err := openWrite(ctx, env, fs, &wf, args, func() error {
		var err error
		maxSize, err = strconv.ParseInt(size, 10, 64)
		if err != nil || maxSize <= 0 {
			return fmt.Errorf("%w: bad --pack-size %q", errUsage, size)
		}
		return checkFormat(format)
	})
	if err != nil {
		return err
	}
	defer in.file.Close()
	info, err := in.file.Stat()
	if err != nil {
		return err
	}
	opts := []pack.WriterOption{pack.WithMaxSize(maxSize), pack.WithWriterLimits(in.limits)}
	if info.IsDir() {
		return packWriteFolder(ctx, env, in.path, in.st, in.writers, opts, in.limits, maxSize, wf.writer)
	}
	// A file of more blocks than one index file can locate is refused
	// before anything is read: it has at least this many leaves.
	if err := checkBlockCount(in.path, (info.Size()+unixfs.DefaultChunkSize-1)/unixfs.DefaultChunkSize, in.limits); err != nil {
		return err
	}

	fmt.Fprintf(env.stdout, "\nPacking file: %s\n    Pack Max Size: %d bytes\n    Index Writer: %s\n    Store backend: %s\n", filepath.Base(in.path), maxSize, wf.writer, in.st.backend)
	var src io.Reader = in.file
	if env.stderrIsTTY {
		bar := progressbar.DefaultBytes(info.Size(), "packing")
		defer bar.Close()
		src = io.TeeReader(in.file, bar)
	}
	root, packs, err := pack.WriteFile(ctx, in.st.packs, src, opts...)
	if err != nil {
		return leftBehind(env, overLimit(err))
	}
	return indexWritten(ctx, env, in.writers, root, packs)
}

// checkBlockCount refuses a DAG of at least blocks blocks when the index
// of that many cannot fit one index file (see index.Limits.MaxBlobs).
func checkBlockCount(what string, blocks int64, limits index.Limits) error {
	if most := int64(limits.MaxBlobs()); blocks > most {
		return fmt.Errorf("%s: %w: at least %d blocks, and one index file locates at most %d (the %d-byte cap serve reads with): nothing stored; split it",
			what, index.ErrIndexOverLimit, blocks, most, limits.MaxFileBytes)
	}
	return nil
}

// overLimit adds to an error of content over the readers' limits what to
// do about it.
func overLimit(err error) error {
	switch {
	case errors.Is(err, index.ErrBlockOverLimit):
		return fmt.Errorf("%w (serve refuses such a block: raise --max-block-bytes here and on serve alike to store it)", err)
	case errors.Is(err, index.ErrIndexOverLimit):
		return fmt.Errorf("%w (serve could not read its index: split it into DAGs of fewer blocks)", err)
	}
	return err
}

// indexWritten indexes the packs a pack write stored, under the DAG's
// root, and prints them.
func indexWritten(ctx context.Context, env *cliEnv, writers []index.Writer, root cid.Cid, packs []pack.Info) error {
	if err := pack.AddToIndex(ctx, writers, packs, root.Hash()); err != nil {
		return leftBehind(env, err)
	}
	printPacks(env.stdout, root, packs)
	return nil
}

// leftBehind prints every pack a failed write left behind (its error names
// only the first few) and returns err.
func leftBehind(env *cliEnv, err error) error {
	var le *pack.LeftError
	if !errors.As(err, &le) {
		return err
	}
	state := "stored but not indexed"
	if le.Indexing {
		state = "stored, partly indexed"
	}
	fmt.Fprintf(env.stdout, "\nLeft behind (%s; the same command again completes the index):\n", state)
	for _, p := range le.Packs {
		fmt.Fprintf(env.stdout, "    MH(%s)\n", store.Key(p.Multihash))
	}
	return err
}

func printPacks(w io.Writer, root cid.Cid, packs []pack.Info) {
	if root.Defined() {
		fmt.Fprintf(w, "\nContaining CID:\n    %s\n", root)
	}
	fmt.Fprintf(w, "\nPacks:\n")
	for _, p := range packs {
		fmt.Fprintf(w, "    MH(%s)\n        Blobs:\n", store.Key(p.Multihash))
		for i, b := range p.Blobs {
			sep := ","
			if i == len(p.Blobs)-1 {
				sep = ""
			}
			fmt.Fprintf(w, "            MH(%s)%s\n", store.Key(b.Multihash), sep)
		}
		fmt.Fprintln(w)
	}
}

func packImport(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("pack import", "<car>", "Stores an existing CAR file (v1 or v2) as one pack under the multihash of its bytes and indexes\nevery block at its offset. The CAR's single root, if any, becomes the containing CID.", env.stderr)
	var wf writeFlags
	wf.register(fs, env, `index writer: "all", "single-level", "multiple-level" or "none"`)
	in, err := openWrite(ctx, env, fs, &wf, args, nil)
	if err != nil {
		return err
	}
	defer in.file.Close()
	info, err := pack.Import(ctx, in.st.packs, in.file, pack.WithLimits(in.limits))
	if err != nil {
		return overLimit(fmt.Errorf("%s: %w", in.path, err))
	}
	var root cid.Cid
	var containing multihash.Multihash
	if len(info.Roots) == 1 {
		root, containing = info.Roots[0], info.Roots[0].Hash()
	}
	if err := pack.AddToIndex(ctx, in.writers, []pack.Info{info}, containing); err != nil {
		return leftBehind(env, err)
	}
	fmt.Fprintf(env.stdout, "\nImported: %s (%d bytes, %d blocks)\n", filepath.Base(in.path), info.Size, len(info.Blobs))
	printPacks(env.stdout, root, []pack.Info{info})
	return nil
}

func packExtract(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("pack extract", "<packCid> <file>", "Copies the stored pack packCid (any CID of its multihash) to a file, checking its hash.", env.stderr)
	var sf storeFlags
	sf.register(fs, env)
	pos, err := fs.parse(args, 2, 2)
	if err != nil {
		return err
	}
	mh, err := parseCID(pos[0])
	if err != nil {
		return err
	}
	st, err := sf.open(ctx, env, false)
	if err != nil {
		return err
	}
	rc, err := st.packs.GetRange(ctx, store.Location{Multihash: mh}, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := writeFileAtomic(pos[1], func(w io.Writer) error {
		v, err := pack.NewVerifier(rc, mh)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, v); err != nil {
			return fmt.Errorf("pack %s: %w", store.Key(mh), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "\nSuccessfully wrote %d bytes to %s\n", n, pos[1])
	return nil
}

// parseCID parses a CID in any multibase and version and returns its
// multihash: only the multihash matters for lookups.
func parseCID(s string) (multihash.Multihash, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("%w: bad CID %q: %v", errUsage, s, err)
	}
	return c.Hash(), nil
}

// optionalCID parses the optional CID argument at pos[i] (a containing
// CID) and returns its multihash, or nil when it is absent.
func optionalCID(pos []string, i int) (multihash.Multihash, error) {
	if len(pos) <= i {
		return nil, nil
	}
	return parseCID(pos[i])
}

// writeFileAtomic writes path through a temporary file renamed into place
// once fill succeeds, so a failed write leaves nothing behind.
func writeFileAtomic(path string, fill func(io.Writer) error) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, err
	}
	cw := &dag.Counter{W: tmp}
	err = tmp.Chmod(0o644) // as os.Create would make it (before the umask)
	if err == nil {
		err = fill(cw)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return 0, err
	}
	return cw.N, nil
}
