package memory

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

var (
	_ store.IndexLister = (*IndexStore)(nil)
	_ store.PackLister  = (*PackStore)(nil)
)

// each calls fn on the entries of a snapshot in turn, until fn fails (its
// error returned as it is) or ctx is done.
func each[E any](ctx context.Context, what string, entries []E, fn func(E) error) error {
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memory: list %s: %w", what, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// List implements store.IndexLister, over a snapshot of the store taken
// when it is called, in key and name order.
func (s *IndexStore) List(ctx context.Context, fn func(store.IndexEntry) error) error {
	var entries []store.IndexEntry
	s.mu.RLock()
	for _, key := range slices.Sorted(maps.Keys(s.files)) {
		mh, _ := store.ParseKey(key) // keys are only ever made by store.Key
		for _, name := range slices.Sorted(maps.Keys(s.files[key])) {
			entries = append(entries, store.IndexEntry{Multihash: mh, Name: name, Size: int64(len(s.files[key][name])), Key: key + "/" + name})
		}
	}
	s.mu.RUnlock()
	return each(ctx, "index", entries, fn)
}

// Get implements store.IndexLister.
func (s *IndexStore) Get(ctx context.Context, mh multihash.Multihash, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: get index: %w", err)
	}
	key := store.Key(mh) + "/" + name
	s.mu.RLock()
	data, ok := s.files[store.Key(mh)][name]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memory: index file %s: %w", key, store.ErrNotFound)
	}
	if int64(len(data)) > s.maxFile {
		return nil, fmt.Errorf("memory: index file %s: %w", key, store.TooLarge(int64(len(data)), s.maxFile))
	}
	return bytes.Clone(data), nil
}

// PutNamed implements store.IndexLister.
func (s *IndexStore) PutNamed(ctx context.Context, mh multihash.Multihash, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: put index: %w", err)
	}
	sub, err := store.ParseIndexName(name)
	if err != nil {
		return fmt.Errorf("memory: put index: %w", err)
	}
	key := store.Key(mh)
	data = append([]byte{}, data...)
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.dir(key)
	if _, taken := dir[name]; taken && sub == nil {
		return fmt.Errorf("memory: put index %s/%s: %w", key, name, store.ErrExist)
	}
	dir[name] = data
	return nil
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
