package denylist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often a Watcher looks for a changed list: an
// entry added takes effect at the origin within it.
const DefaultInterval = 30 * time.Second

// DefaultCheckTimeout bounds the wait of the request that checks for a
// changed list; past it the request goes on with the last good Set.
const DefaultCheckTimeout = 5 * time.Second

// Folder is where lists live: the *.deny files of a local folder or of an
// S3 prefix.
type Folder interface {
	// List returns the version of each list by name (a local file's size
	// and modification time, an S3 object's ETag); only names ending in
	// .deny count.
	List(ctx context.Context) (map[string]string, error)
	// Open returns a list's bytes.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}

// Watcher holds the Set of a Folder's lists and loads it again when they
// change: Set checks at most once per interval, on the first call after
// it (a Lambda instance only runs while it serves a request, so there is
// no timer). A version that cannot be read or parsed leaves the last good
// Set in place; the failure is logged and counted (Failures).
type Watcher struct {
	folder   Folder
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger
	opts     []Option
	now      func() time.Time

	set      atomic.Pointer[Set]
	failures atomic.Int64
	reloads  atomic.Int64

	mu       sync.Mutex // one check at a time
	checking chan struct{}
	checked  time.Time
	versions map[string]string
}

// WatchOption configures a Watcher.
type WatchOption func(*Watcher)

// WithInterval sets how often the lists are checked (default
// DefaultInterval).
func WithInterval(d time.Duration) WatchOption { return func(w *Watcher) { w.interval = d } }

// WithLogger sets the logger of reload failures and reloads.
func WithLogger(l *slog.Logger) WatchOption { return func(w *Watcher) { w.log = l } }

// WithParseOptions sets the options every list is parsed with.
func WithParseOptions(opts ...Option) WatchOption { return func(w *Watcher) { w.opts = opts } }

// Watch loads the lists of folder and returns a Watcher holding them. A
// folder that cannot be read, holds no list, or holds one that does not
// parse fails Watch: a gateway configured with a denylist never serves
// without it.
func Watch(ctx context.Context, folder Folder, opts ...WatchOption) (*Watcher, error) {
	w := &Watcher{folder: folder, interval: DefaultInterval, timeout: DefaultCheckTimeout, log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		o(w)
	}
	versions, err := folder.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("denylist: %w", err)
	}
	set, err := w.load(ctx, versions)
	if err != nil {
		return nil, err
	}
	w.set.Store(set)
	w.versions, w.checked = versions, w.now()
	return w, nil
}

// Set returns the current Set, after checking the folder when the
// interval has passed since the last check. Concurrent callers share one
// check; a caller waits for it at most until its ctx ends or the check
// timeout passes, then goes on with the last good Set.
func (w *Watcher) Set(ctx context.Context) *Set {
	w.mu.Lock()
	if w.checking == nil && w.now().Sub(w.checked) >= w.interval {
		w.checking = make(chan struct{})
		go w.check(w.checking)
	}
	done := w.checking
	w.mu.Unlock()
	if done != nil {
		t := time.NewTimer(w.timeout)
		select {
		case <-done:
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return w.set.Load()
}

// Current returns the current Set without checking the folder.
func (w *Watcher) Current() *Set { return w.set.Load() }

// Failures returns how many checks failed to read or parse a changed
// folder since the Watcher started.
func (w *Watcher) Failures() int64 { return w.failures.Load() }

// Reloads returns how many times a changed folder was loaded.
func (w *Watcher) Reloads() int64 { return w.reloads.Load() }

// check lists the folder and, when a list changed, loads them all. It
// runs in its own goroutine, bounded by the check timeout, so a caller
// that leaves does not cut it.
func (w *Watcher) check(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	err := w.reload(ctx)
	if err != nil {
		// Counted before the waiters go on: one that then reads Failures
		// sees this check's.
		w.failures.Add(1)
		w.log.Error("denylist reload failed; the last good list stays in force", "err", err.Error())
	}
	w.mu.Lock()
	w.checked = w.now()
	w.checking = nil
	w.mu.Unlock()
	close(done)
}

func (w *Watcher) reload(ctx context.Context) error {
	versions, err := w.folder.List(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	same := maps.Equal(versions, w.versions)
	w.mu.Unlock()
	if same {
		return nil
	}
	set, err := w.load(ctx, versions)
	if err != nil {
		return err
	}
	w.set.Store(set)
	w.mu.Lock()
	w.versions = versions
	w.mu.Unlock()
	w.reloads.Add(1)
	rules := 0
	for _, l := range set.Lists() {
		rules += l.Rules
	}
	w.log.Info("denylist reloaded", "lists", len(set.Lists()), "rules", rules)
	return nil
}

// load parses every list of versions, in name order.
func (w *Watcher) load(ctx context.Context, versions map[string]string) (*Set, error) {
	names := make([]string, 0, len(versions))
	for name := range versions {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("denylist: no *.deny list: %w", ErrNoRules)
	}
	lists := make([]*List, 0, len(names))
	for _, name := range names {
		l, err := w.parse(ctx, name)
		if err != nil {
			return nil, err
		}
		lists = append(lists, l)
	}
	return NewSet(lists...), nil
}

func (w *Watcher) parse(ctx context.Context, name string) (*List, error) {
	rc, err := w.folder.Open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("denylist: %s: %w", name, err)
	}
	defer rc.Close()
	return Parse(rc, name, w.opts...)
}

// LocalFolder is a Folder on the local file system: a list file, or a
// folder of *.deny files.
type LocalFolder struct {
	dir  string
	only string // the one file, when the path named a file
}

// NewLocalFolder returns the Folder of path, a list file or a folder.
func NewLocalFolder(path string) (*LocalFolder, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("denylist: %w", err)
	}
	if info.IsDir() {
		return &LocalFolder{dir: path}, nil
	}
	return &LocalFolder{dir: filepath.Dir(path), only: filepath.Base(path)}, nil
}

// List implements Folder. A file's version is its size and modification
// time.
func (f *LocalFolder) List(context.Context) (map[string]string, error) {
	versions := make(map[string]string)
	if f.only != "" {
		info, err := os.Stat(filepath.Join(f.dir, f.only))
		if err != nil {
			return nil, err
		}
		versions[f.only] = version(info)
		return versions, nil
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".deny") {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // removed since ReadDir
		}
		if err != nil {
			return nil, err
		}
		versions[e.Name()] = version(info)
	}
	return versions, nil
}

func version(info os.FileInfo) string {
	return fmt.Sprintf("%d@%d", info.Size(), info.ModTime().UnixNano())
}

// Open implements Folder.
func (f *LocalFolder) Open(_ context.Context, name string) (io.ReadCloser, error) {
	if name != filepath.Base(name) {
		return nil, fmt.Errorf("denylist: bad list name %q", name)
	}
	return os.Open(filepath.Join(f.dir, name))
}
