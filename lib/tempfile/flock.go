//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package tempfile

import (
	"errors"
	"os"
	"syscall"
)

// Supported reports whether files can be locked here (flock).
const Supported = true

// lock takes the exclusive flock of f, waiting for it. A flock belongs to
// the open file, so two opens of one file conflict even in one process.
func lock(f *os.File) error {
	return flock(f, syscall.LOCK_EX)
}

// tryLock takes the exclusive flock of f if no one holds it.
func tryLock(f *os.File) (bool, error) {
	err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func flock(f *os.File, how int) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := sc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if ferr != nil {
		return &os.PathError{Op: "flock", Path: f.Name(), Err: ferr}
	}
	return nil
}
