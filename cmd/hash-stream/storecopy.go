package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/storecopy"
)

const storeCopyAbout = `Copies a whole store, every pack and then every index file, from one backend to another,
converting the key layouts (fs: index/k(mh)/<file> and pack/k(mh).car; s3: k(mh)/k(mh)/<file>,
with a k(sub) file doubled, and k(mh)/k(mh).car). The fs side is --dir (env HASH_STREAM_DIR,
default ~/.hash-stream); the s3 side is what HASH_STREAM_S3_INDEX_BUCKET, HASH_STREAM_S3_INDEX_PREFIX,
HASH_STREAM_S3_PACK_BUCKET, HASH_STREAM_S3_PACK_PREFIX and the usual AWS variables name.
fs to fs copies --dir into --to-dir. s3 to s3 is not supported (both sides would read the same
variables); the layout is the same there, so a bucket-to-bucket sync does it.

Objects go --concurrency at a time. One already at the destination is skipped (a pack of the same
size, an index file of the same name and bytes), so running the copy again finishes one that
stopped and copies nothing more. Every pack is verified as it streams: its bytes must hash to its
multihash, or it fails and nothing of it is stored. Index files keep their names (timestamps too)
and bytes; one that does not decode, one that serve would refuse (over the 64 MiB index file cap, or
giving a block over --max-block-bytes), and any object not of the layout, is skipped with a warning.
The exit code is 1 when any object failed; after --max-failures failures the copy stops.`

// storeSide returns the stores of one side of a copy.
func storeSide(ctx context.Context, env *cliEnv, backend, dir string, fsync, create bool) (*stores, storecopy.Stores, error) {
	sf := storeFlags{backend: backend, dir: dir, fsync: fsync}
	st, err := sf.open(ctx, env, create)
	if err != nil {
		return nil, storecopy.Stores{}, err
	}
	idx, ok := st.index.(store.IndexLister)
	packs, ok2 := st.packs.(store.PackLister)
	if !ok || !ok2 {
		return nil, storecopy.Stores{}, fmt.Errorf("the %s store cannot be listed", st.backend)
	}
	return st, storecopy.Stores{Index: idx, Packs: packs}, nil
}

func storeCopy(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("store copy", "--from fs|s3 --to fs|s3", storeCopyAbout, env.stderr)
	var from, to, dir, toDir string
	var fsync bool
	var concurrency, maxFailures int
	var lf limitFlags
	fs.stringVar(&from, []string{"from"}, "", `backend to copy from: "fs" or "s3"`)
	fs.stringVar(&to, []string{"to"}, "", `backend to copy to: "fs" or "s3"`)
	fs.stringVar(&dir, []string{"dir"}, env.getenv(envDir), "folder of the fs store, holding index/ and pack/ (env "+envDir+", default ~/.hash-stream)")
	fs.stringVar(&toDir, []string{"to-dir"}, "", "folder of the fs store to copy to (needed for fs to fs; default --dir)")
	fs.boolVar(&fsync, []string{"fsync"}, true, "fs destination: sync each file to disk as it is written")
	fs.intVar(&concurrency, []string{"concurrency", "c"}, storecopy.DefaultConcurrency, "objects copied at once")
	fs.intVar(&maxFailures, []string{"max-failures"}, storecopy.DefaultMaxFailures, "stop once this many objects failed (0: never)")
	lf.register(fs, "longest block an index file may give; a file giving a longer one is skipped with a warning")
	if _, err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	limits, err := lf.limits()
	if err != nil {
		return err
	}
	for _, b := range []struct{ flag, value string }{{"--from", from}, {"--to", to}} {
		if b.value != "fs" && b.value != "s3" {
			return fmt.Errorf("%w: %s %q: want fs or s3", errUsage, b.flag, b.value)
		}
	}
	if concurrency < 1 {
		return fmt.Errorf("%w: --concurrency %d: want 1 or more", errUsage, concurrency)
	}
	dstDir := dir
	if toDir != "" {
		dstDir = toDir
	}
	switch {
	case from == "s3" && to == "s3":
		return fmt.Errorf("%w: s3 to s3 is not supported: both sides would read the same HASH_STREAM_S3_* variables (the layout is the same: sync the buckets)", errUsage)
	case from == "fs" && to == "fs" && toDir == "":
		return fmt.Errorf("%w: fs to fs needs --to-dir", errUsage)
	case from == "fs" && to == "fs" && sameDir(dir, toDir):
		return fmt.Errorf("%w: --dir and --to-dir are the same folder", errUsage)
	}
	srcSt, src, err := storeSide(ctx, env, from, dir, true, false)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	dstSt, dst, err := storeSide(ctx, env, to, dstDir, fsync, true)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	fmt.Fprintf(env.stdout, "\nCopying store: %s (%s) to %s (%s), %d at a time\n", srcSt.backend, srcSt.where, dstSt.backend, dstSt.where, concurrency)

	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	opts := []storecopy.Option{storecopy.WithConcurrency(concurrency), storecopy.WithMaxFailures(maxFailures), storecopy.WithLimits(limits), storecopy.WithLogger(log)}
	var bars progressBars
	if env.stderrIsTTY {
		bars.w = env.stderr
		opts = append(opts, storecopy.WithProgress(bars.update))
	}
	res, err := storecopy.Copy(ctx, dst, src, opts...)
	bars.close()
	printCopyResult(env.stdout, res)
	return err
}

// sameDir reports whether two folder names name one folder.
func sameDir(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// progressBars shows a copy's progress on a terminal: a bar of bytes for
// the packs (their total is known), then a counter of index files (listed
// as they are copied).
type progressBars struct {
	w     io.Writer
	phase storecopy.Phase
	bar   *progressbar.ProgressBar
}

func (b *progressBars) update(p storecopy.Progress) {
	if p.Phase != b.phase {
		if p.Phase == storecopy.PhasePacks && !p.Listed {
			return // the bar starts once the total is known
		}
		b.close()
		b.phase = p.Phase
		if p.Phase == storecopy.PhasePacks {
			b.bar = progressbar.NewOptions64(p.Bytes,
				progressbar.OptionSetDescription("packs"),
				progressbar.OptionSetWriter(b.w),
				progressbar.OptionShowBytes(true),
				progressbar.OptionShowTotalBytes(true),
				progressbar.OptionThrottle(65*time.Millisecond),
				progressbar.OptionFullWidth(),
				progressbar.OptionSetRenderBlankState(true),
			)
		} else {
			b.bar = progressbar.NewOptions64(-1,
				progressbar.OptionSetDescription("index files"),
				progressbar.OptionSetWriter(b.w),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("files"),
				progressbar.OptionThrottle(65*time.Millisecond),
				progressbar.OptionSpinnerType(14),
			)
		}
	}
	if p.Phase == storecopy.PhasePacks {
		_ = b.bar.Set64(p.BytesDone)
	} else {
		_ = b.bar.Set(p.Done)
	}
}

func (b *progressBars) close() {
	if b.bar != nil {
		_ = b.bar.Finish()
		fmt.Fprintln(b.w)
		b.bar = nil
	}
}

// printCopyResult prints what a copy did and how fast.
func printCopyResult(w io.Writer, res storecopy.Result) {
	count := func(what string, c storecopy.Count) {
		fmt.Fprintf(w, "    %-12s %d copied, %d skipped (already there), %d failed, %d invalid (skipped with a warning)\n", what+":", c.Copied, c.Skipped, c.Failed, c.Invalid)
	}
	fmt.Fprintln(w)
	count("Packs", res.Packs)
	count("Index files", res.Index)
	bytes := res.Packs.Bytes + res.Index.Bytes
	secs := res.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(bytes) / 1e6 / secs
	}
	present, invalid := res.Packs.Skipped+res.Index.Skipped, res.Packs.Invalid+res.Index.Invalid
	fmt.Fprintf(w, "Copied %d objects, skipped %d (%d already there, %d invalid), failed %d: %d bytes in %s, %.1f MB/s\n",
		res.Packs.Copied+res.Index.Copied, present+invalid, present, invalid,
		res.Packs.Failed+res.Index.Failed, bytes, res.Elapsed.Round(time.Millisecond), rate)
}
