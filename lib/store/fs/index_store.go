package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

var (
	_ store.IndexStore  = (*IndexStore)(nil)
	_ store.IndexLister = (*IndexStore)(nil)
)

// maxTimestampTries bounds the search for a free timestamp name.
const maxTimestampTries = 10000

// IndexStore is an index store in a folder: <dir>/k(mh)/<file>. The folder
// is made on the first Put.
type IndexStore struct {
	dir     string
	now     func() time.Time
	noSync  bool
	maxFile int64
}

// NewIndexStore returns an index store in the folder dir.
// Options: WithSync, WithMaxIndexFileBytes.
func NewIndexStore(dir string, opts ...Option) *IndexStore {
	o := newOptions(opts)
	return &IndexStore{dir: dir, now: time.Now, noSync: o.noSync, maxFile: o.MaxIndexFileBytes}
}

// Files returns every file in the folder of mh, ordered by name, skipping
// temporary files of writes in progress. Names are "k(mh)/<file>". A file
// over the size cap (as stat says, before reading) or that cannot be read is
// returned with its Err set.
func (s *IndexStore) Files(ctx context.Context, mh multihash.Multihash) ([]store.IndexFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fs: files: %w", err)
	}
	key := store.Key(mh)
	root, err := openRoot(s.dir, false)
	if err != nil {
		return nil, fmt.Errorf("fs: index %s: %w", key, err)
	}
	defer root.Close()
	d, err := root.Open(key)
	if errors.Is(err, syscall.ENAMETOOLONG) {
		// No file can have this name, so none is stored under it.
		err = fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("fs: index %s: %w", key, notFound(err))
	}
	entries, err := d.ReadDir(-1)
	_ = d.Close()
	if err != nil {
		return nil, fmt.Errorf("fs: index %s: %w", key, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !isTemp(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	files := make([]store.IndexFile, 0, len(names))
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("fs: files: %w", err)
		}
		name = key + "/" + name
		data, err := s.readFile(root, name)
		if errors.Is(err, iofs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			err = fmt.Errorf("fs: index file %s: %w", name, err)
		}
		files = append(files, store.IndexFile{Name: name, Data: data, Err: err})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("fs: index %s: %w", key, store.ErrNotFound)
	}
	return files, nil
}

// readFile reads the file name of root, refusing one over the size cap
// before reading it, and one that grew past it while read.
func (s *IndexStore) readFile(root *os.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > s.maxFile {
		return nil, store.TooLarge(fi.Size(), s.maxFile)
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead) // room for the read that sees EOF
	if _, err := buf.ReadFrom(io.LimitReader(f, s.maxFile+1)); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if int64(len(data)) > s.maxFile {
		return nil, store.TooLarge(int64(len(data)), s.maxFile)
	}
	return data, nil
}

// Put writes data as a file in the folder of mh. With sub the file is
// k(sub) and replaces a file of that name atomically. Without, it is the
// current time in milliseconds, or the next free number after it, and no
// existing file is ever replaced: the data is written to a temporary file
// that is then hard-linked to the first free name.
func (s *IndexStore) Put(ctx context.Context, mh, sub multihash.Multihash, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs: put index: %w", err)
	}
	key := store.Key(mh)
	if err := s.put(ctx, key, sub, data); err != nil {
		return fmt.Errorf("fs: put index %s: %w", key, err)
	}
	return nil
}

// stage writes data to a temporary file in the folder key of the store,
// made if need be, and returns the open store folder (the caller closes
// it) and the temporary file's name there, to be renamed or linked into
// place.
func (s *IndexStore) stage(ctx context.Context, key string, data []byte) (*os.Root, string, error) {
	root, err := openRoot(s.dir, true)
	if err != nil {
		return nil, "", err
	}
	if err := root.MkdirAll(key, 0o755); err != nil {
		root.Close()
		return nil, "", err
	}
	tmp, err := writeTemp(ctx, root, key, bytes.NewReader(data), !s.noSync)
	if err != nil {
		root.Close()
		return nil, "", err
	}
	return root, tmp, nil
}

func (s *IndexStore) put(ctx context.Context, key string, sub multihash.Multihash, data []byte) error {
	root, tmp, err := s.stage(ctx, key, data)
	if err != nil {
		return err
	}
	defer root.Close()
	if sub != nil {
		if err := root.Rename(tmp, key+"/"+store.Key(sub)); err != nil {
			_ = root.Remove(tmp)
			return err
		}
		return nil
	}
	defer root.Remove(tmp)
	ms := s.now().UnixMilli()
	for range maxTimestampTries {
		name := key + "/" + strconv.FormatInt(ms, 10)
		err := root.Link(tmp, name)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, iofs.ErrExist):
			ms++
		default:
			// No hard links here: fall back to an exclusive create, which
			// never replaces a file but may be seen before it is whole.
			return s.createExclusive(root, key, ms, data)
		}
	}
	return fmt.Errorf("no free timestamp name after %d tries", maxTimestampTries)
}

func (s *IndexStore) createExclusive(root *os.Root, key string, ms int64, data []byte) error {
	for range maxTimestampTries {
		err := writeExclusive(root, key+"/"+strconv.FormatInt(ms, 10), data, !s.noSync)
		if !errors.Is(err, iofs.ErrExist) {
			return err
		}
		ms++
	}
	return fmt.Errorf("no free timestamp name after %d tries", maxTimestampTries)
}

// writeExclusive writes data to a new file name of root, never replacing
// one (an error that is iofs.ErrExist when name is taken), and syncs it
// when sync is set. A file it created but could not write whole is removed.
func writeExclusive(root *os.Root, name string, data []byte, sync bool) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = root.Remove(name)
	}
	return err
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
