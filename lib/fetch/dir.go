package fetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

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
// directory (plain or HAMT-sharded) as a tree of folders, files and (with
// WithSymlinks) symbolic links. A tree is planned first: every distinct
// block is fetched and read once, and the tree is refused with a
// LimitError before anything is written when its names (a subtree under
// several names counted once per name), folder depth or file bytes are
// over the client's caps; the bytes' cap defaults to the size the root
// declares (the sum of its links' Tsize). It is then built in a
// temporary folder next to out and renamed to out once complete; on error
// it is removed. Other DAGs wrap ErrNotFile (fetch them with FetchCAR).
func (c *Client) Fetch(ctx context.Context, root cid.Cid, out string) error {
	raw, err := c.Block(ctx, root)
	if err != nil {
		return err
	}
	f, err := ParseFile(root, raw)
	if err == nil {
		if err := c.checkSize(f); err != nil {
			return err
		}
		return atomicFile(out, func(tmp *os.File) error { return c.fill(ctx, f, tmp) })
	}
	if !errors.Is(err, ErrNotFile) {
		return err
	}
	if !isDir(root, raw) {
		return err
	}
	maxBytes := c.maxBytes
	if maxBytes == 0 {
		maxBytes, _ = declaredSize(root, raw)
	}
	t, err := c.planTree(ctx, root, raw, maxBytes)
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) && le.What == "bytes" && c.maxBytes == 0 {
			le.Note = strings.TrimPrefix(le.Note+"; the limit is the size its root declares", "; ")
		}
		return err
	}
	if c.progress != nil { // the tree's total is known now
		cc, report, total := *c, c.progress, t.root.bytes
		cc.progress = func(n, _ int64) { report(n, total) }
		c = &cc
	}
	p, err := newPart(out)
	if err != nil {
		return err
	}
	if err := t.write(ctx, c, p.dir); err != nil {
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

// declaredSize returns the size a directory block declares: the sum of
// its links' Tsize, when every link has one.
func declaredSize(c cid.Cid, raw []byte) (int64, bool) {
	pb, _, err := dag.DecodeUnixFS(c, raw)
	if err != nil {
		return 0, false
	}
	var sum int64
	for it := pb.FieldLinks().Iterator(); !it.Done(); {
		_, l := it.Next()
		if !l.FieldTsize().Exists() || l.FieldTsize().Must().Int() < 0 {
			return 0, false
		}
		sum = satAdd(sum, l.FieldTsize().Must().Int())
	}
	return sum, true
}

// isDir reports whether a block is a UnixFS directory or HAMT shard.
func isDir(c cid.Cid, raw []byte) bool {
	if c.Prefix().Codec != cid.DagProtobuf {
		return false
	}
	_, ufs, err := dag.DecodeUnixFS(c, raw)
	if err != nil || ufs == nil {
		return false
	}
	t := ufs.FieldDataType().Int()
	return t == data.Data_Directory || t == data.Data_HAMTShard
}

// checkNames refuses entries of the directory dir whose name is unsafe to
// write, or that appears twice.
func checkNames(dir cid.Cid, entries []entry) error {
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
	return nil
}

// entries lists a directory: a plain one from its block, a HAMT from its
// shards, fetched with ?format=car&dag-scope=entity and verified.
func (c *Client) entries(ctx context.Context, dir cid.Cid, raw []byte) ([]entry, error) {
	pb, ufs, err := dag.DecodeUnixFS(dir, raw)
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
		w := &shardWalk{dir: dir, blocks: blocks, seen: map[string]bool{}, max: c.maxEntries, out: &out}
		if err := w.entries(dir, raw, 0); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		return nil
	})
	return out, err
}

// shardWalk lists the entries of a HAMT from its verified shards.
type shardWalk struct {
	dir    cid.Cid // the HAMT's root
	blocks map[string][]byte
	seen   map[string]bool // shards walked: each is linked once in a HAMT
	max    int64           // entries at most
	out    *[]entry
}

// entries appends the entries of HAMT shard c and its sub-shards: a link
// named by its bucket alone (hex, as wide as fanout-1) is a sub-shard, any
// other is the bucket then the entry's name. A shard linked twice is
// malformed (its entries would be listed twice): a HAMT of 4 levels whose
// shards all link 256 times to the same child is refused at its second
// link, not expanded to 2^32 entries.
func (w *shardWalk) entries(c cid.Cid, raw []byte, depth int) error {
	if depth > 64 { // 256-way shards of a 256-bit hash: 32 levels at most
		return fmt.Errorf("%w: HAMT deeper than 64 levels", ErrMalformed)
	}
	if w.seen[c.KeyString()] {
		return fmt.Errorf("%w: HAMT shard %s is linked twice", ErrMalformed, c)
	}
	w.seen[c.KeyString()] = true
	pb, ufs, err := dag.DecodeUnixFS(c, raw)
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
			if int64(len(*w.out)) >= w.max {
				return &LimitError{What: "entries", Limit: w.max, Where: "the directory " + w.dir.String()}
			}
			*w.out = append(*w.out, entry{name[pad:], kid})
			continue
		}
		kraw, err := lookup(w.blocks, kid)
		if err != nil {
			return err
		}
		if err := w.entries(kid, kraw, depth+1); err != nil {
			return err
		}
	}
	return nil
}
