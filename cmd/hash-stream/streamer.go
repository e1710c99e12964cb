package main

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/hash-stream/hash-stream-aws/lib/carwalk"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
)

func streamerDump(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet("streamer dump", "<cid> <file> [containingCid]", "Writes the content of a CID to a file, every block verified against its CID: as a CARv1 of\nthe whole DAG in depth-first order with the CID as root (--format car), or as the bytes of\nthe block itself (--format raw).", env.stderr)
	var sf storeFlags
	var format string
	sf.register(fs, env)
	fs.stringVar(&format, []string{"format", "f"}, "car", `output format: "car" or "raw"`)
	pos, err := fs.parse(args, 2, 3)
	if err != nil {
		return err
	}
	root, err := cid.Decode(pos[0])
	if err != nil {
		return fmt.Errorf("%w: bad CID %q: %v", errUsage, pos[0], err)
	}
	containing, err := optionalCID(pos, 2)
	if err != nil {
		return err
	}
	if format != "car" && format != "raw" {
		return fmt.Errorf("%w: unknown format %q (want car or raw)", errUsage, format)
	}
	st, err := sf.open(ctx, env, false)
	if err != nil {
		return err
	}
	s := streamer.New(index.NewReader(st.index), st.packs)
	var blocks int
	n, err := writeFileAtomic(pos[1], func(w io.Writer) error {
		if format == "raw" {
			data, err := s.Block(ctx, root.Hash(), containing, nil)
			if err != nil {
				return err
			}
			blocks = 1
			_, err = w.Write(data)
			return err
		}
		bw := bufio.NewWriterSize(w, 1<<20)
		header, err := dag.CARHeader(root)
		if err != nil {
			return err
		}
		if _, err := bw.Write(header); err != nil {
			return err
		}
		if containing == nil {
			containing = root.Hash()
		}
		data, err := s.Block(ctx, root.Hash(), containing, nil)
		if err != nil {
			return err
		}
		// The gateway's walk, so the CAR is byte for byte what
		// GET /ipfs/<cid>?format=car answers.
		wk := carwalk.New(ctx, s, func(c cid.Cid, data []byte) error {
			return dag.WriteSection(bw, c, data)
		}, carwalk.WithContaining(containing))
		if err := wk.Block(root, data); err != nil {
			return err
		}
		err = wk.All(root, data)
		blocks = wk.Written()
		if err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "\nWrote %d bytes (%d blocks, %s) to %s\n", n, blocks, format, pos[1])
	return nil
}
