// Package tempfile makes temporary files that a later process can tell
// apart from those of a writer that died: a file is locked (flock) for as
// long as its writer has it open, and the kernel drops the lock when the
// writer exits, even by SIGKILL. RemoveStale removes the unlocked ones.
//
// A lock proves liveness without guessing from ages: a writer may hold a
// spool file for minutes (a slow upload reads it without touching it) and
// a killed writer's file may be seconds old. Where flock is not available
// files are made unlocked and RemoveStale removes nothing.
package tempfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
)

// maxTries bounds how often Create makes a new file when a sweeper removed
// the one it just made (before it was locked).
const maxTries = 10

// Create creates a new file in dir, named as os.CreateTemp names it from
// pattern, opened for reading and writing and locked until it is closed.
func Create(dir, pattern string) (*os.File, error) {
	for range maxTries {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		ok, err := Lock(f, func() (fs.FileInfo, error) { return os.Lstat(f.Name()) })
		if err == nil && ok {
			return f, nil
		}
		_ = f.Close()
		if err != nil {
			_ = os.Remove(f.Name())
			return nil, err
		}
	}
	return nil, fmt.Errorf("tempfile: %s: removed by another process %d times", dir, maxTries)
}

// Lock takes the exclusive lock of f, a file its caller has just created
// under a fresh name, waiting while a RemoveStale holds it. lstat returns
// the file now at that name. Between the creation and the lock another
// process may have found the file unlocked and removed it: then Lock
// returns false, and the caller closes f and creates another file.
func Lock(f *os.File, lstat func() (fs.FileInfo, error)) (bool, error) {
	if err := lock(f); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return true, nil
		}
		return false, fmt.Errorf("tempfile: lock %s: %w", f.Name(), err)
	}
	return sameFile(f, lstat)
}

// TryLock takes the exclusive lock of f if no one holds it, without
// waiting: false when another open file (of this process or another)
// holds it. Where locks are not supported it returns an error wrapping
// errors.ErrUnsupported.
func TryLock(f *os.File) (bool, error) { return tryLock(f) }

// sameFile reports whether the file at a name (lstat) is still f.
func sameFile(f *os.File, lstat func() (fs.FileInfo, error)) (bool, error) {
	named, err := lstat()
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	return os.SameFile(fi, named), nil
}

// RemoveStale removes the regular files in the folder dir of root whose
// names match and that no process holds locked: the temporary files of
// writers that died. It returns the names removed (dir/name) and their
// total size. Files it cannot open (another user's) are left alone.
// Where locks are not available it removes nothing.
func RemoveStale(root *os.Root, dir string, match func(name string) bool) (removed []string, size int64, err error) {
	if !Supported {
		return nil, 0, nil
	}
	d, err := root.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	entries, err := d.ReadDir(-1)
	_ = d.Close()
	if err != nil {
		return nil, 0, err
	}
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !match(e.Name()) {
			continue
		}
		name := path.Join(dir, e.Name())
		n, ok, err := removeIfStale(root, name)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			removed = append(removed, name)
			size += n
		}
	}
	return removed, size, errors.Join(errs...)
}

// removeIfStale removes the file name of root if it is unlocked, holding
// its lock meanwhile so that a writer that created it but has not locked
// it yet sees it gone (see Lock).
func removeIfStale(root *os.Root, name string) (int64, bool, error) {
	f, err := root.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return 0, false, nil // gone (adopted) meanwhile, or not ours
		}
		return 0, false, err
	}
	defer f.Close()
	locked, err := tryLock(f)
	if err != nil || !locked {
		return 0, false, err // a live writer holds it
	}
	// The name may have been renamed away (an adopted spool) and so may
	// not be f any more.
	same, err := sameFile(f, func() (fs.FileInfo, error) { return root.Lstat(name) })
	if err != nil || !same {
		return 0, false, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	if err := root.Remove(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, false, nil
		}
		return 0, false, err
	}
	return fi.Size(), true, nil
}
