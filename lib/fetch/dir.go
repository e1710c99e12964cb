package fetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/carwalk"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"golang.org/x/sync/errgroup"
)

// maxDirDepth bounds how deep a fetched directory tree goes.
const maxDirDepth = 256

// ErrBadName is a directory entry whose name cannot be a file name here
// (empty, ".", "..", or holding a slash or NUL): written, it could land
// outside the output.
var ErrBadName = errors.New("unsafe directory entry name")

// entry is one name of a UnixFS directory.
type entry struct {
	name string
	cid  cid.Cid
}

// Fetch writes root to out: a UnixFS file as FetchFile does, a UnixFS
// directory (plain or HAMT-sharded) as a tree of folders, files and
// symbolic links. A tree is built in a temporary folder next to out (a
// part, locked while the fetch runs) and renamed to out once complete; on
// error it is removed. Other DAGs wrap
// ErrNotFile (fetch them with FetchCAR).
func (c *Client) Fetch(ctx context.Context, root cid.Cid, out string) error {
	raw, err := c.Block(ctx, root)
	if err != nil {
		return err
	}
	f, err := ParseFile(root, raw)
	if err == nil {
		return atomicFile(out, func(tmp *os.File) error { return c.fill(ctx, f, tmp) })
	}
	if !errors.Is(err, ErrNotFile) {
		return err
	}
	if !isDir(root, raw) {
		return err
	}
	if c.progress != nil { // a tree's total is not known ahead
		cc, report := *c, c.progress
		cc.progress = func(n, _ int64) { report(n, -1) }
		c = &cc
	}
	p, err := newPart(out)
	if err != nil {
		return err
	}
	if err := c.fillDir(ctx, root, raw, p.dir, 0); err != nil {
		p.remove()
		return err
	}
	if err := os.Chmod(p.dir, 0o755); err != nil {
		p.remove()
		return err
	}
	if err := os.Rename(p.dir, out); err != nil {
		p.remove()
		return err
	}
	p.unlock()
	return nil
}

// isDir reports whether a block is a UnixFS directory or HAMT shard.
func isDir(c cid.Cid, raw []byte) bool {
	if c.Prefix().Codec != cid.DagProtobuf {
		return false
	}
	_, ufs, err := carwalk.DecodeUnixFS(c, raw)
	if err != nil || ufs == nil {
		return false
	}
	t := ufs.FieldDataType().Int()
	return t == data.Data_Directory || t == data.Data_HAMTShard
}

// fillDir writes the entries of directory c (raw its block) into the
// existing folder dst.
func (c *Client) fillDir(ctx context.Context, dir cid.Cid, raw []byte, dst string, depth int) error {
	if depth > maxDirDepth {
		return fmt.Errorf("%w: directories deeper than %d levels", ErrMalformed, maxDirDepth)
	}
	entries, err := c.entries(ctx, dir, raw)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if e.name == "" || e.name == "." || e.name == ".." || strings.ContainsAny(e.name, "/\x00") || (filepath.Separator != '/' && strings.ContainsRune(e.name, filepath.Separator)) {
			return fmt.Errorf("%w: %q in %s", ErrBadName, e.name, dir)
		}
		if seen[e.name] {
			return fmt.Errorf("%w: %q twice in %s", ErrMalformed, e.name, dir)
		}
		seen[e.name] = true
	}
	// Entries in parallel (small files are one request each); the
	// client's slots bound the requests in flight across all of them.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.parallel)
	for _, e := range entries {
		g.Go(func() error {
			if err := c.fetchEntry(gctx, e, filepath.Join(dst, e.name), depth); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// fetchEntry writes one directory entry at path (which does not exist).
func (c *Client) fetchEntry(ctx context.Context, e entry, path string, depth int) error {
	raw, err := c.Block(ctx, e.cid)
	if err != nil {
		return err
	}
	f, err := ParseFile(e.cid, raw)
	if err == nil {
		out, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if err := c.fill(ctx, f, out); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	if !errors.Is(err, ErrNotFile) {
		return err
	}
	if isDir(e.cid, raw) {
		if err := os.Mkdir(path, 0o755); err != nil {
			return err
		}
		return c.fillDir(ctx, e.cid, raw, path, depth+1)
	}
	if e.cid.Prefix().Codec == cid.DagProtobuf {
		if _, ufs, derr := carwalk.DecodeUnixFS(e.cid, raw); derr == nil && ufs != nil && ufs.FieldDataType().Int() == data.Data_Symlink {
			target := ""
			if ufs.FieldData().Exists() {
				target = string(ufs.FieldData().Must().Bytes())
			}
			return os.Symlink(target, path)
		}
	}
	return err // not UnixFS: ErrNotFile
}

// entries lists a directory: a plain one from its block, a HAMT from its
// shards, fetched with ?format=car&dag-scope=entity and verified.
func (c *Client) entries(ctx context.Context, dir cid.Cid, raw []byte) ([]entry, error) {
	pb, ufs, err := carwalk.DecodeUnixFS(dir, raw)
	if err != nil {
		return nil, err
	}
	if ufs.FieldDataType().Int() == data.Data_Directory {
		var out []entry
		for it := pb.FieldLinks().Iterator(); !it.Done(); {
			_, l := it.Next()
			name := ""
			if l.FieldName().Exists() {
				name = l.FieldName().Must().String()
			}
			out = append(out, entry{name, l.FieldHash().Link().(cidlink.Link).Cid})
		}
		return out, nil
	}
	var out []entry
	err = c.withRetry(ctx, c.nextGateway(), ipfsPath(dir, "format=car&dag-scope=entity"), func(u string) error {
		body, err := c.get(ctx, u, acceptCAR)
		if err != nil {
			return err
		}
		defer body.Close()
		blocks, err := readCAR(body, c.maxCAR)
		if err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		out = out[:0]
		if err := shardEntries(blocks, dir, raw, 0, &out); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		return nil
	})
	return out, err
}

// shardEntries appends the entries of HAMT shard c and its sub-shards:
// a link named by its bucket alone (hex, as wide as fanout-1) is a
// sub-shard, any other is the bucket then the entry's name.
func shardEntries(blocks map[string][]byte, c cid.Cid, raw []byte, depth int, out *[]entry) error {
	if depth > 64 { // 256-way shards of a 256-bit hash: 32 levels at most
		return fmt.Errorf("%w: HAMT deeper than 64 levels", ErrMalformed)
	}
	pb, ufs, err := carwalk.DecodeUnixFS(c, raw)
	if err != nil {
		return err
	}
	if ufs == nil || ufs.FieldDataType().Int() != data.Data_HAMTShard || !ufs.FieldFanout().Exists() {
		return fmt.Errorf("%w: %s is not a HAMT shard", ErrMalformed, c)
	}
	pad := len(fmt.Sprintf("%X", ufs.FieldFanout().Must().Int()-1))
	for it := pb.FieldLinks().Iterator(); !it.Done(); {
		_, l := it.Next()
		kid := l.FieldHash().Link().(cidlink.Link).Cid
		name := ""
		if l.FieldName().Exists() {
			name = l.FieldName().Must().String()
		}
		if len(name) < pad {
			return fmt.Errorf("%w: %s has a link named %q", ErrMalformed, c, name)
		}
		if len(name) > pad {
			*out = append(*out, entry{name[pad:], kid})
			continue
		}
		kraw, err := lookup(blocks, kid)
		if err != nil {
			return err
		}
		if err := shardEntries(blocks, kid, kraw, depth+1, out); err != nil {
			return err
		}
	}
	return nil
}
