package dag

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Errors a Source returns (wrapped), besides ErrCorrupt and its storage's
// own errors.
var (
	// ErrNotFound is a block the Source does not hold.
	ErrNotFound = errors.New("block not found")
	// ErrBadRecord is a block whose recorded location cannot be a
	// block's: a length over the block size limit, or an offset and
	// length past the largest file offset.
	ErrBadRecord = errors.New("impossible index record")
	// ErrInternal is a panic in the Source's own goroutines, which ends
	// the stream instead of the process.
	ErrInternal = errors.New("internal error")
)

// Source supplies verified blocks by multihash. Nothing it returns is
// unverified. containing, when not nil, names the DAG root the blocks
// belong to (a Source may find them faster through it). stats, when not
// nil, counts what the calls did. Safe for concurrent use.
type Source interface {
	// Block returns the verified bytes of the block mh.
	Block(ctx context.Context, mh, containing multihash.Multihash, stats *Stats) ([]byte, error)
	// Stream returns the verified blocks of cids, in order, read ahead
	// of the consumer.
	Stream(ctx context.Context, cids []cid.Cid, containing multihash.Multihash, stats *Stats) Stream
}

// Stream yields verified blocks in the order asked for. Next returns
// io.EOF after the last one; a stream cut short (its context done, a
// storage failure) returns that error, never io.EOF. Close must be called
// to release its resources.
type Stream interface {
	Next() (Block, error)
	// Recycle hands back a block the caller is done with: its memory
	// may be reused, so b.Data must not be used afterwards.
	Recycle(b Block)
	Close()
}

// Block is a block whose bytes were verified against its CID.
type Block struct {
	CID  cid.Cid
	Data []byte
}

// Stats counts what a Source did for a response.
type Stats struct {
	Reads     atomic.Int64 // ranged reads issued to storage
	ReadBytes atomic.Int64 // bytes those reads returned
	Blocks    atomic.Int64 // blocks verified and handed on
	Lookups   atomic.Int64 // index reads not answered from a cache
	Reclaims  atomic.Int64 // read-ahead given back because the response stalled
}
