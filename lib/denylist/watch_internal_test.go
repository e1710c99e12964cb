package denylist

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

const (
	watchCID1 = "bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4"
	watchCID2 = "bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu"
)

// clock is a settable time for a Watcher.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func blocked(t *testing.T, s *Set, c string) bool {
	t.Helper()
	_, ok := s.Match(cid.MustParse(c), nil)
	return ok
}

// writeList writes a list and gives it a modification time of its own, so
// a rewrite within the file system's time resolution is still seen.
func writeList(t *testing.T, path, text string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// A changed folder is loaded at the first Set after the interval, not
// before; a bad version keeps the last good Set and counts a failure; a
// good one after it is loaded.
func TestWatcherReloads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	list := filepath.Join(dir, "a.deny")
	base := time.Unix(1_700_000_000, 0)
	writeList(t, list, "/ipfs/"+watchCID1+"\n", base)
	folder, err := NewLocalFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: base}
	w, err := Watch(ctx, folder, WithInterval(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	w.now = clk.now
	w.checked = clk.now()
	if s := w.Set(ctx); !blocked(t, s, watchCID1) || blocked(t, s, watchCID2) {
		t.Fatal("first list not in force")
	}

	writeList(t, list, "/ipfs/"+watchCID2+"\n", base.Add(time.Second))
	clk.add(59 * time.Second)
	if s := w.Set(ctx); !blocked(t, s, watchCID1) {
		t.Fatal("reloaded before the interval")
	}
	clk.add(time.Second)
	if s := w.Set(ctx); blocked(t, s, watchCID1) || !blocked(t, s, watchCID2) {
		t.Fatal("changed list not loaded after the interval")
	}
	if w.Reloads() != 1 || w.Failures() != 0 {
		t.Fatalf("reloads %d, failures %d", w.Reloads(), w.Failures())
	}

	writeList(t, list, "# nothing but a comment\n", base.Add(2*time.Second))
	clk.add(time.Minute)
	if s := w.Set(ctx); !blocked(t, s, watchCID2) {
		t.Fatal("a bad version replaced the last good list")
	}
	if w.Failures() != 1 {
		t.Fatalf("failures %d, want 1", w.Failures())
	}

	writeList(t, list, "/ipfs/"+watchCID1+"\n/ipfs/"+watchCID2+"\n", base.Add(3*time.Second))
	clk.add(time.Minute)
	if s := w.Set(ctx); !blocked(t, s, watchCID1) || !blocked(t, s, watchCID2) {
		t.Fatal("the good version after a bad one not loaded")
	}
	if err := os.Remove(list); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	if s := w.Set(ctx); !blocked(t, s, watchCID1) || w.Failures() != 2 {
		t.Fatalf("a folder emptied: failures %d, the last good list must stay", w.Failures())
	}
}

// A list that is missing, unreadable or invalid at start fails Watch.
func TestWatchFailsAtStart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := NewLocalFolder(filepath.Join(dir, "absent.deny")); err == nil {
		t.Error("a missing file opened")
	}
	empty, err := NewLocalFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Watch(ctx, empty); err == nil {
		t.Error("a folder without a list watched")
	}
	bad := filepath.Join(dir, "bad.deny")
	writeList(t, bad, "/ipfs/not-a-cid\n", time.Now())
	file, err := NewLocalFolder(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Watch(ctx, file); err == nil {
		t.Error("a list without a valid rule watched")
	}
}
