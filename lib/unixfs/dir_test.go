package unixfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode"
	"github.com/ipfs/go-unixfsnode/data"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

const (
	directory = data.Data_Directory
	hamtShard = data.Data_HAMTShard
	// Well-known CIDs: the empty UnixFS directory and the empty raw block.
	emptyDirCID  = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"
	emptyFileCID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
)

func decodeNode(t *testing.T, block []byte) (dagpb.PBNode, data.UnixFSData) {
	t.Helper()
	nb := dagpb.Type.PBNode.NewBuilder()
	if err := dagpb.DecodeBytes(nb, block); err != nil {
		t.Fatal(err)
	}
	n := nb.Build().(dagpb.PBNode)
	ufs, err := data.DecodeUnixFSData(n.FieldData().Must().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return n, ufs
}

func nodeType(t *testing.T, block []byte) int64 {
	t.Helper()
	_, ufs := decodeNode(t, block)
	return ufs.FieldDataType().Int()
}

// tree is a DAG built by BuildDirectory, read back with go-unixfsnode.
type tree struct {
	t      *testing.T
	root   cid.Cid
	blocks map[cid.Cid][]byte
	ls     ipld.LinkSystem
}

func buildTree(t *testing.T, fsys fs.FS, opts ...unixfs.Option) *tree {
	t.Helper()
	root, list := build(t, fsys, opts...)
	tr := &tree{t: t, root: root, blocks: map[cid.Cid][]byte{}}
	// Emitted depth first: every link goes to a block emitted before, and
	// the root is last.
	for _, b := range list {
		if b.CID.Prefix().Codec == cid.DagProtobuf {
			n, _ := decodeNode(t, b.Data)
			for it := n.FieldLinks().Iterator(); !it.Done(); {
				_, l := it.Next()
				c := l.FieldHash().Link().(cidlink.Link).Cid
				if _, ok := tr.blocks[c]; !ok {
					t.Errorf("block %s links to %s, not emitted before it", b.CID, c)
				}
			}
		}
		tr.blocks[b.CID] = b.Data
	}
	if last := list[len(list)-1].CID; !last.Equals(root) {
		t.Errorf("last block %s, root %s", last, root)
	}
	tr.ls = cidlink.DefaultLinkSystem()
	tr.ls.StorageReadOpener = func(_ ipld.LinkContext, l ipld.Link) (io.Reader, error) {
		b, ok := tr.blocks[l.(cidlink.Link).Cid]
		if !ok {
			return nil, fmt.Errorf("no block %s", l)
		}
		return bytes.NewReader(b), nil
	}
	return tr
}

// lookup resolves a slash-separated path with go-unixfsnode (which finds
// names in a HAMT by their hash) and returns the CID it ends at.
func (tr *tree) lookup(p string) cid.Cid {
	tr.t.Helper()
	c := tr.root
	for _, name := range strings.Split(p, "/") {
		n, err := tr.ls.Load(ipld.LinkContext{}, cidlink.Link{Cid: c}, dagpb.Type.PBNode)
		if err != nil {
			tr.t.Fatal(err)
		}
		dir, err := unixfsnode.Reify(ipld.LinkContext{}, n, &tr.ls)
		if err != nil {
			tr.t.Fatal(err)
		}
		v, err := dir.LookupByString(name)
		if err != nil {
			tr.t.Fatalf("%s: %s: %v", p, name, err)
		}
		l, err := v.AsLink()
		if err != nil {
			tr.t.Fatal(err)
		}
		c = l.(cidlink.Link).Cid
	}
	return c
}

// fileCID is the CID BuildFile gives content of one chunk (the chunk
// size cut to the content's, so many calls allocate little).
func fileCID(t *testing.T, content string) cid.Cid {
	t.Helper()
	c, _, err := unixfs.BuildFile(strings.NewReader(content), func(unixfs.Block) error { return nil }, unixfs.WithChunkSize(max(len(content), 1)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// links lists the links of a dag-pb block: names, targets and Tsizes.
func links(t *testing.T, block []byte) (names []string, targets []cid.Cid, tsizes []int64) {
	t.Helper()
	n, _ := decodeNode(t, block)
	for it := n.FieldLinks().Iterator(); !it.Done(); {
		_, l := it.Next()
		names = append(names, l.FieldName().Must().String())
		targets = append(targets, l.FieldHash().Link().(cidlink.Link).Cid)
		tsizes = append(tsizes, l.FieldTsize().Must().Int())
	}
	return names, targets, tsizes
}

// tsize is what a link to c says of it: the bytes of c and every block
// below it.
func (tr *tree) tsize(c cid.Cid) int64 {
	b := tr.blocks[c]
	n := int64(len(b))
	if c.Prefix().Codec == cid.DagProtobuf {
		_, targets, _ := links(tr.t, b)
		for _, ch := range targets {
			n += tr.tsize(ch)
		}
	}
	return n
}

func TestPlainDirectory(t *testing.T) {
	fsys := fstest.MapFS{
		"b.txt":          {Data: []byte("bee")},
		"a.txt":          {Data: []byte("ay")},
		"B.txt":          {Data: []byte("upper")},
		"sub/deep/x.bin": {Data: bytes.Repeat([]byte("x"), 2500)},
		"empty-dir":      {Mode: fs.ModeDir | 0o755},
		"empty.txt":      {},
	}
	chunk := unixfs.WithChunkSize(1000) // x.bin: three leaves under a File node
	tr := buildTree(t, fsys, chunk)
	names, targets, tsizes := links(t, tr.blocks[tr.root])
	if got := strings.Join(names, " "); got != "B.txt a.txt b.txt empty-dir empty.txt sub" {
		t.Errorf("links %s, want them in byte order", got)
	}
	if nodeType(t, tr.blocks[tr.root]) != directory {
		t.Error("root is not a Directory")
	}
	for i, c := range targets {
		if tsizes[i] != tr.tsize(c) {
			t.Errorf("%s: Tsize %d, want %d", names[i], tsizes[i], tr.tsize(c))
		}
	}
	if c := tr.lookup("empty-dir"); c.String() != emptyDirCID {
		t.Errorf("empty folder %s, want %s", c, emptyDirCID)
	}
	if c := tr.lookup("empty.txt"); c.String() != emptyFileCID {
		t.Errorf("empty file %s, want %s", c, emptyFileCID)
	}
	if c := tr.lookup("a.txt"); !c.Equals(fileCID(t, "ay")) || c.Prefix().Codec != cid.Raw {
		t.Errorf("a.txt %s, want the raw block %s", c, fileCID(t, "ay"))
	}
	want, _, err := unixfs.BuildFile(bytes.NewReader(fsys["sub/deep/x.bin"].Data), func(unixfs.Block) error { return nil }, chunk)
	if err != nil {
		t.Fatal(err)
	}
	if c := tr.lookup("sub/deep/x.bin"); !c.Equals(want) {
		t.Errorf("x.bin %s, want %s", c, want)
	}
	// No mode, no mtime: the Data of every folder is its type alone.
	_, ufs := decodeNode(t, tr.blocks[tr.root])
	if ufs.FieldMode().Exists() || ufs.FieldMtime().Exists() {
		t.Error("mode or mtime set")
	}

	// Deterministic: the same tree gives the same blocks in the same order.
	_, first := build(t, fsys, chunk)
	_, second := build(t, fsys, chunk)
	for i := range first {
		if !first[i].CID.Equals(second[i].CID) {
			t.Fatalf("block %d: %s then %s", i, first[i].CID, second[i].CID)
		}
	}
}

func TestEmptyDirectory(t *testing.T) {
	root, blocks := build(t, fstest.MapFS{})
	if root.String() != emptyDirCID || len(blocks) != 1 {
		t.Errorf("root %s in %d blocks, want %s alone", root, len(blocks), emptyDirCID)
	}
}

// manyFiles is a folder of n small files.
func manyFiles(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := range n {
		name := fmt.Sprintf("file-%04d.txt", i)
		fsys[name] = &fstest.MapFile{Data: []byte(name)}
	}
	return fsys
}

// The threshold compares with the encoded size of the plain node: equal
// stays plain, one byte more shards. Links to non-empty sub-folders do
// not count; links to empty ones do.
func TestShardThreshold(t *testing.T) {
	plainSize := func(fsys fs.FS) int {
		tr := buildTree(t, fsys, unixfs.WithShardThreshold(1<<30))
		return len(tr.blocks[tr.root])
	}
	rootType := func(fsys fs.FS, threshold int) int64 {
		tr := buildTree(t, fsys, unixfs.WithShardThreshold(threshold))
		return nodeType(t, tr.blocks[tr.root])
	}
	files := manyFiles(40)
	size := plainSize(files)
	if got := rootType(files, size); got != directory {
		t.Errorf("files at the threshold: type %d, want a Directory", got)
	}
	if got := rootType(files, size-1); got != hamtShard {
		t.Errorf("files a byte above the threshold: type %d, want a HAMT", got)
	}

	withSub := manyFiles(40)
	withSub["zz/inside.txt"] = &fstest.MapFile{Data: []byte("not empty")}
	if plainSize(withSub) <= size {
		t.Fatal("the sub-folder's link adds nothing")
	}
	if got := rootType(withSub, size); got != directory {
		t.Errorf("files at the threshold and a non-empty sub-folder: type %d, want a Directory", got)
	}
	if got := rootType(withSub, size-1); got != hamtShard {
		t.Errorf("with a sub-folder, a byte above: type %d, want a HAMT", got)
	}

	withEmpty := manyFiles(40)
	withEmpty["zz"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
	emptySize := plainSize(withEmpty)
	if got := rootType(withEmpty, emptySize); got != directory {
		t.Errorf("with an empty sub-folder at the threshold: type %d, want a Directory", got)
	}
	if got := rootType(withEmpty, emptySize-1); got != hamtShard {
		t.Errorf("with an empty sub-folder, a byte above: type %d, want a HAMT (it counts)", got)
	}
}

// A HAMT of 3000 entries (threshold 0: every folder shards) has two
// levels; go-unixfsnode finds each name by its hash, every shard says
// fanout 256 and murmur3, and links are named by slot.
func TestHAMT(t *testing.T) {
	fsys := manyFiles(3000)
	fsys["sub/a.txt"] = &fstest.MapFile{Data: []byte("in a sharded sub-folder")}
	tr := buildTree(t, fsys, unixfs.WithShardThreshold(0))
	for name, f := range fsys {
		if c := tr.lookup(name); !c.Equals(fileCID(t, string(f.Data))) {
			t.Errorf("%s: %s", name, c)
		}
	}
	var shards, subShards, entries int
	var walk func(c cid.Cid, depth int)
	walk = func(c cid.Cid, depth int) {
		block := tr.blocks[c]
		_, ufs := decodeNode(t, block)
		if ufs.FieldDataType().Int() != hamtShard {
			return
		}
		shards++
		if ufs.FieldFanout().Must().Int() != 256 || ufs.FieldHashType().Must().Int() != 0x22 {
			t.Errorf("shard %s: fanout %d, hash %x", c, ufs.FieldFanout().Must().Int(), ufs.FieldHashType().Must().Int())
		}
		names, targets, tsizes := links(t, block)
		prev := ""
		for i, name := range names {
			if len(name) < 2 || strings.ToUpper(name[:2]) != name[:2] || name <= prev {
				t.Errorf("shard %s: link name %q after %q", c, name, prev)
			}
			prev = name
			if tsizes[i] != tr.tsize(targets[i]) {
				t.Errorf("shard %s: %s: Tsize %d, want %d", c, name, tsizes[i], tr.tsize(targets[i]))
			}
			if len(name) == 2 {
				subShards++
				walk(targets[i], depth+1)
			} else {
				entries++
			}
		}
	}
	walk(tr.root, 0)
	if subShards == 0 || entries != 3001 { // the files and sub
		t.Errorf("%d shards, %d below the root, %d entries", shards, subShards, entries)
	}
	if c := tr.lookup("sub"); nodeType(t, tr.blocks[c]) != hamtShard {
		t.Error("sub is not sharded at threshold 0")
	}
}

func TestUnsupportedEntries(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../a.txt", filepath.Join(dir, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fsys fs.FS
		path string
		msg  string
	}{
		{"symlink", os.DirFS(dir), "sub/link", "sub/link: a symbolic link: only regular files and folders can be packed"},
		{"pipe", fstest.MapFS{"x/fifo": {Mode: fs.ModeNamedPipe}}, "x/fifo", "a special file"},
		{"bad name", fstest.MapFS{"ok/\xff.txt": {Data: []byte("x")}}, "ok/\xff.txt", "name is not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := unixfs.BuildDirectory(tc.fsys, func(unixfs.Block) error { return nil })
			var ue *unixfs.UnsupportedError
			if !errors.As(err, &ue) || ue.Path != tc.path || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("BuildDirectory: %v, want an UnsupportedError for %s: %s", err, tc.path, tc.msg)
			}
			_, err = unixfs.Scan(tc.fsys)
			if !errors.As(err, &ue) || ue.Path != tc.path {
				t.Errorf("Scan: %v", err)
			}
		})
	}
}

func TestScan(t *testing.T) {
	st, err := unixfs.Scan(fstest.MapFS{
		"a.txt":     {Data: []byte("12345")},
		"b/c.txt":   {Data: []byte("123")},
		"b/d/e.txt": {},
		"empty":     {Mode: fs.ModeDir},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st != (unixfs.Stats{Files: 3, Folders: 4, Bytes: 8}) {
		t.Errorf("%+v", st)
	}
}
