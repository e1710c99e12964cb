// Package unixfs encodes a byte stream as a UnixFS file DAG laid out
// exactly as the JavaScript Hash Stream CLI lays it out (through
// @ipld/unixfs): CIDv1, sha2-256, fixed-size chunks stored as raw leaves,
// balanced dag-pb File nodes of at most Width links, and a file of one chunk
// stored as that single raw block. It encodes a folder tree as the IPIP-499
// profile unixfs-v1-2025 does (BuildDirectory): the same files, in plain
// Directory nodes or, above a size threshold, HAMT-sharded ones.
//
// Blocks are emitted in the order the JavaScript writer emits them, which is
// the order they go into packs: each leaf as it is read, each inner node as
// soon as the layout closes it, the root last. The same input therefore gives
// the same blocks, the same packs and the same index files.
package unixfs

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	"github.com/ipfs/go-unixfsnode/data/builder"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/multiformats/go-multihash"
)

// Defaults of the JavaScript Hash Stream CLI.
const (
	DefaultChunkSize = 1 << 20 // bytes per leaf
	DefaultWidth     = 1024    // links per File node
)

// Block is one encoded block. Data is only valid during the EmitFunc call
// that receives it.
type Block struct {
	CID  cid.Cid
	Data []byte
}

// EmitFunc receives each block of the DAG in order.
type EmitFunc func(Block) error

// Option configures BuildFile and BuildDirectory.
type Option func(*options)

type options struct {
	chunkSize      int
	width          int
	shardThreshold int
}

// WithChunkSize sets the size of the leaves (default DefaultChunkSize).
func WithChunkSize(n int) Option { return func(o *options) { o.chunkSize = n } }

// WithWidth sets the maximum number of links of a File node (default
// DefaultWidth).
func WithWidth(n int) Option { return func(o *options) { o.width = n } }

// link is a child as its parent sees it.
type link struct {
	cid         cid.Cid
	contentSize uint64 // file bytes below it
	dagSize     uint64 // encoded bytes of it and everything below (Tsize)
}

// BuildFile reads r to its end, emits every block of its UnixFS DAG in
// order, and returns the root CID and the file size.
func BuildFile(r io.Reader, emit EmitFunc, opts ...Option) (cid.Cid, uint64, error) {
	o, err := newOptions(opts)
	if err != nil {
		return cid.Undef, 0, err
	}
	l, err := buildFile(r, emit, o, new(buffers))
	return l.cid, l.contentSize, err
}

// buffers are the two chunk buffers of buildFile, allocated on first use
// and reused from one file to the next.
type buffers [2][]byte

func newOptions(opts []Option) (options, error) {
	o := options{chunkSize: DefaultChunkSize, width: DefaultWidth, shardThreshold: DefaultShardThreshold}
	for _, opt := range opts {
		opt(&o)
	}
	if o.chunkSize <= 0 || o.width < 2 || o.shardThreshold < 0 {
		return o, fmt.Errorf("unixfs: bad options: chunk size %d, width %d, shard threshold %d", o.chunkSize, o.width, o.shardThreshold)
	}
	return o, nil
}

// buildFile is BuildFile returning the root as its parent links to it.
func buildFile(r io.Reader, emit EmitFunc, o options, bufs *buffers) (link, error) {
	b := &balanced{width: o.width, emit: emit}
	// Two buffers: the first chunk is held back (as "head") until a second
	// one shows the file has more than one leaf.
	for i := range bufs {
		if len(bufs[i]) != o.chunkSize {
			bufs[i] = make([]byte, o.chunkSize)
		}
	}
	for i := 0; ; i++ {
		buf := bufs[i%2]
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if werr := b.write(buf[:n]); werr != nil {
				return link{}, werr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return link{}, fmt.Errorf("unixfs: read: %w", err)
		}
	}
	return b.close()
}

// balanced is the balanced layout of @ipld/unixfs: leaves collect in the
// first row; once a row holds more than width items, its first width items
// become a node in the row above. Closing turns every remaining row but the
// top one into nodes; the top row becomes the root.
type balanced struct {
	width  int
	emit   EmitFunc
	head   []byte // first chunk, held until a second arrives
	leaves []link
	rows   [][]link
	any    bool // a chunk was written
}

func (b *balanced) write(chunk []byte) error {
	if !b.any {
		b.any = true
		b.head = chunk
		return nil
	}
	if b.head != nil {
		if err := b.addLeaf(b.head); err != nil {
			return err
		}
		b.head = nil
	}
	if err := b.addLeaf(chunk); err != nil {
		return err
	}
	if len(b.leaves) > b.width {
		return b.flush(false)
	}
	return nil
}

func (b *balanced) addLeaf(chunk []byte) error {
	l, err := b.emitLeaf(chunk)
	if err != nil {
		return err
	}
	b.leaves = append(b.leaves, l)
	return nil
}

func (b *balanced) emitLeaf(chunk []byte) (link, error) {
	c, err := sum(cid.Raw, chunk)
	if err != nil {
		return link{}, err
	}
	if err := b.emit(Block{CID: c, Data: chunk}); err != nil {
		return link{}, err
	}
	return link{cid: c, contentSize: uint64(len(chunk)), dagSize: uint64(len(chunk))}, nil
}

func (b *balanced) flush(closing bool) error {
	for len(b.leaves) > b.width || (closing && len(b.leaves) > 0) {
		n := min(b.width, len(b.leaves))
		if err := b.addNode(0, b.leaves[:n]); err != nil {
			return err
		}
		b.leaves = append(b.leaves[:0], b.leaves[n:]...)
	}
	for d := 0; d < len(b.rows); d++ {
		for len(b.rows[d]) > b.width || (closing && len(b.rows[d]) > 0 && d+1 < len(b.rows)) {
			n := min(b.width, len(b.rows[d]))
			if err := b.addNode(d+1, b.rows[d][:n]); err != nil {
				return err
			}
			b.rows[d] = append(b.rows[d][:0], b.rows[d][n:]...)
		}
	}
	return nil
}

// addNode emits a File node over children and appends it to row d.
func (b *balanced) addNode(d int, children []link) error {
	l, err := b.emitNode(children)
	if err != nil {
		return err
	}
	for len(b.rows) <= d {
		b.rows = append(b.rows, nil)
	}
	b.rows[d] = append(b.rows[d], l)
	return nil
}

func (b *balanced) close() (link, error) {
	if b.head != nil || !b.any {
		// One chunk, or none: the file is a single raw block.
		return b.emitLeaf(b.head)
	}
	if err := b.flush(true); err != nil {
		return link{}, err
	}
	top := b.rows[len(b.rows)-1]
	if len(top) == 1 {
		return top[0], nil
	}
	return b.emitNode(top)
}

func (b *balanced) emitNode(children []link) (link, error) {
	enc, err := encodeFileNode(children)
	if err != nil {
		return link{}, err
	}
	c, err := sum(cid.DagProtobuf, enc)
	if err != nil {
		return link{}, err
	}
	if err := b.emit(Block{CID: c, Data: enc}); err != nil {
		return link{}, err
	}
	l := link{cid: c, dagSize: uint64(len(enc))}
	for _, ch := range children {
		l.contentSize += ch.contentSize
		l.dagSize += ch.dagSize
	}
	return l, nil
}

// encodeFileNode returns the dag-pb bytes of a UnixFS File node over
// children: links with an empty name and Tsize, and Data holding the file
// size and each child's size.
func encodeFileNode(children []link) ([]byte, error) {
	sizes := make([]uint64, len(children))
	links := make([]namedLink, len(children))
	var total uint64
	for i, ch := range children {
		sizes[i] = ch.contentSize
		total += ch.contentSize
		links[i] = namedLink{link: ch}
	}
	ufs, err := builder.BuildUnixFS(func(b *builder.Builder) {
		builder.DataType(b, data.Data_File)
		builder.FileSize(b, total)
		builder.BlockSizes(b, sizes)
	})
	if err != nil {
		return nil, fmt.Errorf("unixfs: build node data: %w", err)
	}
	return encodeNode(links, data.EncodeUnixFSData(ufs))
}

// namedLink is a link of a dag-pb node: a child under a name.
type namedLink struct {
	name string
	link
}

// encodeNode returns the dag-pb bytes of a node with these links, in this
// order (dag-pb wants them sorted by name: the caller sorts), and this
// UnixFS Data.
func encodeNode(links []namedLink, ufsData []byte) ([]byte, error) {
	nb := dagpb.Type.PBNode.NewBuilder()
	err := func() error {
		ma, err := nb.BeginMap(2)
		if err != nil {
			return err
		}
		la, err := ma.AssembleEntry("Links")
		if err != nil {
			return err
		}
		list, err := la.BeginList(int64(len(links)))
		if err != nil {
			return err
		}
		for _, l := range links {
			pl, err := builder.BuildUnixFSDirectoryEntry(l.name, int64(l.dagSize), cidlink.Link{Cid: l.cid})
			if err != nil {
				return err
			}
			if err := list.AssembleValue().AssignNode(pl); err != nil {
				return err
			}
		}
		if err := list.Finish(); err != nil {
			return err
		}
		if err := assembleBytes(ma, "Data", ufsData); err != nil {
			return err
		}
		return ma.Finish()
	}()
	if err != nil {
		return nil, fmt.Errorf("unixfs: build node: %w", err)
	}
	enc, err := dagpb.AppendEncode(nil, nb.Build())
	if err != nil {
		return nil, fmt.Errorf("unixfs: encode node: %w", err)
	}
	return enc, nil
}

func assembleBytes(ma datamodel.MapAssembler, key string, v []byte) error {
	va, err := ma.AssembleEntry(key)
	if err != nil {
		return err
	}
	return va.AssignBytes(v)
}

// sum returns the CIDv1 of data with the given codec and sha2-256.
func sum(codec uint64, data []byte) (cid.Cid, error) {
	d := sha256.Sum256(data)
	mh, err := multihash.Encode(d[:], multihash.SHA2_256)
	if err != nil {
		return cid.Undef, err
	}
	return cid.NewCidV1(codec, mh), nil
}
