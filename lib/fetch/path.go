package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/carwalk"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	"github.com/ipfs/go-unixfsnode/hamt"
	"github.com/ipld/go-ipld-prime"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
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
	pb, ufs, err := carwalk.DecodeUnixFS(c, raw)
	if err != nil {
		return cid.Undef, err
	}
	if ufs == nil {
		return cid.Undef, fmt.Errorf("%w: %s is not a UnixFS directory", ErrNoPath, c)
	}
	switch ufs.FieldDataType().Int() {
	case data.Data_Directory:
		if link, ok := carwalk.DirectoryLink(pb, name); ok {
			return link, nil
		}
		return cid.Undef, fmt.Errorf("%w: no %q in directory %s", ErrNoPath, name, c)
	case data.Data_HAMTShard:
		var missing error
		shard, err := hamt.AttemptHAMTShardFromNode(ctx, pb, linkSystem(blocks, &missing))
		if err != nil {
			return cid.Undef, errors.Join(missing, fmt.Errorf("HAMT %s: %w", c, err))
		}
		n, err := shard.LookupByString(name)
		if missing != nil {
			return cid.Undef, missing
		}
		if err != nil {
			return cid.Undef, fmt.Errorf("%w: no %q in directory %s", ErrNoPath, name, c)
		}
		l, err := n.AsLink()
		if err != nil {
			return cid.Undef, fmt.Errorf("HAMT %s: %w", c, err)
		}
		return l.(cidlink.Link).Cid, nil
	}
	return cid.Undef, fmt.Errorf("%w: %s is not a UnixFS directory", ErrNoPath, c)
}

// linkSystem reads blocks for go-ipld-prime (HAMT shards); a block not
// there is recorded in *missing.
func linkSystem(blocks map[string][]byte, missing *error) *ipld.LinkSystem {
	ls := cidlink.DefaultLinkSystem()
	ls.StorageReadOpener = func(_ ipld.LinkContext, l ipld.Link) (io.Reader, error) {
		cl, ok := l.(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("not a CID link: %v", l)
		}
		b, err := lookup(blocks, cl.Cid)
		if err != nil {
			*missing = err
			return nil, err
		}
		return bytes.NewReader(b), nil
	}
	ls.TrustedStorage = true // readCAR verified every block
	return &ls
}

// ipldStep walks segments inside a dag-cbor or dag-json block until a link
// leaves it (streamer.PathStep); a segment that names nothing is ErrNoPath.
func ipldStep(c cid.Cid, raw []byte, segments []string) (cid.Cid, int, error) {
	next, used, err := streamer.PathStep(c, raw, segments)
	var pe *streamer.PathError
	if errors.As(err, &pe) {
		return cid.Undef, 0, fmt.Errorf("%w: %s in %s", ErrNoPath, pe.Reason, c)
	}
	return next, used, err
}
