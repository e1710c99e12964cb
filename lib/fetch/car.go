package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
)

// FetchCAR writes a CARv1 of the whole DAG of root to the file out, each
// block once, in the trustless gateway spec's order (depth first, links
// in order), renamed to out only when complete. A UnixFS file is fetched
// in its slices (cacheable, parallel); any other DAG as one
// ?format=car&dag-scope=all response, held in memory (at most the
// client's max CAR bytes) to be checked complete and put in order.
func (c *Client) FetchCAR(ctx context.Context, root cid.Cid, out string) error {
	return atomicFile(out, func(tmp *os.File) error {
		bw := bufio.NewWriterSize(tmp, 1<<20)
		if err := c.WriteCAR(ctx, root, bw); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// WriteCAR writes what FetchCAR does to w; on error w holds a partial CAR
// of verified blocks.
func (c *Client) WriteCAR(ctx context.Context, root cid.Cid, w io.Writer) error {
	raw, err := c.Block(ctx, root)
	if err != nil {
		return err
	}
	header, err := pack.CARHeader(root)
	if err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	written := make(map[string]bool)
	write := func(k cid.Cid, b []byte) error {
		if _, ok, _ := streamer.Inline(k.Hash()); ok || written[k.KeyString()] {
			return nil // identity CIDs are not blocks; dups=n
		}
		written[k.KeyString()] = true
		return pack.WriteSection(w, k, b)
	}
	f, err := ParseFile(root, raw)
	if errors.Is(err, ErrNotFile) {
		return c.writeDAG(ctx, root, raw, write)
	}
	if err != nil {
		return err
	}
	slices := f.Slices(c.sliceSize)
	if len(slices) == 0 {
		return walkFile(nil, f.CID, f.Raw, 0, f.Size, Range{0, f.Size - 1}, 0, write, nil)
	}
	return c.writeSlicesInOrder(ctx, f, slices, write)
}

// writeSlicesInOrder fetches slices in parallel and writes their blocks in
// file order: at most parallelism slices are fetched or waiting.
func (c *Client) writeSlicesInOrder(ctx context.Context, f *File, slices []Range, write func(cid.Cid, []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		blocks map[string][]byte
		err    error
	}
	results := make([]chan result, len(slices))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	sem := make(chan struct{}, c.parallel)
	go func() {
		for i, r := range slices {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				b, err := c.fetchSlice(ctx, f, i, r)
				results[i] <- result{b, err}
			}()
		}
	}()
	for i, r := range slices {
		var res result
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if res.err != nil {
			return res.err
		}
		if err := walkFile(res.blocks, f.CID, f.Raw, 0, f.Size, r, 0, write, nil); err != nil {
			return err
		}
		if c.progress != nil {
			c.progress(r.Len(), f.Size)
		}
		<-sem
	}
	return nil
}

// writeDAG fetches the CAR of a whole DAG, checks every block the DAG
// links is there, and writes them depth first from root.
func (c *Client) writeDAG(ctx context.Context, root cid.Cid, raw []byte, write func(cid.Cid, []byte) error) error {
	var blocks map[string][]byte
	err := c.withRetry(ctx, c.nextGateway(), ipfsPath(root, "format=car&dag-scope=all"), func(u string) error {
		body, err := c.get(ctx, u, acceptCAR)
		if err != nil {
			return err
		}
		defer body.Close()
		bs, err := readCAR(body, c.maxCAR)
		if err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		bs[root.KeyString()] = raw
		if err := walkDAG(bs, root, nil); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		blocks = bs
		return nil
	})
	if err != nil {
		return err
	}
	return walkDAG(blocks, root, write)
}

// walkDAG visits every block of the DAG of root depth first, links in
// order, each once; a block not in blocks is ErrIncomplete. Iterative: a
// long dag-cbor chain cannot exhaust the stack.
func walkDAG(blocks map[string][]byte, root cid.Cid, visit func(cid.Cid, []byte) error) error {
	seen := map[string]bool{}
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[k.KeyString()] {
			continue
		}
		seen[k.KeyString()] = true
		b, err := lookup(blocks, k)
		if err != nil {
			return err
		}
		if visit != nil {
			if err := visit(k, b); err != nil {
				return err
			}
		}
		links, err := streamer.Links(k, b)
		if err != nil {
			return err
		}
		for i := len(links) - 1; i >= 0; i-- {
			stack = append(stack, links[i])
		}
	}
	return nil
}
