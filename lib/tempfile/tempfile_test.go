package tempfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func skipUnsupported(t *testing.T) {
	if !Supported {
		t.Skip("no flock on this system")
	}
}

// A created file is locked until closed, against other opens of it in
// this process too.
func TestCreateLocks(t *testing.T) {
	skipUnsupported(t)
	f, err := Create(t.TempDir(), "spool-*")
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if ok, err := tryLock(other); ok || err != nil {
		t.Fatalf("lock of a live file taken (%v, %v)", ok, err)
	}
	f.Close()
	if ok, err := tryLock(other); !ok || err != nil {
		t.Fatalf("lock of a closed file not taken (%v, %v)", ok, err)
	}
}

// RemoveStale removes the matching unlocked files only, and reports them
// and their size.
func TestRemoveStale(t *testing.T) {
	skipUnsupported(t)
	dir := t.TempDir()
	write := func(name string, n int) {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("spool-dead1", 1000) // a killed writer's: never locked any more
	write("spool-dead2", 24)
	write("other", 5)
	if err := os.Mkdir(filepath.Join(dir, "spool-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	live, err := Create(dir, "spool-*")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	removed, size, err := RemoveStale(root, ".", func(name string) bool { return strings.HasPrefix(name, "spool-") })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if strings.Join(removed, " ") != "spool-dead1 spool-dead2" || size != 1024 {
		t.Errorf("removed %v (%d bytes), want spool-dead1 spool-dead2 (1024 bytes)", removed, size)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{"other", filepath.Base(live.Name()), "spool-dir"}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	// A missing folder is nothing to remove.
	if removed, _, err := RemoveStale(root, "nope", func(string) bool { return true }); err != nil || len(removed) > 0 {
		t.Errorf("missing folder: %v, %v", removed, err)
	}
}

// A file removed between its creation and its lock (a RemoveStale in
// another process found it unlocked) is reported, so that the writer makes
// another instead of writing into a file no one can find.
func TestLockSeesRemovedFile(t *testing.T) {
	skipUnsupported(t)
	dir := t.TempDir()
	f, err := os.CreateTemp(dir, "spool-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lstat := func() (fs.FileInfo, error) { return os.Lstat(f.Name()) }
	if err := os.Remove(f.Name()); err != nil {
		t.Fatal(err)
	}
	if ok, err := Lock(f, lstat); ok || err != nil {
		t.Errorf("Lock of a removed file: %v, %v; want false", ok, err)
	}
	// Another file now at the name is not f either.
	if err := os.WriteFile(f.Name(), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, err := Lock(f, lstat); ok || err != nil {
		t.Errorf("Lock of a replaced file: %v, %v; want false", ok, err)
	}
}
