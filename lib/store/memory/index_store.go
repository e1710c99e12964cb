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
	now     func() time.Time
	maxFile int64

	mu    sync.RWMutex
	files map[string]map[string][]byte // key -> file name -> data
}

// Option configures an IndexStore (the pack store has none).
type Option func(*IndexStore)

// WithMaxIndexFileBytes sets the size cap of one index file (default
// store.DefaultMaxIndexFileBytes; 0 or less means the default). Files
// returns a larger file with an Err wrapping store.ErrTooLarge and no data.
func WithMaxIndexFileBytes(n int64) Option {
	return func(s *IndexStore) {
		if n > 0 {
			s.maxFile = n
		}
	}
}

// NewIndexStore returns an empty index store.
func NewIndexStore(opts ...Option) *IndexStore {
	s := &IndexStore{now: time.Now, maxFile: store.DefaultMaxIndexFileBytes, files: make(map[string]map[string][]byte)}
	for _, o := range opts {
		o(s)
	}
	return s
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
