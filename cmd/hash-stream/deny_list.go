package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/tempfile"
)

// maxListBytes bounds a list deny reads to edit: the denylist parser's own
// bound.
const maxListBytes = 256 << 20

// localList is a list file on this machine. Edits hold an exclusive lock
// on a lock file beside it (so two deny processes take turns) and replace
// the file whole (a reader never sees half a list).
type localList struct{ path string }

func (l *localList) String() string { return l.path }

// read returns the list and its version: the sha256 of its bytes, so a
// write can tell whether the file is still what was read.
func (l *localList) read(context.Context) ([]byte, string, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	text, err := io.ReadAll(io.LimitReader(f, maxListBytes+1))
	if err != nil {
		return nil, "", err
	}
	if len(text) > maxListBytes {
		return nil, "", fmt.Errorf("%s is larger than %d bytes", l.path, maxListBytes)
	}
	sum := sha256.Sum256(text)
	return text, hex.EncodeToString(sum[:]), nil
}

// write replaces the list if it is still at version, under the lock.
func (l *localList) write(ctx context.Context, text []byte, version string) error {
	unlock, err := lockPath(l.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	_, now, err := l.read(ctx)
	if err != nil {
		return err
	}
	if now != version {
		return fmt.Errorf("%s: %w: written by someone else since it was read", l.path, store.ErrChanged)
	}
	tmp, err := tempfile.Create(filepath.Dir(l.path), ".deny-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), l.path)
}

// s3List is a list object in S3, written with If-Match / If-None-Match.
type s3List struct {
	folder *s3.Folder
	name   string
}

func (l *s3List) String() string { return l.folder.String() + l.name }

func (l *s3List) read(ctx context.Context) ([]byte, string, error) {
	text, etag, err := l.folder.Read(ctx, l.name, maxListBytes)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	return text, etag, err
}

func (l *s3List) write(ctx context.Context, text []byte, version string) error {
	_, err := l.folder.Write(ctx, l.name, bytes.Clone(text), version)
	return err
}
