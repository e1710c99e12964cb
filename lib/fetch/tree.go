package fetch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	"golang.org/x/sync/errgroup"
)

// tree is the plan of a directory fetch: every distinct block of the tree,
// fetched, verified and read once however many names lead to it, then
// measured as it will be written. A DAG can reuse a subtree under many
// names (a diamond: 40 levels of {a: child, b: child} are 2^41 names in
// 42 blocks); the plan costs its distinct blocks, and the tree is refused
// before anything is written when what it writes is over a cap.
type tree struct {
	root     *node
	nodes    map[string]*node // by CID key
	mu       sync.Mutex       // held and distinct, from the readers
	held     int64            // bytes of the file roots held (heldRootBytes)
	distinct int64            // entries of the distinct folders
}

// node is one distinct block of a tree.
type node struct {
	cid     cid.Cid
	path    string // the first path found to it, for messages ("" for the root)
	kind    nodeKind
	file    *File   // kindFile: its root, nil when not held (fetched again to be written)
	entries []entry // kindDir
	target  string  // kindSymlink
	// What the node writes, a subtree shared by several names counted
	// once per name: names and file bytes below it (a file: its size).
	count, bytes int64
	measured     bool
}

type nodeKind uint8

const (
	kindFile nodeKind = iota
	kindDir
	kindSymlink
)

// planTree reads the directory root (raw its verified block) and every
// distinct block below it, level by level, each level's blocks in
// parallel, then measures what the tree writes against the client's caps
// (maxBytes is the cap on the tree's file bytes, 0 for none).
func (c *Client) planTree(ctx context.Context, root cid.Cid, raw []byte, maxBytes int64) (*tree, error) {
	t := &tree{nodes: map[string]*node{}}
	t.root = &node{cid: root}
	t.nodes[root.KeyString()] = t.root
	if err := c.readNode(ctx, t, t.root, raw, 0); err != nil {
		return nil, err
	}
	level := []*node{t.root}
	for depth := 1; len(level) > 0; depth++ {
		var next []*node
		for _, d := range level {
			for _, e := range d.entries {
				if _, ok := t.nodes[e.cid.KeyString()]; ok {
					continue
				}
				n := &node{cid: e.cid, path: joinPath(d.path, e.name)}
				t.nodes[e.cid.KeyString()] = n
				next = append(next, n)
			}
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(c.parallel)
		for _, n := range next {
			g.Go(func() error {
				raw, err := c.Block(gctx, n.cid)
				if err != nil {
					return prefix(n.path, err)
				}
				return c.readNode(gctx, t, n, raw, depth)
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		level = level[:0]
		for _, n := range next {
			if n.kind == kindDir {
				level = append(level, n)
			}
		}
	}
	return t, t.measure(c, maxBytes)
}

// joinPath names an entry of the folder at dir ("" the root) for messages.
func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// where names n in a message.
func (n *node) where() string {
	if n.path == "" {
		return "the tree"
	}
	return "the folder " + clip(n.path)
}

// clip shortens a path for a message: a tree can be 256 levels of long
// names.
func clip(path string) string {
	const most = 200
	if len(path) <= most {
		return path
	}
	return path[:most/2] + "..." + path[len(path)-most/2:]
}

// readNode reads the verified block raw of n, found depth folders down: a
// file (its root is held while the plan holds less than heldRootBytes), a
// folder (its entries, checked and counted), or a symbolic link (refused
// unless the client writes them).
func (c *Client) readNode(ctx context.Context, t *tree, n *node, raw []byte, depth int) error {
	f, err := ParseFile(n.cid, raw)
	if err == nil {
		n.kind, n.bytes, n.measured = kindFile, f.Size, true
		cost := int64(len(raw)) + int64(len(f.kids))*64
		t.mu.Lock()
		if t.held+cost <= heldRootBytes {
			t.held += cost
			n.file = f
		}
		t.mu.Unlock()
		return nil
	}
	if !errors.Is(err, ErrNotFile) {
		return prefix(n.path, err)
	}
	if isDir(n.cid, raw) {
		if depth > c.maxDepth {
			return &LimitError{What: "depth", Limit: int64(c.maxDepth), Got: int64(depth), Where: "the tree"}
		}
		entries, err := c.entries(ctx, n.cid, raw)
		if err != nil {
			return prefix(n.path, err)
		}
		if err := checkNames(n.cid, entries); err != nil {
			return prefix(n.path, err)
		}
		t.mu.Lock()
		t.distinct += int64(len(entries))
		over := t.distinct > c.maxEntries
		t.mu.Unlock()
		if over {
			return &LimitError{What: "entries", Limit: c.maxEntries, Where: "the tree"}
		}
		n.kind, n.entries = kindDir, entries
		return nil
	}
	if target, ok := symlinkTarget(n.cid, raw); ok {
		if !c.symlinks {
			return fmt.Errorf("%s: %w (it points to %q)", clip(n.path), ErrSymlink, clip(target))
		}
		n.kind, n.target, n.measured = kindSymlink, target, true
		return nil
	}
	return prefix(n.path, err) // not UnixFS: ErrNotFile
}

// prefix puts path (if any) before err.
func prefix(path string, err error) error {
	if path == "" || err == nil {
		return err
	}
	return fmt.Errorf("%s: %w", clip(path), err)
}

// symlinkTarget returns the target of a UnixFS symbolic link block.
func symlinkTarget(c cid.Cid, raw []byte) (string, bool) {
	if c.Prefix().Codec != cid.DagProtobuf {
		return "", false
	}
	_, ufs, err := dag.DecodeUnixFS(c, raw)
	if err != nil || ufs == nil || ufs.FieldDataType().Int() != data.Data_Symlink {
		return "", false
	}
	if ufs.FieldData().Exists() {
		return string(ufs.FieldData().Must().Bytes()), true
	}
	return "", true
}

// measure fills count and bytes of every folder, children first (depth
// first, iteratively: its stack is the folder path, at most maxDepth),
// and refuses the tree at the first folder over a cap.
func (t *tree) measure(c *Client, maxBytes int64) error {
	type frame struct {
		n *node
		i int // the next entry to look at
	}
	stack := []frame{{n: t.root}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		n := top.n
		if top.i < len(n.entries) {
			k := t.nodes[n.entries[top.i].cid.KeyString()]
			top.i++
			if !k.measured {
				if len(stack) > c.maxDepth {
					return &LimitError{What: "depth", Limit: int64(c.maxDepth), Got: int64(len(stack)), Where: "the tree"}
				}
				stack = append(stack, frame{n: k})
			}
			continue
		}
		for _, e := range n.entries {
			k := t.nodes[e.cid.KeyString()]
			n.count = satAdd(n.count, satAdd(1, k.count))
			n.bytes = satAdd(n.bytes, k.bytes)
		}
		n.measured = true
		stack = stack[:len(stack)-1]
		var note string
		if n.count > int64(len(t.nodes)) {
			note = fmt.Sprintf("from %d distinct blocks: a subtree under several names counts once per name", len(t.nodes))
		}
		if n.count > c.maxEntries {
			return &LimitError{What: "entries", Limit: c.maxEntries, Got: n.count, Where: n.where(), Note: note}
		}
		if maxBytes > 0 && n.bytes > maxBytes {
			return &LimitError{What: "bytes", Limit: maxBytes, Got: n.bytes, Where: n.where(), Note: note}
		}
	}
	return nil
}

// satAdd adds two counts, at most math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// write writes the tree into the existing empty folder dst: folders and
// links in order, files in parallel (the client's slots bound the
// requests in flight). The plan was measured: at most maxEntries names.
func (t *tree) write(ctx context.Context, c *Client, dst string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.parallel)
	type frame struct {
		n    *node
		dir  string // where it is written
		path string // its path in the tree, for messages
		i    int
	}
	stack := []frame{{n: t.root, dir: dst}}
	var err error
	for len(stack) > 0 && err == nil && gctx.Err() == nil {
		top := &stack[len(stack)-1]
		if top.i == len(top.n.entries) {
			stack = stack[:len(stack)-1]
			continue
		}
		e := top.n.entries[top.i]
		top.i++
		k := t.nodes[e.cid.KeyString()]
		path, name := filepath.Join(top.dir, e.name), joinPath(top.path, e.name)
		switch k.kind {
		case kindDir:
			if err = os.Mkdir(path, 0o755); err == nil {
				stack = append(stack, frame{n: k, dir: path, path: name})
			}
		case kindSymlink:
			err = os.Symlink(k.target, path)
		case kindFile:
			g.Go(func() error { return prefix(name, c.writeFile(gctx, k, path)) })
		}
	}
	if werr := g.Wait(); werr != nil {
		return werr
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	return err
}

// writeFile writes the file of k at path, which does not exist.
func (c *Client) writeFile(ctx context.Context, k *node, path string) error {
	f := k.file
	if f == nil {
		var err error
		if f, err = c.Root(ctx, k.cid); err != nil {
			return err
		}
	}
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
