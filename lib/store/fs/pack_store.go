package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/tempfile"
	"github.com/multiformats/go-multihash"
)

var (
	_ store.PackStore  = (*PackStore)(nil)
	_ store.PackLister = (*PackStore)(nil)
)

// PackStore is a pack store in a folder: a pack is the file
// <dir>/<prefix>k(mh)<ext>, and a path location names the file
// <dir>/<prefix><path><ext>. The folder is made on the first Put.
type PackStore struct {
	dir    string
	prefix string
	ext    string
	noSync bool
	sweep  sync.Once // RemoveStaleTemp before the first write
}

// NewPackStore returns a pack store in the folder dir.
// Options: WithPrefix, WithExtension, WithSync.
func NewPackStore(dir string, opts ...Option) *PackStore {
	o := newOptions(opts)
	return &PackStore{dir: dir, prefix: o.Prefix, ext: o.Extension, noSync: o.noSync}
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
// fewer bytes, fails, or ctx ends, nothing is stored. The first write of a
// PackStore (Put or CreateSpool) removes the temporary files of writers
// that died (see RemoveStaleTemp).
func (s *PackStore) Put(ctx context.Context, mh multihash.Multihash, r io.Reader, size int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs: put pack: %w", err)
	}
	name, err := s.name(store.Location{Multihash: mh})
	if err != nil {
		return err
	}
	s.sweepOnce()
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
	tmp, err := writeTempFile(ctx, root, dir, store.ExactReader(r, size), !s.noSync, true)
	if err != nil {
		return err
	}
	if err := root.Rename(tmp, name); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return s.syncDir(root, dir)
}

// syncDir syncs the folder dir of root after a pack was renamed into it
// (see WithSync): the pack's name is then on disk before any index record
// that names it is written.
func (s *PackStore) syncDir(root *os.Root, dir string) error {
	if s.noSync {
		return nil
	}
	return syncDir(root, dir)
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

// spoolPrefix starts the name of every spool file.
const spoolPrefix = tempPrefix + "spool-"

// CreateSpool implements store.SpoolingPackStore: a temporary file at the
// top of the store folder, skipped by readers, and locked until it is
// closed, so that RemoveStaleTemp in another process leaves it alone.
func (s *PackStore) CreateSpool() (*os.File, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("fs: %w", err)
	}
	s.sweepOnce()
	f, err := tempfile.Create(s.dir, spoolPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("fs: spool: %w", err)
	}
	// The pack it becomes is readable by all, as a pack from Put is.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("fs: spool: %w", err)
	}
	return f, nil
}

// RemoveStaleTemp removes the temporary files that writers which died (a
// kill -9, a crash) left in the store folder: spool files and the
// temporary files of Put. A live writer, in this process or another, holds
// a lock on its files (flock, released by the kernel when the writer
// exits), and only unlocked files are removed; a file being adopted or
// renamed into place is never removed. It returns the names removed and
// their total size. Writers of versions before the lock made unlocked
// files: such a writer running at the same time fails (its rename finds
// no file) rather than storing anything wrong. On systems without flock
// it removes nothing.
func (s *PackStore) RemoveStaleTemp() (removed []string, size int64, err error) {
	root, err := openRoot(s.dir, false)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer root.Close()
	dirs := []string{"."}
	// Put writes its temporary files next to the packs, in the prefix's
	// subfolder when it has one.
	if d := path.Dir(s.prefix + "x"); d != "." && checkName(d) == nil {
		dirs = append(dirs, d)
	}
	var errs []error
	for _, dir := range dirs {
		names, n, err := tempfile.RemoveStale(root, dir, func(name string) bool {
			return strings.HasPrefix(name, spoolPrefix) || isPutTemp(name)
		})
		removed = append(removed, names...)
		size += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, size, fmt.Errorf("fs: remove stale temporary files: %w", err)
	}
	return removed, size, nil
}

// sweepOnce runs RemoveStaleTemp before the first write. Its errors do not
// fail the write: the files stay for the next one.
func (s *PackStore) sweepOnce() {
	s.sweep.Do(func() { _, _, _ = s.RemoveStaleTemp() })
}

// Adopt implements store.SpoolingPackStore: it cuts f to size bytes, syncs
// it (see WithSync) and renames it to the pack's name. f is closed only
// after the rename, so that it stays locked while it has its spool name.
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
	root, err := openRoot(s.dir, true)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	if err := root.Rename(filepath.Base(f.Name()), name); err != nil {
		return err
	}
	// From here on an error leaves the pack stored: Adopt reports it
	// failed, which at worst leaves a pack no record names.
	if err := s.syncDir(root, path.Dir(name)); err != nil {
		return err
	}
	return f.Close()
}

// listFolder returns the folder of the store that holds the pack files and
// the start of their names there, both from the prefix.
func (s *PackStore) listFolder() (dir, namePrefix string) {
	full := s.prefix + "x"
	return path.Dir(full), strings.TrimSuffix(path.Base(full), "x")
}

// List implements store.PackLister: every regular file
// <dir>/<prefix>k(mh)<ext>, with its size. Temporary files (of Put, and
// spool files) are left out. Any other file or folder beside them (a
// path-located pack, a stray file) is listed as an unexpected key, and a
// folder is not entered. A store folder that does not exist lists nothing.
func (s *PackStore) List(ctx context.Context, fn func(store.PackEntry) error) error {
	root, err := openRoot(s.dir, false)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	dir, namePrefix := s.listFolder()
	if dir != "." {
		if err := checkName(dir); err != nil {
			return err
		}
	}
	var fnErr error // an error of fn, returned as it is
	call := keepErr(fn, &fnErr)
	err = readDir(ctx, root, dir, func(e iofs.DirEntry) error {
		if isTemp(e.Name()) {
			return nil
		}
		name := path.Join(dir, e.Name())
		if !e.Type().IsRegular() {
			return call(store.PackEntry{Key: name, Err: unexpected(name, "not a regular file")})
		}
		key, ok := strings.CutPrefix(e.Name(), namePrefix)
		if ok {
			key, ok = strings.CutSuffix(key, s.ext)
		}
		var mh multihash.Multihash
		if ok {
			mh, ok = store.ParseCanonicalKey(key)
		}
		if !ok {
			return call(store.PackEntry{Key: name, Err: unexpected(name, "not named "+s.prefix+"k(mh)"+s.ext)})
		}
		fi, err := e.Info()
		if errors.Is(err, iofs.ErrNotExist) {
			return nil // removed since the listing
		}
		if err != nil {
			return err
		}
		return call(store.PackEntry{Multihash: mh, Size: fi.Size(), Key: name})
	})
	if fnErr != nil {
		return fnErr
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil // no pack folder yet
	}
	if err != nil {
		return fmt.Errorf("fs: list packs %s: %w", s.dir, err)
	}
	return nil
}

// Stat implements store.PackLister: the size of the regular file of the
// pack.
func (s *PackStore) Stat(ctx context.Context, mh multihash.Multihash) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("fs: stat pack: %w", err)
	}
	name, err := s.name(store.Location{Multihash: mh})
	if err != nil {
		return 0, err
	}
	root, err := openRoot(s.dir, false)
	if err != nil {
		return 0, fmt.Errorf("fs: pack %s: %w", name, err)
	}
	defer root.Close()
	fi, err := root.Stat(name)
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("not a regular file: %w", store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("fs: pack %s: %w", name, notFound(err))
	}
	return fi.Size(), nil
}
