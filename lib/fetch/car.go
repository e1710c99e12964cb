package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
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
	header, err := dag.CARHeader(root)
	if err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	written := make(map[string]bool)
	write := func(k cid.Cid, b []byte) error {
		if _, ok, _ := dag.Inline(k.Hash()); ok || written[k.KeyString()] {
			return nil // identity CIDs are not blocks; dups=n
		}
		written[k.KeyString()] = true
		return dag.WriteSection(w, k, b)
	}
	f, err := ParseFile(root, raw)
	if errors.Is(err, ErrNotFile) {
		return c.writeDAG(ctx, root, raw, write)
	}
	if err != nil {
		return err
	}
	if err := c.checkSize(f); err != nil {
		return err
	}
	if !f.hasSlices() {
		return walkFile(nil, f.CID, f.Raw, 0, f.Size, Range{0, f.Size - 1}, 0, write, nil)
	}
	return c.writeSlicesInOrder(ctx, f, write)
}

// writeSlicesInOrder fetches the slices of f in parallel and writes their
// blocks in file order: at most parallelism slices are fetched or waiting
// to be written, and the slices are made as they are fetched (a root may
// declare any size).
func (c *Client) writeSlicesInOrder(ctx context.Context, f *File, write func(cid.Cid, []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		blocks map[string][]byte
		err    error
	}
	type pending struct {
		r   Range
		res chan result
	}
	// The slice being written plus those queued: parallelism in all.
	queue := make(chan pending, c.parallel-1)
	go func() {
		defer close(queue)
		i := 0
		f.eachSlice(c.sliceSize, func(r Range) bool {
			p := pending{r, make(chan result, 1)}
			select {
			case queue <- p:
			case <-ctx.Done():
				return false
			}
			go func(i int) {
				b, err := c.fetchSlice(ctx, f, i, r)
				p.res <- result{b, err}
			}(i)
			i++
			return true
		})
	}()
	for p := range queue {
		var res result
		select {
		case res = <-p.res:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if res.err != nil {
			return res.err
		}
		if err := walkFile(res.blocks, f.CID, f.Raw, 0, f.Size, p.r, 0, write, nil); err != nil {
			return err
		}
		if c.progress != nil {
			c.progress(p.r.Len(), f.Size)
		}
	}
	return context.Cause(ctx) // nil, or why the slices stopped
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
		limit := c.maxCAR
		if c.maxBytes > 0 {
			limit = min(limit, c.maxBytes)
		}
		bs, err := readCAR(body, limit)
		if errors.Is(err, ErrTooLarge) && limit == c.maxBytes {
			return &LimitError{What: "bytes", Limit: limit, Where: "the CAR of " + root.String()}
		}
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
		links, err := dag.Links(k, b)
		if err != nil {
			return err
		}
		for i := len(links) - 1; i >= 0; i-- {
			stack = append(stack, links[i])
		}
	}
	return nil
}
