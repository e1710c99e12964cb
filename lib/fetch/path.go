package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
)

// ErrNoPath is a path that names nothing in a verified DAG.
var ErrNoPath = errors.New("no such path")

// ParsePath splits "<cid>[/path]" (optionally after /ipfs/ or ipfs://)
// into the root CID and its path segments.
func ParsePath(s string) (cid.Cid, []string, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "ipfs://"), "/ipfs/")
	first, rest, _ := strings.Cut(s, "/")
	root, err := cid.Decode(first)
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("bad CID %q: %v", first, err)
	}
	var segs []string
	for _, seg := range strings.Split(rest, "/") {
		if seg != "" {
			segs = append(segs, seg)
		}
	}
	return root, segs, nil
}

// Resolve returns the CID segments lead to from root: it asks a gateway
// for the blocks that resolve the path (?format=car&dag-scope=block),
// verifies them and walks them itself (UnixFS directories and HAMT
// shards, dag-cbor and dag-json nodes), so a gateway cannot lie about
// where a path leads.
func (c *Client) Resolve(ctx context.Context, root cid.Cid, segments []string) (cid.Cid, error) {
	if len(segments) == 0 {
		return root, nil
	}
	escaped := make([]string, len(segments))
	for i, s := range segments {
		escaped[i] = url.PathEscape(s)
	}
	pathQuery := "/ipfs/" + root.String() + "/" + strings.Join(escaped, "/") + "?format=car&dag-scope=block"
	var out cid.Cid
	err := c.withRetry(ctx, c.nextGateway(), pathQuery, func(u string) error {
		body, err := c.get(ctx, u, acceptCAR)
		if err != nil {
			return err
		}
		defer body.Close()
		// The blocks of a path: a few per segment (HAMT shards), each at
		// most MaxBlockSize.
		blocks, err := readCAR(body, int64(len(segments)+1)*8*MaxBlockSize)
		if err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		end, err := walkPath(ctx, blocks, root, segments)
		if err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		out = end
		return nil
	})
	return out, err
}

// walkPath resolves segments from root over verified blocks.
func walkPath(ctx context.Context, blocks map[string][]byte, root cid.Cid, segments []string) (cid.Cid, error) {
	cur := root
	for i := 0; i < len(segments); {
		raw, err := lookup(blocks, cur)
		if err != nil {
			return cid.Undef, err
		}
		switch cur.Prefix().Codec {
		case cid.DagProtobuf:
			cur, err = dirEntry(ctx, blocks, cur, raw, segments[i])
			i++
		case cid.Raw:
			return cid.Undef, fmt.Errorf("%w: %s: a raw block has no path", ErrNoPath, strings.Join(segments[:i+1], "/"))
		default:
			var used int
			cur, used, err = ipldStep(cur, raw, segments[i:])
			i += used
		}
		if err != nil {
			return cid.Undef, err
		}
	}
	return cur, nil
}

// dirEntry finds name in the UnixFS directory or HAMT shard c.
func dirEntry(ctx context.Context, blocks map[string][]byte, c cid.Cid, raw []byte, name string) (cid.Cid, error) {
	next, err := dag.Lookup(ctx, c, raw, name, func(_ context.Context, c cid.Cid) ([]byte, error) {
		return lookup(blocks, c)
	})
	if errors.Is(err, dag.ErrNoEntry) || errors.Is(err, dag.ErrNotDirectory) {
		return cid.Undef, fmt.Errorf("%w: %v", ErrNoPath, err)
	}
	return next, err
}

// ipldStep walks segments inside a dag-cbor or dag-json block until a link
// leaves it (dag.PathStep); a segment that names nothing is ErrNoPath.
func ipldStep(c cid.Cid, raw []byte, segments []string) (cid.Cid, int, error) {
	next, used, err := dag.PathStep(c, raw, segments)
	var pe *dag.PathError
	if errors.As(err, &pe) {
		return cid.Undef, 0, fmt.Errorf("%w: %s in %s", ErrNoPath, pe.Reason, c)
	}
	return next, used, err
}
