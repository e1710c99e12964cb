package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/tempfile"
)

// tempPrefix starts the name of every temporary file.
const tempPrefix = ".tmp-"

// isTemp reports whether a file name is that of a temporary file.
func isTemp(name string) bool {
	return strings.HasPrefix(name, tempPrefix)
}

// openRoot opens the store folder dir. With create it makes the folder
// first; without, a missing folder is an error wrapping store.ErrNotFound.
func openRoot(dir string, create bool) (*os.Root, error) {
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("fs: %w", err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("fs: %w", notFound(err))
	}
	return root, nil
}

// notFound returns err wrapped with store.ErrNotFound when it says that a
// file or one of its parent folders does not exist.
func notFound(err error) error {
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	return err
}

// checkName returns an error wrapping store.ErrInvalidPath unless name, a
// slash-separated name made from a configured prefix and a key or path,
// stays inside the store folder.
func checkName(name string) error {
	if !filepath.IsLocal(filepath.FromSlash(name)) || strings.Contains(name, "\x00") {
		return fmt.Errorf("fs: name %q leaves the store folder: %w", name, store.ErrInvalidPath)
	}
	return nil
}

// isPutTemp reports whether a file name is that of a temporary file of
// writeTemp: tempPrefix and 16 hexadecimal digits.
func isPutTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	if !ok || len(rest) != 16 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// createTemp creates a new temporary file in the folder dir of root, for
// writing. With lock it is locked until closed (see lib/tempfile), so
// that removeStaleTemp never takes it for the file of a dead writer.
func createTemp(root *os.Root, dir string, lock bool) (*os.File, string, error) {
	for range 10 {
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		name := path.Join(dir, tempPrefix+hex.EncodeToString(rnd[:]))
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil || !lock {
			return f, name, err
		}
		ok, err := tempfile.Lock(f, func() (iofs.FileInfo, error) { return root.Lstat(name) })
		if err == nil && ok {
			return f, name, nil
		}
		_ = f.Close()
		if err != nil {
			_ = root.Remove(name)
			return nil, "", err
		}
		// Removed by a sweep before it was locked: make another.
	}
	return nil, "", fmt.Errorf("temporary file in %s removed by another process 10 times", dir)
}

// writeTemp writes everything r yields into a new temporary file in the
// folder dir of root, syncs it (when sync) and closes it, and returns its
// name. On error it removes the file.
func writeTemp(ctx context.Context, root *os.Root, dir string, r io.Reader, sync bool) (_ string, err error) {
	return writeTempFile(ctx, root, dir, r, sync, false)
}

// writeTempFile is writeTemp, with the file locked while it is written
// when lock.
func writeTempFile(ctx context.Context, root *os.Root, dir string, r io.Reader, sync, lock bool) (_ string, err error) {
	f, name, err := createTemp(root, dir, lock)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = root.Remove(name)
		}
	}()
	if _, err = io.Copy(f, &ctxReader{ctx: ctx, r: r}); err != nil {
		return "", err
	}
	if sync {
		if err = f.Sync(); err != nil {
			return "", err
		}
	}
	if err = f.Close(); err != nil {
		return "", err
	}
	return name, nil
}

// syncDir syncs the folder dir of root, so that a file renamed into it
// stays there after a crash.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader fails its reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}
