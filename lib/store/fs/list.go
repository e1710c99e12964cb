package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

var (
	_ store.IndexLister = (*IndexStore)(nil)
	_ store.PackLister  = (*PackStore)(nil)
)

// listBatch is how many folder entries a listing reads at once, so that a
// folder of millions of keys is never held in memory whole.
const listBatch = 1024

// readDir calls fn for every entry of the folder dir of root, listBatch at
// a time, in the order the file system gives them.
func readDir(ctx context.Context, root *os.Root, dir string, fn func(iofs.DirEntry) error) error {
	d, err := root.Open(dir)
	if err != nil {
		return notFound(err)
	}
	defer d.Close()
	for {
		entries, err := d.ReadDir(listBatch)
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// unexpected returns the error of a listed entry that is not shaped as the
// layout says.
func unexpected(name, why string) error {
	return fmt.Errorf("fs: %s: %s: %w", name, why, store.ErrUnexpectedKey)
}

// keepErr returns fn, which also keeps an error of its own in *fnErr: a
// listing returns that error as it is, not wrapped as one of the listing.
func keepErr[E any](fn func(E) error, fnErr *error) func(E) error {
	return func(e E) error {
		err := fn(e)
		if err != nil {
			*fnErr = err
		}
		return err
	}
}

// List implements store.IndexLister: every file <dir>/k(mh)/<name>, named
// as store.ParseIndexName accepts, with its size. Temporary files of writes
// in progress are left out. Anything else (a stray file at the top, a
// folder that is not k(mh), a file name that is neither k(sub) nor a
// timestamp, a subfolder) is listed as an unexpected key, and a stray
// folder is not entered. A store folder that does not exist lists nothing.
func (s *IndexStore) List(ctx context.Context, fn func(store.IndexEntry) error) error {
	root, err := openRoot(s.dir, false)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	var fnErr error // an error of fn, returned as it is
	call := keepErr(fn, &fnErr)
	err = readDir(ctx, root, ".", func(top iofs.DirEntry) error {
		key := top.Name()
		if isTemp(key) {
			return nil
		}
		if !top.IsDir() {
			return call(store.IndexEntry{Key: key, Err: unexpected(key, "not a folder")})
		}
		mh, ok := store.ParseCanonicalKey(key)
		if !ok {
			return call(store.IndexEntry{Key: key, Err: unexpected(key, "folder name is not k(mh)")})
		}
		err := readDir(ctx, root, key, func(f iofs.DirEntry) error {
			name := key + "/" + f.Name()
			if isTemp(f.Name()) {
				return nil
			}
			if !f.Type().IsRegular() {
				return call(store.IndexEntry{Key: name, Err: unexpected(name, "not a regular file")})
			}
			if err := store.CheckIndexName(f.Name()); err != nil {
				return call(store.IndexEntry{Key: name, Err: fmt.Errorf("fs: %s: %w", name, err)})
			}
			size := int64(-1)
			if fi, err := f.Info(); err == nil {
				size = fi.Size()
			} else if errors.Is(err, iofs.ErrNotExist) {
				return nil // removed since the listing
			}
			return call(store.IndexEntry{Multihash: mh, Name: f.Name(), Size: size, Key: name})
		})
		if errors.Is(err, store.ErrNotFound) && fnErr == nil {
			return nil // removed since the listing
		}
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("fs: list index %s: %w", s.dir, err)
	}
	return nil
}

// Get implements store.IndexLister: the file <dir>/k(mh)/<name>.
func (s *IndexStore) Get(ctx context.Context, mh multihash.Multihash, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fs: get index: %w", err)
	}
	file := store.Key(mh) + "/" + name
	if err := store.CheckIndexName(name); err != nil {
		return nil, fmt.Errorf("fs: get index %s: %w", file, err)
	}
	root, err := openRoot(s.dir, false)
	if err != nil {
		return nil, fmt.Errorf("fs: index file %s: %w", file, err)
	}
	defer root.Close()
	data, err := s.readFile(root, file)
	if err != nil {
		return nil, fmt.Errorf("fs: index file %s: %w", file, notFound(err))
	}
	return data, nil
}

// PutNamed implements store.IndexLister: the data goes to a temporary file
// that is renamed (a k(sub) name) or hard-linked (a timestamp name, which
// then never replaces a file) into place, as Put writes.
func (s *IndexStore) PutNamed(ctx context.Context, mh multihash.Multihash, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs: put index: %w", err)
	}
	key := store.Key(mh)
	file := key + "/" + name
	sub, err := store.ParseIndexName(name)
	if err != nil {
		return fmt.Errorf("fs: put index %s: %w", file, err)
	}
	if err := s.putNamed(ctx, key, file, sub != nil, data); err != nil {
		return fmt.Errorf("fs: put index %s: %w", file, err)
	}
	return nil
}

func (s *IndexStore) putNamed(ctx context.Context, key, file string, replace bool, data []byte) error {
	root, tmp, err := s.stage(ctx, key, data)
	if err != nil {
		return err
	}
	defer root.Close()
	if replace {
		if err := root.Rename(tmp, file); err != nil {
			_ = root.Remove(tmp)
			return err
		}
		return nil
	}
	defer root.Remove(tmp)
	err = root.Link(tmp, file)
	if err != nil && !errors.Is(err, iofs.ErrExist) {
		// No hard links here: an exclusive create, which never replaces a
		// file but may be seen before it is whole (as Put falls back).
		err = writeExclusive(root, file, data, !s.noSync)
	}
	if errors.Is(err, iofs.ErrExist) {
		return store.ErrExist
	}
	return err
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
