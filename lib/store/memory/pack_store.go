package memory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

var (
	_ store.PackStore  = (*PackStore)(nil)
	_ store.PackLister = (*PackStore)(nil)
)

// PackStore is a pack store in memory. Packs put by multihash and packs put
// by path (PutPath) live side by side. The zero value is not usable; call
// NewPackStore.
type PackStore struct {
	mu    sync.RWMutex
	packs map[string][]byte // "mh:" + key or "path:" + path -> bytes
}

// NewPackStore returns an empty pack store.
func NewPackStore() *PackStore {
	return &PackStore{packs: make(map[string][]byte)}
}

func mapKey(loc store.Location) (string, error) {
	if loc.Multihash != nil {
		return "mh:" + store.Key(loc.Multihash), nil
	}
	if err := store.CheckPath(loc.Path); err != nil {
		return "", fmt.Errorf("memory: %w", err)
	}
	return "path:" + loc.Path, nil
}

// Put reads exactly size bytes from r and stores them as the pack mh.
func (s *PackStore) Put(ctx context.Context, mh multihash.Multihash, r io.Reader, size int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: put pack: %w", err)
	}
	data, err := io.ReadAll(store.ExactReader(r, size))
	if err != nil {
		return fmt.Errorf("memory: put pack %s: %w", store.Key(mh), err)
	}
	// The reader may have taken a while: honour a cancel that came meanwhile.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: put pack: %w", err)
	}
	s.set(store.Location{Multihash: mh}, data)
	return nil
}

// PutPath stores a copy of data where store.Location{Path: path} reads it,
// as a tool that writes packs by path would.
func (s *PackStore) PutPath(path string, data []byte) error {
	if err := store.CheckPath(path); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	s.set(store.Location{Path: path}, bytes.Clone(data))
	return nil
}

func (s *PackStore) set(loc store.Location, data []byte) {
	key, _ := mapKey(loc)
	if data == nil {
		data = []byte{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packs[key] = data
}

// GetRange returns a reader over length bytes of the pack at loc from
// offset, or to its end when length is negative.
func (s *PackStore) GetRange(ctx context.Context, loc store.Location, offset, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: get %s: %w", loc, err)
	}
	key, err := mapKey(loc)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("memory: get %s: negative offset %d", loc, offset)
	}
	s.mu.RLock()
	data, ok := s.packs[key]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memory: pack %s: %w", loc, store.ErrNotFound)
	}
	// Stored slices are never modified, so readers may share them.
	data = data[min(offset, int64(len(data))):]
	if length >= 0 && length < int64(len(data)) {
		data = data[:length]
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// List implements store.PackLister, over a snapshot of the store taken
// when it is called, in key order. Packs put by path (PutPath) are listed
// as unexpected keys.
func (s *PackStore) List(ctx context.Context, fn func(store.PackEntry) error) error {
	var entries []store.PackEntry
	s.mu.RLock()
	for _, k := range slices.Sorted(maps.Keys(s.packs)) {
		if key, ok := strings.CutPrefix(k, "mh:"); ok {
			mh, _ := store.ParseKey(key)
			entries = append(entries, store.PackEntry{Multihash: mh, Size: int64(len(s.packs[k])), Key: key})
			continue
		}
		path := strings.TrimPrefix(k, "path:")
		entries = append(entries, store.PackEntry{Key: path, Err: fmt.Errorf("memory: pack %s is stored by path: %w", path, store.ErrUnexpectedKey)})
	}
	s.mu.RUnlock()
	return each(ctx, "packs", entries, fn)
}

// Stat implements store.PackLister.
func (s *PackStore) Stat(ctx context.Context, mh multihash.Multihash) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memory: stat pack: %w", err)
	}
	s.mu.RLock()
	data, ok := s.packs["mh:"+store.Key(mh)]
	s.mu.RUnlock()
	if !ok {
		return 0, fmt.Errorf("memory: pack %s: %w", store.Key(mh), store.ErrNotFound)
	}
	return int64(len(data)), nil
}
