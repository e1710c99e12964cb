package fs

import (
	"context"
	"fmt"
	"io"
	"path"

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
	tmp, err := writeTemp(ctx, root, dir, store.ExactReader(r, size))
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
