package unixfs

import (
	"fmt"
	"io/fs"
	"path"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	"github.com/ipfs/go-unixfsnode/data/builder"
	"github.com/multiformats/go-varint"
	"github.com/spaolacci/murmur3"
)

// Directory layout of the IPIP-499 profile unixfs-v1-2025, as
// ipfs-unixfs-importer 17.1.1 builds it with that profile.
const (
	// DefaultShardThreshold is the size in bytes above which a directory
	// becomes a HAMT (shardSplitThresholdBytes, 256 KiB).
	DefaultShardThreshold = 262144
	// ShardFanout is the number of slots of a HAMT node: each level of
	// the HAMT consumes one byte of the name's hash.
	ShardFanout = 256
	// hashMurmur3 is the multicodec of murmur3-x64-64, the HAMT's hash.
	hashMurmur3 = 0x22
)

// WithShardThreshold sets the directory size in bytes above which a
// directory is HAMT-sharded (default DefaultShardThreshold).
func WithShardThreshold(n int) Option { return func(o *options) { o.shardThreshold = n } }

// UnsupportedError reports an entry of a directory tree that is neither a
// regular file nor a folder (a symbolic link, a device, a socket...), or
// whose name UnixFS cannot hold.
type UnsupportedError struct {
	Path   string // slash-separated, relative to the root of the tree
	Mode   fs.FileMode
	Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: %s: only regular files and folders can be packed", e.Path, e.Reason)
}

// Stats counts what a directory tree holds.
type Stats struct {
	Files, Folders int   // Folders counts the root too
	Bytes          int64 // of the files
}

// Scan walks the tree of fsys as BuildDirectory does, without reading any
// file, and returns what it holds. It fails, as BuildDirectory would, on
// the first entry that is not a regular file or a folder (an
// *UnsupportedError).
func Scan(fsys fs.FS) (Stats, error) {
	var st Stats
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := check(p, d); err != nil {
			return err
		}
		if d.IsDir() {
			st.Folders++
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st.Files++
		st.Bytes += info.Size()
		return nil
	})
	return st, err
}

// check refuses an entry BuildDirectory cannot encode.
func check(p string, d fs.DirEntry) error {
	switch {
	case !utf8.ValidString(d.Name()):
		return &UnsupportedError{Path: p, Mode: d.Type(), Reason: "name is not valid UTF-8"}
	case d.IsDir() || d.Type().IsRegular():
		return nil
	case d.Type()&fs.ModeSymlink != 0:
		return &UnsupportedError{Path: p, Mode: d.Type(), Reason: "a symbolic link"}
	}
	return &UnsupportedError{Path: p, Mode: d.Type(), Reason: fmt.Sprintf("a special file (%s)", d.Type())}
}

// BuildDirectory encodes the tree of fsys (from its root ".") as a UnixFS
// directory DAG laid out as the IPIP-499 profile unixfs-v1-2025 lays it
// out, which is what ipfs-unixfs-importer 17.1.1 builds with that profile
// and wrapWithDirectory, given the files and the empty folders of the
// tree: each file as BuildFile encodes it (CIDv1, 1 MiB raw leaves,
// 1024-link nodes, a one-chunk file is one raw block), each folder as a
// dag-pb Directory node with one link per entry (named, with its Tsize,
// sorted by name bytes), no mode and no mtime; or, when the folder's size
// exceeds the threshold (see WithShardThreshold), as a HAMT of
// HAMTShard nodes (fanout 256, murmur3-x64-64 of the names, link names
// made of the slot in two upper-case hex digits, followed by the entry
// name for an entry).
//
// The size compared with the threshold is the importer's: the encoded
// bytes of the Directory node, counting only the links to files and to
// empty folders. The importer adds entries one by one and tests the size
// before a sub-folder is complete, when its link is not known yet: such
// a link counts for nothing, so a folder of many non-empty sub-folders
// stays a plain Directory even when its node is larger than the
// threshold. The same rule here gives the same CIDs.
//
// Entries must be regular files or folders: a symbolic link or any other
// kind of file is an *UnsupportedError naming its path, and so is a name
// that is not valid UTF-8. Files are read in name order, one at a time,
// and stream through emit (their contents are never held). Blocks are
// emitted depth first in name order: each file's blocks as BuildFile emits
// them, a folder's node (or its HAMT nodes, each after its children) after
// everything below it, the root last. The same tree gives the same blocks
// in the same order.
func BuildDirectory(fsys fs.FS, emit EmitFunc, opts ...Option) (cid.Cid, error) {
	o, err := newOptions(opts)
	if err != nil {
		return cid.Undef, err
	}
	d := &dirBuilder{fsys: fsys, emit: emit, o: o}
	l, _, err := d.dir(".")
	return l.cid, err
}

type dirBuilder struct {
	fsys fs.FS
	emit EmitFunc
	o    options
	bufs buffers // shared by the files, read one at a time
}

// entry is a child of a directory.
type entry struct {
	namedLink
	counted bool // in the shard threshold's size: a file or an empty folder
}

// dir emits the DAG of the folder p and returns the link to its root and
// whether the folder is empty.
func (d *dirBuilder) dir(p string) (link, bool, error) {
	des, err := fs.ReadDir(d.fsys, p) // sorted by name: the order of the links
	if err != nil {
		return link{}, false, fmt.Errorf("unixfs: %w", err)
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		cp := path.Join(p, de.Name())
		if err := check(cp, de); err != nil {
			return link{}, false, err
		}
		var l link
		counted := true // a file, or an empty folder
		if de.IsDir() {
			l, counted, err = d.dir(cp)
		} else {
			l, err = d.file(cp)
		}
		if err != nil {
			return link{}, false, err
		}
		entries = append(entries, entry{namedLink{de.Name(), l}, counted})
	}
	ufs := dirData()
	var l link
	if dirSize(entries, len(ufs)) > d.o.shardThreshold {
		l, err = d.hamt(entries)
	} else {
		links := make([]namedLink, len(entries))
		for i, e := range entries {
			links[i] = e.namedLink
		}
		l, err = d.emitNode(links, ufs)
	}
	return l, len(entries) == 0, err
}

func (d *dirBuilder) file(p string) (link, error) {
	f, err := d.fsys.Open(p)
	if err != nil {
		return link{}, fmt.Errorf("unixfs: %w", err)
	}
	defer f.Close()
	// Checked again on the open file: the tree may change under us.
	if info, err := f.Stat(); err != nil {
		return link{}, fmt.Errorf("unixfs: %w", err)
	} else if !info.Mode().IsRegular() {
		return link{}, &UnsupportedError{Path: p, Mode: info.Mode().Type(), Reason: "no longer a regular file"}
	}
	l, err := buildFile(f, d.emit, d.o, &d.bufs)
	if err != nil {
		return link{}, fmt.Errorf("unixfs: %s: %w", p, err)
	}
	return l, nil
}

// emitNode encodes and emits a node and returns the link to it, whose
// Tsize covers the node and everything below.
func (d *dirBuilder) emitNode(links []namedLink, ufs []byte) (link, error) {
	enc, err := encodeNode(links, ufs)
	if err != nil {
		return link{}, err
	}
	c, err := sum(cid.DagProtobuf, enc)
	if err != nil {
		return link{}, err
	}
	if err := d.emit(Block{CID: c, Data: enc}); err != nil {
		return link{}, err
	}
	l := link{cid: c, dagSize: uint64(len(enc))}
	for _, ch := range links {
		l.dagSize += ch.dagSize
	}
	return l, nil
}

func dirData() []byte {
	ufs, err := builder.BuildUnixFS(func(b *builder.Builder) { builder.DataType(b, data.Data_Directory) })
	if err != nil {
		panic(err) // constant input
	}
	return data.EncodeUnixFSData(ufs)
}

// dirSize is the importer's size of a Directory node with these entries
// (its estimateNodeSize with the block-bytes strategy): the encoded node,
// less the links that are not counted.
func dirSize(entries []entry, dataLen int) int {
	// A protobuf field of n bytes: a one-byte tag, n as a varint, n bytes.
	field := func(n int) int { return 1 + varint.UvarintSize(uint64(n)) + n }
	size := field(dataLen)
	for _, e := range entries {
		if e.counted {
			size += field(field(e.cid.ByteLen()) + field(len(e.name)) + 1 + varint.UvarintSize(e.dagSize))
		}
	}
	return size
}

// shard is one node of a HAMT: each slot is empty, an entry or a shard.
type shard struct {
	depth int
	slots [ShardFanout]any // nil, *entry or *shard
}

// hamt emits a HAMT holding entries and returns the link to its root.
func (d *dirBuilder) hamt(entries []entry) (link, error) {
	root := &shard{}
	for i := range entries {
		if err := root.add(&entries[i], hashName(entries[i].name)); err != nil {
			return link{}, err
		}
	}
	return d.emitShard(root)
}

func hashName(name string) uint64 { return murmur3.Sum64([]byte(name)) }

// add puts e, whose name hashes to h, in the slot of the hash's byte at
// the shard's depth; two entries in one slot move down into a shard of
// their own, one level deeper.
func (s *shard) add(e *entry, h uint64) error {
	if s.depth >= 8 {
		return fmt.Errorf("unixfs: HAMT: the names %q and others have the same 64-bit hash", e.name)
	}
	i := byte(h >> (56 - 8*s.depth))
	switch cur := s.slots[i].(type) {
	case nil:
		s.slots[i] = e
	case *shard:
		return cur.add(e, h)
	case *entry:
		sub := &shard{depth: s.depth + 1}
		if err := sub.add(cur, hashName(cur.name)); err != nil {
			return err
		}
		s.slots[i] = sub
		return sub.add(e, h)
	}
	return nil
}

// emitShard emits the shards below s in slot order, then s.
func (d *dirBuilder) emitShard(s *shard) (link, error) {
	var links []namedLink
	var bitfield [ShardFanout / 8]byte // big-endian: slot i is bit i%8 of byte len-1-i/8
	for i, slot := range s.slots {
		var nl namedLink
		switch v := slot.(type) {
		case nil:
			continue
		case *entry:
			nl = namedLink{fmt.Sprintf("%02X%s", i, v.name), v.link}
		case *shard:
			l, err := d.emitShard(v)
			if err != nil {
				return link{}, err
			}
			nl = namedLink{fmt.Sprintf("%02X", i), l}
		}
		links = append(links, nl)
		bitfield[len(bitfield)-1-i/8] |= 1 << (i % 8)
	}
	bits := bitfield[:]
	for len(bits) > 1 && bits[0] == 0 { // leading zero bytes dropped, as go-bitfield and the importer do
		bits = bits[1:]
	}
	ufs, err := builder.BuildUnixFS(func(b *builder.Builder) {
		builder.DataType(b, data.Data_HAMTShard)
		builder.Data(b, bits)
		builder.HashType(b, hashMurmur3)
		builder.Fanout(b, ShardFanout)
	})
	if err != nil {
		return link{}, fmt.Errorf("unixfs: build HAMT data: %w", err)
	}
	return d.emitNode(links, data.EncodeUnixFSData(ufs))
}
