package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
)

func indexAdd(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("index add", "<packCid> <car> [containingCid]", "Indexes a CAR file that is already stored as the pack packCid: one record per block at its\noffset, optionally under a containing CID. Every block is checked against its CID first.", env.stderr)
	var wf writeFlags
	wf.register(fs, env, `index writer: "all", "single-level" or "multiple-level"`)
	pos, err := fs.parse(args, 2, 3)
	if err != nil {
		return err
	}
	packMH, err := parseCID(pos[0])
	if err != nil {
		return err
	}
	containing, err := optionalCID(pos, 2)
	if err != nil {
		return err
	}
	st, writers, limits, err := wf.open(ctx, env)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[1])
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := pack.Scan(f, pack.WithLimits(limits))
	if err != nil {
		return overLimit(fmt.Errorf("%s: %w", pos[1], err))
	}
	if string(info.Multihash) != string(packMH) {
		// The records must point at the bytes this file has.
		return fmt.Errorf("%s hashes to %s, not to the pack %s", pos[1], store.Key(info.Multihash), store.Key(packMH))
	}
	if err := checkStored(ctx, st.packs, info); err != nil {
		return err
	}
	if err := pack.AddToIndex(ctx, writers, []pack.Info{info}, containing); err != nil {
		return leftBehind(env, err)
	}
	fmt.Fprintf(env.stdout, "\nIndexed %d blobs of pack %s (%s)\n", len(info.Blobs), store.Key(packMH), wf.writer)
	return nil
}

// checkStored fails unless the pack store holds the pack info describes,
// at its size: no record may name a pack that is not stored.
func checkStored(ctx context.Context, packs store.PackStore, info pack.Info) error {
	key := store.Key(info.Multihash)
	// Its last byte, and nothing after it.
	rc, err := packs.GetRange(ctx, store.Location{Multihash: info.Multihash}, info.Size-1, 2)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("pack %s is not in the store: store it first (hash-stream pack import)", key)
	}
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if err == nil && n != 1 {
		err = fmt.Errorf("pack %s in the store is not %d bytes long", key, info.Size)
	}
	return err
}

func indexFindRecords(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("index find records", "<cid> [containingCid]", "Prints the index records of a CID (any version or codec: only its multihash matters),\nfirst those found inside containingCid's records when given.", env.stderr)
	var sf storeFlags
	sf.register(fs, env)
	pos, err := fs.parse(args, 1, 2)
	if err != nil {
		return err
	}
	mh, err := parseCID(pos[0])
	if err != nil {
		return err
	}
	containing, err := optionalCID(pos, 1)
	if err != nil {
		return err
	}
	st, err := sf.open(ctx, env, false)
	if err != nil {
		return err
	}
	// A skipped index file is reported on stderr, the records shown.
	warn := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	records, err := index.NewReader(st.index, index.WithLogger(warn)).FindIn(ctx, mh, containing)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "\nTarget: MH(%s)\n\nIndex Records:\n", store.Key(mh))
	printRecords(env.stdout, records, 1)
	return nil
}

func printRecords(w io.Writer, records []index.Record, depth int) {
	indent := strings.Repeat("    ", depth)
	for _, r := range records {
		fmt.Fprintf(w, "%smultihash: MH(%s)\n%slocation: %s\n%stype: %s", indent, store.Key(r.Multihash), indent, r.Location, indent, r.Type)
		if r.HasRange {
			fmt.Fprintf(w, ", offset: %d, length: %d", r.Offset, r.Length)
		}
		fmt.Fprintln(w)
		if len(r.SubRecords) > 0 {
			fmt.Fprintf(w, "%sSub-Records:\n", indent)
			printRecords(w, r.SubRecords, depth+1)
		}
		fmt.Fprintln(w)
	}
}
