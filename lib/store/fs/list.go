package fs

import (
	"context"
	"fmt"
	"io"
	iofs "io/fs"
	"os"

	"github.com/hash-stream/hash-stream-aws/lib/store"
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
