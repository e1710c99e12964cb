package index

import (
	"context"
	"errors"
	"fmt"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
	"golang.org/x/sync/errgroup"
)

// PackedBlob is a blob just written into a pack: its multihash and where
// its bytes are (store.BlobLocation, the one blob-location type). The
// writers index packs named by multihash, as the pack writers store them.
type PackedBlob struct {
	Multihash multihash.Multihash
	store.BlobLocation
}

// Writer writes the index records of blobs just stored in packs.
type Writer interface {
	// Add indexes blobs, given in pack order and in CAR order within a
	// pack. containing, when not nil, is the root of the DAG they form.
	Add(ctx context.Context, blobs []PackedBlob, containing multihash.Multihash) error
}

var (
	_ Writer = (*SingleLevelWriter)(nil)
	_ Writer = (*MultipleLevelWriter)(nil)
)

// SingleLevelWriter writes one BLOB record for each blob under the blob's
// own multihash, then one PACK record for each pack under the pack's
// multihash (type "index/blob@0.1"). Every block can then be found on its
// own, which is what block-by-block clients need.
type SingleLevelWriter struct {
	store      store.IndexStore
	skipStored bool
}

// SingleLevelOption configures a SingleLevelWriter.
type SingleLevelOption func(*SingleLevelWriter)

// NewSingleLevelWriter returns a SingleLevelWriter writing to s.
func NewSingleLevelWriter(s store.IndexStore, opts ...SingleLevelOption) *SingleLevelWriter {
	w := &SingleLevelWriter{store: s}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Add implements Writer. containing is not used by this writer. The
// files are independent, so they are written concurrently
// (WriteConcurrency at a time): a store that syncs each file then shares
// its disk flushes.
func (w *SingleLevelWriter) Add(ctx context.Context, blobs []PackedBlob, _ multihash.Multihash) error {
	if err := checkPacked(blobs); err != nil {
		return err
	}
	var packs []multihash.Multihash
	seen := make(map[string]bool)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(WriteConcurrency)
	for _, b := range blobs {
		g.Go(func() error {
			return w.put(gctx, b.Multihash, NewBlob(b.Multihash, b.Pack.Multihash, b.Offset, b.Length))
		})
		if !seen[string(b.Pack.Multihash)] {
			seen[string(b.Pack.Multihash)] = true
			packs = append(packs, b.Pack.Multihash)
		}
	}
	// PACK records after all BLOB records, as the JavaScript writer orders them.
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(WriteConcurrency)
	for _, p := range packs {
		g.Go(func() error { return w.put(gctx, p, NewPack(p, nil)) })
	}
	return g.Wait()
}

// put writes r, the record of mh, unless SkipStored is set and mh has it
// already.
func (w *SingleLevelWriter) put(ctx context.Context, mh multihash.Multihash, r Record) error {
	if w.skipStored {
		stored, err := hasSingleLevel(ctx, w.store, mh, r)
		if err != nil || stored {
			return err
		}
	}
	return put(ctx, w.store, TypeBlob, r)
}

// checkPacked refuses blobs whose pack is not named by a multihash: the
// records the writers make name packs by multihash.
func checkPacked(blobs []PackedBlob) error {
	for _, b := range blobs {
		if b.Pack.Multihash == nil {
			return fmt.Errorf("index: blob %s: pack %q is not named by a multihash", store.Key(b.Multihash), b.Pack.Path)
		}
	}
	return nil
}

// WriteConcurrency is how many index files SingleLevelWriter writes at once.
const WriteConcurrency = 16

// MultipleLevelWriter writes one CONTAINING record for a DAG, under its
// root multihash, whose sub-records are the PACK records of the packs
// holding its blocks, each with its BLOB records (type
// "index/containing@0.1"). Without a containing multihash it writes each
// PACK record on its own.
type MultipleLevelWriter struct {
	store store.IndexStore
}

// NewMultipleLevelWriter returns a MultipleLevelWriter writing to s.
func NewMultipleLevelWriter(s store.IndexStore) *MultipleLevelWriter {
	return &MultipleLevelWriter{store: s}
}

// Add implements Writer.
func (w *MultipleLevelWriter) Add(ctx context.Context, blobs []PackedBlob, containing multihash.Multihash) error {
	if err := checkPacked(blobs); err != nil {
		return err
	}
	if containing != nil {
		// Encoded straight from the blobs: no record tree of a DAG's
		// every block in memory beside the file.
		data, first := encodeContaining(containing, blobs)
		if err := w.store.Put(ctx, containing, first, data); err != nil {
			return fmt.Errorf("index: write %s record for %s: %w", Containing, store.Key(containing), err)
		}
		return nil
	}
	for _, p := range PackRecords(blobs) {
		if err := put(ctx, w.store, TypeContaining, p); err != nil {
			return err
		}
	}
	return nil
}

// PackRecords groups blobs into PACK records, in order of first appearance
// of each pack.
func PackRecords(blobs []PackedBlob) []Record {
	var packs []Record
	at := make(map[string]int)
	for _, b := range blobs {
		i, ok := at[string(b.Pack.Multihash)]
		if !ok {
			i = len(packs)
			at[string(b.Pack.Multihash)] = i
			packs = append(packs, NewPack(b.Pack.Multihash, nil))
		}
		packs[i].SubRecords = append(packs[i].SubRecords, NewBlob(b.Multihash, b.Pack.Multihash, b.Offset, b.Length))
	}
	return packs
}

// put stores one record in the file the Hash Stream layout gives it: named
// after its first sub-record, or a new timestamp name when it has none.
func put(ctx context.Context, s store.IndexStore, writerType string, r Record) error {
	data, err := Encode(writerType, r)
	if err != nil {
		return err
	}
	var sub multihash.Multihash
	if len(r.SubRecords) > 0 {
		sub = r.SubRecords[0].Multihash
	}
	if err := s.Put(ctx, r.Multihash, sub, data); err != nil {
		return fmt.Errorf("index: write %s record for %s: %w", r.Type, store.Key(r.Multihash), err)
	}
	return nil
}

// Writer names, as the CLI's --index-writer flag and the indexer
// function's configuration spell them.
const (
	WritersAll           = "all"            // both: what block-by-block clients need
	WritersSingleLevel   = "single-level"   // SingleLevelWriter only
	WritersMultipleLevel = "multiple-level" // MultipleLevelWriter only
	WritersNone          = "none"           // no index records
)

// ErrUnknownWriters is returned (wrapped) by NewWriters for a name it does
// not know.
var ErrUnknownWriters = errors.New("unknown index writer")

// NewWriters returns the writers a name asks for, writing to s, in the
// order AddToIndex-style callers run them: the single-level writer first,
// the multiple-level writer (the CONTAINING record that answers for the
// whole DAG) last. opts apply to the single-level writer. "none" gives
// no writer.
func NewWriters(name string, s store.IndexStore, opts ...SingleLevelOption) ([]Writer, error) {
	switch name {
	case WritersAll:
		return []Writer{NewSingleLevelWriter(s, opts...), NewMultipleLevelWriter(s)}, nil
	case WritersSingleLevel:
		return []Writer{NewSingleLevelWriter(s, opts...)}, nil
	case WritersMultipleLevel:
		return []Writer{NewMultipleLevelWriter(s)}, nil
	case WritersNone:
		return nil, nil
	}
	return nil, fmt.Errorf("%w %q (want all, single-level, multiple-level or none)", ErrUnknownWriters, name)
}
