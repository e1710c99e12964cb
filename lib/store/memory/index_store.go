package memory

import (
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

var _ store.IndexStore = (*IndexStore)(nil)

// IndexStore is an index store in memory. File names follow the FS layout:
// "k(mh)/k(sub)" or "k(mh)/<milliseconds>". The zero value is not usable;
// call NewIndexStore.
type IndexStore struct {
	now func() time.Time

	mu    sync.RWMutex
	files map[string]map[string][]byte // key -> file name -> data
}

// NewIndexStore returns an empty index store.
func NewIndexStore() *IndexStore {
	return &IndexStore{now: time.Now, files: make(map[string]map[string][]byte)}
}

// Files returns a copy of every file stored for mh, ordered by name.
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
		out = append(out, store.IndexFile{Name: key + "/" + name, Data: slices.Clone(dir[name])})
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
	dir := s.files[key]
	if dir == nil {
		dir = make(map[string][]byte)
		s.files[key] = dir
	}
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
