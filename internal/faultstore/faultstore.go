// Package faultstore is a test rig: it wraps stores so that chosen writes
// fail, for tests of what a failed write leaves behind, and checks that
// every index record written points at a stored pack.
package faultstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// ErrInjected is the error of every injected fault: a full disk.
var ErrInjected = fmt.Errorf("faultstore: injected: %w", syscall.ENOSPC)

// Packs wraps a pack store. Fail is asked before each Put (or Adopt) with
// its number, from 1, and the pack; when it says so the write fails with
// ErrInjected and stores nothing. FailSpool is asked for each spool file
// created (numbered from 1); when it says so, the file cannot be written,
// as on a full disk.
type Packs struct {
	store.PackStore
	Fail      func(n int, mh multihash.Multihash) bool
	FailSpool func(n int) bool

	mu          sync.Mutex
	puts, spool int
}

// Wrap returns p as a store.SpoolingPackStore when the store it wraps is
// one, else as a store.PackStore.
func (p *Packs) Wrap() store.PackStore {
	if _, ok := p.PackStore.(store.SpoolingPackStore); ok {
		return spooling{p}
	}
	return p
}

func (p *Packs) fail(mh multihash.Multihash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.puts++
	return p.Fail != nil && p.Fail(p.puts, mh)
}

// Put implements store.PackStore.
func (p *Packs) Put(ctx context.Context, mh multihash.Multihash, r io.Reader, size int64) error {
	if p.fail(mh) {
		return fmt.Errorf("put %s: %w", store.Key(mh), ErrInjected)
	}
	return p.PackStore.Put(ctx, mh, r, size)
}

type spooling struct{ *Packs }

func (s spooling) CreateSpool() (*os.File, error) {
	f, err := s.PackStore.(store.SpoolingPackStore).CreateSpool()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.spool++
	fail := s.FailSpool != nil && s.FailSpool(s.spool)
	s.mu.Unlock()
	if !fail {
		return f, nil
	}
	// The same file, open only for reading: every write fails.
	ro, err := os.Open(f.Name())
	f.Close()
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return ro, nil
}

func (s spooling) Adopt(ctx context.Context, mh multihash.Multihash, f *os.File, size int64) error {
	if s.fail(mh) {
		// As Adopt promises: on error f is removed.
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("adopt %s: %w", store.Key(mh), ErrInjected)
	}
	return s.PackStore.(store.SpoolingPackStore).Adopt(ctx, mh, f, size)
}

// Index wraps an index store. Fail is asked before each Put with its
// number, from 1, the record's multihash and the file; when it says so the
// Put fails with ErrInjected and stores nothing. Written holds the data of every
// Put that succeeded.
type Index struct {
	store.IndexStore
	Fail func(n int, mh multihash.Multihash, data []byte) bool

	mu      sync.Mutex
	puts    int
	Written [][]byte
}

// Put implements store.IndexStore.
func (x *Index) Put(ctx context.Context, mh, sub multihash.Multihash, data []byte) error {
	x.mu.Lock()
	x.puts++
	fail := x.Fail != nil && x.Fail(x.puts, mh, data)
	x.mu.Unlock()
	if fail {
		return fmt.Errorf("put index %s: %w", store.Key(mh), ErrInjected)
	}
	if err := x.IndexStore.Put(ctx, mh, sub, data); err != nil {
		return err
	}
	x.mu.Lock()
	x.Written = append(x.Written, data)
	x.mu.Unlock()
	return nil
}

// Records decodes the records Written, in order.
func (x *Index) Records() ([]index.Record, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var recs []index.Record
	for _, data := range x.Written {
		_, r, err := index.Decode(data)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// Dangling returns the packs that records, or their sub-records, name and
// packs does not hold, as keys. Each pack is looked up once.
func Dangling(ctx context.Context, records []index.Record, packs store.PackStore) ([]string, error) {
	seen := make(map[string]bool)
	var missing []string
	var walk func([]index.Record) error
	walk = func(recs []index.Record) error {
		for _, r := range recs {
			if r.Type == index.Blob || r.Type == index.Pack {
				loc := r.Location.String()
				if !seen[loc] {
					seen[loc] = true
					rc, err := packs.GetRange(ctx, r.Location, 0, 1)
					switch {
					case err == nil:
						rc.Close()
					case isNotFound(err):
						missing = append(missing, loc)
					default:
						return err
					}
				}
			}
			if err := walk(r.SubRecords); err != nil {
				return err
			}
		}
		return nil
	}
	return missing, walk(records)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
