package fs

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

var _ store.PackStore = (*PackStore)(nil)

// PackStore is a pack store in a folder: a pack is the file
// <dir>/<prefix>k(mh)<ext>, and a path location names the file
// <dir>/<prefix><path><ext>. The folder is made on the first Put.
type PackStore struct {
	dir    string
	prefix string
	ext    string
	noSync bool
}

// Option configures a PackStore.
type Option func(*PackStore)

// WithPrefix puts prefix before every file name. A prefix ending in "/"
// is a subfolder. The default is none.
func WithPrefix(prefix string) Option {
	return func(s *PackStore) { s.prefix = prefix }
}

// WithExtension sets the extension after every file name, of packs stored
// by multihash and of path locations alike. The default is
// store.DefaultPackExtension (".car"); "" means none.
func WithExtension(ext string) Option {
	return func(s *PackStore) { s.ext = ext }
}

// WithSync says whether Put syncs a pack to disk before renaming it into
// place (default true): then a pack the index points at survives a crash.
// Without it, writing is bound by the page cache rather than the disk; use
// it for scratch stores or file systems that sync otherwise.
func WithSync(sync bool) Option {
	return func(s *PackStore) { s.noSync = !sync }
}

// NewPackStore returns a pack store in the folder dir.
func NewPackStore(dir string, opts ...Option) *PackStore {
	s := &PackStore{dir: dir, ext: store.DefaultPackExtension}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// name returns the slash-separated file name of loc inside the folder.
func (s *PackStore) name(loc store.Location) (string, error) {
	var name string
	if loc.Multihash != nil {
		name = s.prefix + store.Key(loc.Multihash) + s.ext
	} else {
		if err := store.CheckPath(loc.Path); err != nil {
			return "", fmt.Errorf("fs: %w", err)
		}
		name = s.prefix + loc.Path + s.ext
	}
	if err := checkName(name); err != nil {
		return "", err
	}
	return name, nil
}

// Put copies exactly size bytes from r into a temporary file next to the
// pack's file and renames it into place once synced. If r yields more or
// fewer bytes, fails, or ctx ends, nothing is stored.
func (s *PackStore) Put(ctx context.Context, mh multihash.Multihash, r io.Reader, size int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs: put pack: %w", err)
	}
	name, err := s.name(store.Location{Multihash: mh})
	if err != nil {
		return err
	}
	if err := s.put(ctx, name, r, size); err != nil {
		return fmt.Errorf("fs: put pack %s: %w", name, err)
	}
	return nil
}

func (s *PackStore) put(ctx context.Context, name string, r io.Reader, size int64) error {
	if size < 0 {
		return fmt.Errorf("negative size %d: %w", size, store.ErrSizeMismatch)
	}
	root, err := openRoot(s.dir, true)
	if err != nil {
		return err
	}
	defer root.Close()
	dir := path.Dir(name)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := writeTemp(ctx, root, dir, store.ExactReader(r, size), !s.noSync)
	if err != nil {
		return err
	}
	if err := root.Rename(tmp, name); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// GetRange opens the file of loc and returns a reader over length bytes
// from offset, or to the end when length is negative. Reads fail once ctx
// is done. A missing file, or a folder where the file should be, is an
// error wrapping store.ErrNotFound.
func (s *PackStore) GetRange(ctx context.Context, loc store.Location, offset, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fs: get %s: %w", loc, err)
	}
	name, err := s.name(loc)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("fs: get %s: negative offset %d", name, offset)
	}
	root, err := openRoot(s.dir, false)
	if err != nil {
		return nil, fmt.Errorf("fs: pack %s: %w", name, err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("fs: pack %s: %w", name, notFound(err))
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("not a regular file: %w", store.ErrNotFound)
	}
	if err == nil && offset > 0 {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("fs: pack %s: %w", name, err)
	}
	var r io.Reader = f
	if length >= 0 {
		r = io.LimitReader(f, length)
	}
	return readCloser{Reader: &ctxReader{ctx: ctx, r: r}, Closer: f}, nil
}

var _ store.SpoolingPackStore = (*PackStore)(nil)

// CreateSpool implements store.SpoolingPackStore: a temporary file at the
// top of the store folder, skipped by readers.
func (s *PackStore) CreateSpool() (*os.File, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("fs: %w", err)
	}
	f, err := os.CreateTemp(s.dir, tempPrefix+"spool-*")
	if err != nil {
		return nil, fmt.Errorf("fs: spool: %w", err)
	}
	return f, nil
}

// Adopt implements store.SpoolingPackStore: it cuts f to size bytes, syncs
// it (see WithSync) and renames it to the pack's name.
func (s *PackStore) Adopt(ctx context.Context, mh multihash.Multihash, f *os.File, size int64) (err error) {
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("fs: adopt pack %s: %w", store.Key(mh), err)
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if filepath.Dir(f.Name()) != filepath.Clean(s.dir) || !isTemp(filepath.Base(f.Name())) {
		return fmt.Errorf("%s is not a spool file of this store", f.Name())
	}
	name, err := s.name(store.Location{Multihash: mh})
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	if !s.noSync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	root, err := openRoot(s.dir, true)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	return root.Rename(filepath.Base(f.Name()), name)
}
