package fetch

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/tempfile"
)

// part is the temporary folder a fetch writes in, next to its output and
// named after it (".<out>.<digits>.part"): a tree is built in it and
// renamed to the output, a file is written inside it and renamed out of
// it. It is locked (flock) as long as its fetch runs, so that the next
// fetch to the same output removes it when its fetch was killed, and
// never while it runs; the lock goes with the process, however it ends.
type part struct {
	dir  string
	lock *os.File // the folder, open and locked (where locks are supported)
}

// newPart removes the parts of out that no live fetch holds, then makes
// and locks a new one.
func newPart(out string) (*part, error) {
	removeLeftovers(out)
	for range 5 {
		dir, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.part")
		if err != nil {
			return nil, err
		}
		f, err := os.Open(dir)
		if err != nil {
			os.Remove(dir)
			return nil, err
		}
		// Another fetch may take the new folder for a leftover before it
		// is locked: then it is gone once locked, and we start again.
		ok, err := tempfile.Lock(f, func() (fs.FileInfo, error) { return os.Lstat(dir) })
		if err != nil {
			f.Close()
			os.Remove(dir)
			return nil, fmt.Errorf("fetch: %w", err)
		}
		if ok {
			return &part{dir: dir, lock: f}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("fetch: could not make a temporary folder next to %s", out)
}

// remove deletes the part and everything in it, then unlocks it.
func (p *part) remove() {
	os.RemoveAll(p.dir)
	p.unlock()
}

// unlock releases the lock (after the part was renamed to the output, or
// emptied and removed).
func (p *part) unlock() {
	if p.lock != nil {
		p.lock.Close()
		p.lock = nil
	}
}

// isPartOf reports whether name is what newPart names a part of out.
func isPartOf(name, out string) bool {
	mid, ok := strings.CutPrefix(name, "."+filepath.Base(out)+".")
	if !ok {
		return false
	}
	mid, ok = strings.CutSuffix(mid, ".part")
	if !ok || mid == "" {
		return false
	}
	return strings.Trim(mid, "0123456789") == ""
}

// removeLeftovers removes the parts of out that no fetch holds locked:
// those of a fetch that was killed. Where locks are not supported, none
// (a live one cannot be told from a dead one).
func removeLeftovers(out string) {
	if !tempfile.Supported {
		return
	}
	dir := filepath.Dir(out)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !isPartOf(e.Name(), out) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		if ok, err := tempfile.TryLock(f); err == nil && ok {
			os.RemoveAll(path)
		}
		f.Close()
	}
}
