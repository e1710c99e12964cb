package index

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// DefaultMaxBlockBytes is the longest block an index record may give, for
// readers and writers alike: the streamer refuses a record giving a longer
// length before it allocates anything for it, so the writers (pack write,
// pack import, index add, store copy, the S3 indexer) refuse such a block
// before they store anything. Our writers make leaves of 1 MiB and nodes
// of at most a few hundred KiB, and the IPFS network moves blocks of at
// most 2 MiB.
const DefaultMaxBlockBytes = 4 << 20

// The environment variables that set the limits in the Lambda functions:
// the gateway reads with them, and the indexer, given the same values,
// writes nothing the gateway refuses.
const (
	EnvMaxBlockBytes     = "HASH_STREAM_MAX_BLOCK_BYTES"
	EnvMaxIndexFileBytes = "HASH_STREAM_MAX_INDEX_FILE_BYTES"
)

// Errors of content the readers would refuse: ErrOverLimit, and which
// limit it is over (each wraps ErrOverLimit).
var (
	ErrOverLimit = errors.New("over the readers' limits")
	// ErrBlockOverLimit is a block over the block limit.
	ErrBlockOverLimit = fmt.Errorf("%w: block too long", ErrOverLimit)
	// ErrIndexOverLimit is blocks whose index would need a file over the
	// index file cap.
	ErrIndexOverLimit = fmt.Errorf("%w: index too large", ErrOverLimit)
)

// Limits are the bounds the readers put on what the writers write. A
// writer that checks them stores nothing a reader would refuse: a reader
// with the same limits serves everything it indexes.
type Limits struct {
	// MaxBlockBytes is the longest block a record may give
	// (DefaultMaxBlockBytes).
	MaxBlockBytes int64
	// MaxFileBytes is the largest index file (store.DefaultMaxIndexFileBytes,
	// which every store applies when it reads).
	MaxFileBytes int64
}

// DefaultLimits returns the limits readers apply unless configured
// otherwise.
func DefaultLimits() Limits {
	return Limits{MaxBlockBytes: DefaultMaxBlockBytes, MaxFileBytes: store.DefaultMaxIndexFileBytes}
}

// OrDefault returns l with each field that is 0 or less set to its
// default.
func (l Limits) OrDefault() Limits {
	d := DefaultLimits()
	if l.MaxBlockBytes <= 0 {
		l.MaxBlockBytes = d.MaxBlockBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	return l
}

// CheckBlock returns an error wrapping ErrBlockOverLimit when a block of length
// bytes is over the block limit.
func (l Limits) CheckBlock(length uint64) error {
	l = l.OrDefault()
	if length > uint64(l.MaxBlockBytes) {
		return fmt.Errorf("%w: %d bytes, over the %d-byte block limit", ErrBlockOverLimit, length, l.MaxBlockBytes)
	}
	return nil
}

// sha256Len is the length of a sha2-256 multihash, the hash of every block
// our writers make and of every pack.
const sha256Len = 34

// MaxBlobs returns how many blobs of sha2-256 blocks in sha2-256 packs the
// CONTAINING record of one DAG can hold at most within the file cap, each
// at its smallest (one-digit offset and length): a DAG of more blocks is
// refused whatever their sizes, so a writer that knows a lower bound of
// its block count refuses it before it reads anything.
func (l Limits) MaxBlobs() int {
	l = l.OrDefault()
	room := l.MaxFileBytes - int64(fileBytes(sha256Len, 0)) - int64(packBytes(sha256Len, 0))
	per := int64(blobBytes(sha256Len, sha256Len, 0, 0)) + 1 // and its comma
	return int(max(room+1, 0) / per)
}

// Tally adds up, blob by blob, the size of the largest index file the
// writers would write for a DAG: the multiple-level writer's CONTAINING
// record, which holds a PACK record of each pack with a BLOB record of
// each blob, or without a containing multihash the largest of its PACK
// records, each a file of its own. It is exact for blobs given in pack
// order, as the pack writers and Scan give them, and an upper bound
// otherwise. The single-level writer's files are small whatever the DAG.
//
// A writer tallies each blob before it stores anything of it, so the
// first blob over a limit stops the write.
type Tally struct {
	limits        Limits
	containingLen int   // 0: no containing record
	subs          int64 // bytes of the PACK records so far, with commas
	pack          int64 // bytes of the current PACK record, 0 when none
	packLen       int   // length of the current pack's multihash
	largest       int64 // the largest PACK record closed so far
	blobs         int   // in the current pack
}

// NewTally returns a Tally of limits for the blobs of a DAG whose
// CONTAINING record is stored under a multihash of containingLen bytes (0:
// none, each PACK record is a file).
func NewTally(limits Limits, containingLen int) *Tally {
	return &Tally{limits: limits.OrDefault(), containingLen: containingLen}
}

// Pack starts the blobs of another pack, named by a multihash of packLen
// bytes.
func (t *Tally) Pack(packLen int) {
	t.closePack()
	t.pack, t.packLen, t.blobs = int64(packBytes(packLen, 0)), packLen, 0
}

func (t *Tally) closePack() {
	if t.pack == 0 {
		return
	}
	if t.subs > 0 {
		t.subs++ // the comma
	}
	t.subs += t.pack
	t.largest = max(t.largest, t.pack)
	t.pack = 0
}

// Blob counts the blob mh at offset and length of the current pack. It
// returns an error wrapping ErrBlockOverLimit when the blob is over the
// block limit, or ErrIndexOverLimit when the largest index file would pass
// the cap with it; the blob is not counted then.
func (t *Tally) Blob(mh multihash.Multihash, offset, length uint64) error {
	if err := t.limits.CheckBlock(length); err != nil {
		return err
	}
	if t.pack == 0 {
		return errors.New("index: tally: a blob before its pack")
	}
	n := int64(blobBytes(len(mh), t.packLen, offset, length))
	if t.blobs > 0 {
		n++ // the comma
	}
	if size := t.fileBytes(t.pack + n); size > t.limits.MaxFileBytes {
		return fmt.Errorf("%w: the blocks so far would take an index file of %d bytes, over the %d-byte cap",
			ErrIndexOverLimit, size, t.limits.MaxFileBytes)
	}
	t.pack += n
	t.blobs++
	return nil
}

// Bytes returns the size of the largest index file of the blobs counted.
func (t *Tally) Bytes() int64 { return t.fileBytes(t.pack) }

// fileBytes returns the size of the largest file with pack bytes as the
// current PACK record.
func (t *Tally) fileBytes(pack int64) int64 {
	if t.containingLen == 0 {
		return int64(fileBytes(0, 0)) + max(t.largest, pack)
	}
	subs := t.subs
	if pack > 0 {
		if subs > 0 {
			subs++
		}
		subs += pack
	}
	return int64(fileBytes(t.containingLen, 0)) + subs
}

// The sizes below are those of the stored form Encode writes (DAG-JSON,
// keys sorted, no spaces); TestTallyMatchesEncode checks them.

// bytesLen is the size of a bytes value of n bytes: {"/":{"bytes":"…"}}.
func bytesLen(n int) int {
	return len(`{"/":{"bytes":"`) + base64.RawStdEncoding.EncodedLen(n) + len(`"}}`)
}

// blobBytes is the size of a BLOB record.
func blobBytes(mhLen, packLen int, offset, length uint64) int {
	return len(`{"length":`) + digits(length) + len(`,"location":`) + bytesLen(packLen) +
		len(`,"multihash":`) + bytesLen(mhLen) + len(`,"offset":`) + digits(offset) +
		len(`,"subRecords":[],"type":0}`)
}

// packBytes is the size of a PACK record whose sub-records take subs
// bytes (commas included).
func packBytes(packLen, subs int) int {
	return len(`{"location":`) + 2*bytesLen(packLen) + len(`,"multihash":`) + len(`,"subRecords":[`) + subs + len(`],"type":1}`)
}

// fileBytes is the size of a CONTAINING file whose record is stored under a
// multihash of containingLen bytes (0: the file of a PACK record, which
// comes as subs) and whose sub-records take subs bytes.
func fileBytes(containingLen, subs int) int {
	wrap := len(`{"data":`) + len(`,"type":"`+TypeContaining+`"}`)
	if containingLen == 0 {
		return wrap + subs
	}
	return wrap + len(`{"location":`) + 2*bytesLen(containingLen) + len(`,"multihash":`) + len(`,"subRecords":[`) + subs + len(`],"type":2}`)
}

func digits(n uint64) int { return len(strconv.FormatUint(n, 10)) }
