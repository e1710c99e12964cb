// Package store declares the two storage interfaces of Hash Stream, the
// index store and the pack store, and the key scheme every backend shares.
//
// Backends live in their own packages (fs, s3, memory) and are wired
// together by the programs in cmd/ and functions/. Nothing in lib/ imports a
// backend.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// ErrNotFound is returned (wrapped) by every backend for a missing key.
var ErrNotFound = errors.New("not found")

// DefaultPackExtension is the file extension of packs stored under a
// multihash, as the JavaScript Hash Stream writes them.
const DefaultPackExtension = ".car"

// ErrTooLarge is returned (wrapped) in IndexFile.Err for an index file over
// its store's size cap.
var ErrTooLarge = errors.New("index file too large")

// ErrExist is returned (wrapped) by IndexLister.PutNamed for a timestamp
// name that is taken.
var ErrExist = errors.New("already exists")

// ErrUnexpectedKey is wrapped in the Err of a listed entry that is not
// shaped as the store's layout says.
var ErrUnexpectedKey = errors.New("unexpected key")

// DefaultMaxIndexFileBytes is the size cap of one index file that every
// backend applies unless configured otherwise (their WithMaxIndexFileBytes
// options). An index file is read whole and decoded into memory, so an
// unbounded one could take the process down. Decoding a file at the cap (a
// CONTAINING record of about 315,000 blocks) peaks at about 4.3 times its
// size in RSS, 288 MB (index.BenchmarkDecodeContaining), which fits a
// 1 GiB Lambda beside its buffers and index cache.
const DefaultMaxIndexFileBytes = 64 << 20

// IndexFile is one stored index file: its name (for errors and logs) and
// its bytes, or why they could not be read.
type IndexFile struct {
	Name string
	Data []byte
	// Err, when not nil, says why the file could not be read, naming it:
	// over the size cap (ErrTooLarge), or a storage error. Data is nil
	// then. One bad file does not fail Files: the reader uses the others.
	Err error
}

// TooLarge returns the error of an index file of size bytes over the cap
// of max bytes; backends wrap it with the file's name.
func TooLarge(size, max int64) error {
	return fmt.Errorf("%w: %d bytes, over the %d-byte cap", ErrTooLarge, size, max)
}

// IndexStore holds index files. Each file belongs to the multihash it
// describes; several files may describe one multihash and a reader must read
// them all. Index files are immutable once written.
type IndexStore interface {
	// Files returns every index file stored for mh, ordered by name. It
	// returns an error wrapping ErrNotFound when there is none. A file that
	// cannot be read, or is over the store's size cap (checked before its
	// bytes are read), is returned with its Err set instead of failing
	// the call; the call fails when its context ends or the files cannot
	// be listed.
	Files(ctx context.Context, mh multihash.Multihash) ([]IndexFile, error)

	// Put stores one index file for mh. When sub is not nil the file is
	// named after it (the multihash of the record's first sub-record) and
	// replaces a file of that name; when sub is nil the file gets a new
	// timestamp name (milliseconds since the epoch) that never replaces an
	// existing file.
	Put(ctx context.Context, mh, sub multihash.Multihash, data []byte) error
}

// IndexEntry is one index file found by IndexLister.List: the multihash
// whose folder holds it and its name there, which is the same in every
// backend (see IndexName). Size is its size in bytes, or -1 when the
// listing does not say.
//
// An object that is not shaped as the store's layout says (a stray file, a
// key that is not k(mh), a folder of path-located packs) is listed with Err
// set, wrapping ErrUnexpectedKey, and Key naming it; Multihash and Name are
// then empty. Callers skip such entries.
type IndexEntry struct {
	Multihash multihash.Multihash
	Name      string
	Size      int64
	Key       string // the object key or file name in the backend
	Err       error
}

// IndexLister is an IndexStore whose files can be listed, and read and
// written by name: what copying a store to another backend needs. Every
// backend implements it.
type IndexLister interface {
	IndexStore

	// List calls fn for every index file in the store, in no particular
	// order, reading every page of a paged listing. It stops at, and
	// returns, the first error of fn or of the listing.
	List(ctx context.Context, fn func(IndexEntry) error) error

	// Get returns the index file name of mh, read under the store's size
	// cap; a missing file is an error wrapping ErrNotFound.
	Get(ctx context.Context, mh multihash.Multihash, name string) ([]byte, error)

	// PutNamed stores data as the index file name of mh (a name that
	// CheckIndexName accepts), mapped to the backend's layout as Put maps
	// its names. A sub-record name replaces a file of that name, as Put
	// does; a timestamp name never replaces one: when it is taken the
	// error wraps ErrExist.
	PutNamed(ctx context.Context, mh multihash.Multihash, name string, data []byte) error
}

// PackEntry is one pack found by PackLister.List: its multihash and size.
// An object that is not shaped as a pack stored by multihash (a
// path-located pack, a stray file) is listed with Err set, wrapping
// ErrUnexpectedKey, and Key naming it.
type PackEntry struct {
	Multihash multihash.Multihash
	Size      int64
	Key       string // the object key or file name in the backend
	Err       error
}

// PackLister is a PackStore whose packs stored by multihash can be listed
// and sized. Every backend implements it.
type PackLister interface {
	PackStore

	// List calls fn for every pack in the store, in no particular order,
	// reading every page of a paged listing. It stops at, and returns, the
	// first error of fn or of the listing.
	List(ctx context.Context, fn func(PackEntry) error) error

	// Stat returns the size of the pack mh; a missing pack is an error
	// wrapping ErrNotFound.
	Stat(ctx context.Context, mh multihash.Multihash) (int64, error)
}

// Location says where a pack is: by its multihash, or by a path relative to
// the pack store (records written by other tools may carry a path).
type Location struct {
	Multihash multihash.Multihash
	Path      string
}

// String returns the location's key or path, for errors and logs.
func (l Location) String() string {
	if l.Multihash != nil {
		return Key(l.Multihash)
	}
	return l.Path
}

// BlobLocation says where a blob's bytes are: Length bytes at Offset of
// the pack at Pack.
type BlobLocation struct {
	Pack   Location
	Offset uint64
	Length uint64
}

// PackStore holds packs: immutable byte strings (CAR files) addressed by
// the multihash of their bytes.
type PackStore interface {
	// Put stores size bytes read from r as the pack mh. The pack appears
	// whole or not at all.
	Put(ctx context.Context, mh multihash.Multihash, r io.Reader, size int64) error

	// GetRange returns a reader over length bytes of the pack at loc,
	// starting at offset. A negative length reads to the end of the pack.
	// A range that runs past the end of the pack yields fewer bytes, which
	// callers detect as io.ErrUnexpectedEOF. A missing pack is an error
	// wrapping ErrNotFound.
	GetRange(ctx context.Context, loc Location, offset, length int64) (io.ReadCloser, error)
}

// SpoolingPackStore is a PackStore on a local file system that lets a
// writer build a pack in a file of the store's own and then take that file
// as it is (a rename), instead of copying it through Put.
type SpoolingPackStore interface {
	PackStore

	// CreateSpool creates an empty temporary file in the store, ignored by
	// readers until adopted.
	CreateSpool() (*os.File, error)

	// Adopt makes the first size bytes of f, a file from CreateSpool, the
	// pack mh, and closes f. The pack appears whole or not at all; on error
	// f is removed.
	Adopt(ctx context.Context, mh multihash.Multihash, f *os.File, size int64) error
}

// Key returns the storage key of a multihash: the base32 string of a CIDv1
// with the raw codec over it (bafkrei... for sha2-256), whatever the codec of
// the block behind it. Every Hash Stream store uses this form.
func Key(mh multihash.Multihash) string {
	return cid.NewCidV1(cid.Raw, mh).String()
}

// ParseKey returns the multihash in a key made by Key. It accepts any CID
// string, since only its multihash matters.
func ParseKey(key string) (multihash.Multihash, error) {
	c, err := cid.Decode(key)
	if err != nil {
		return nil, fmt.Errorf("store: bad key %q: %w", key, err)
	}
	return c.Hash(), nil
}
