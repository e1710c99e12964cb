package memory

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

var (
	_ store.IndexStore  = (*IndexStore)(nil)
	_ store.IndexLister = (*IndexStore)(nil)
)

// IndexStore is an index store in memory. File names follow the FS layout:
// "k(mh)/k(sub)" or "k(mh)/<milliseconds>". The zero value is not usable;
// call NewIndexStore.
type IndexStore struct {
	now     func() time.Time
	maxFile int64

	mu    sync.RWMutex
	files map[string]map[string][]byte // key -> file name -> data
}

// Option configures an IndexStore (the pack store has none).
type Option func(*store.Options)

// WithMaxIndexFileBytes sets the size cap of one index file
// (store.Options.MaxIndexFileBytes).
func WithMaxIndexFileBytes(n int64) Option { return Option(store.WithMaxIndexFileBytes(n)) }

// NewIndexStore returns an empty index store.
func NewIndexStore(opts ...Option) *IndexStore {
	o := store.DefaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return &IndexStore{now: time.Now, maxFile: o.Defaulted().MaxIndexFileBytes, files: make(map[string]map[string][]byte)}
}

// Files returns a copy of every file stored for mh, ordered by name; a file
// over the size cap is returned with its Err set instead.
func (s *IndexStore) Files(ctx context.Context, mh multihash.Multihash) ([]store.IndexFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: files: %w", err)
	}
	key := store.Key(mh)
	s.mu.RLock()
	defer s.mu.RUnlock()
	dir := s.files[key]
	if len(dir) == 0 {
		return nil, fmt.Errorf("memory: index %s: %w", key, store.ErrNotFound)
	}
	out := make([]store.IndexFile, 0, len(dir))
	for _, name := range slices.Sorted(maps.Keys(dir)) {
		f := store.IndexFile{Name: key + "/" + name}
		if data := dir[name]; int64(len(data)) > s.maxFile {
			f.Err = fmt.Errorf("memory: index file %s: %w", f.Name, store.TooLarge(int64(len(data)), s.maxFile))
		} else {
			f.Data = slices.Clone(data)
		}
		out = append(out, f)
	}
	return out, nil
}

// Put stores a copy of data as an index file of mh, named k(sub) when sub
// is not nil and else the current time in milliseconds, bumped past any
// name already taken.
func (s *IndexStore) Put(ctx context.Context, mh, sub multihash.Multihash, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: put index: %w", err)
	}
	key := store.Key(mh)
	data = append([]byte{}, data...)
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.dir(key)
	if sub != nil {
		dir[store.Key(sub)] = data
		return nil
	}
	for ms := s.now().UnixMilli(); ; ms++ {
		name := strconv.FormatInt(ms, 10)
		if _, taken := dir[name]; !taken {
			dir[name] = data
			return nil
		}
	}
}

// dir returns the files of key, an empty folder made if it has none. s.mu
// must be held for writing.
func (s *IndexStore) dir(key string) map[string][]byte {
	dir := s.files[key]
	if dir == nil {
		dir = make(map[string][]byte)
		s.files[key] = dir
	}
	return dir
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
