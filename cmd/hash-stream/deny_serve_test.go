package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// serve --denylist blocks what a list file says and follows its changes
// without a restart (a bad version keeping the last good list is tested
// in lib/denylist and on the function).
func TestServeDenylistReload(t *testing.T) {
	dir := t.TempDir()
	hello := filepath.Join(testutil.RepoRoot(), "testdata", "hello.txt")
	if code, _, errOut := runCLI(t, dir, "pack", "write", hello); code != 0 {
		t.Fatalf("pack write: %s", errOut)
	}
	list := filepath.Join(t.TempDir(), "takedowns.deny")
	mtime := time.Unix(1_700_000_000, 0)
	write := func(text string) {
		t.Helper()
		mtime = mtime.Add(time.Second) // a new version even within the file system's time resolution
		if err := os.WriteFile(list, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(list, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write("/ipfs/" + fixture.HelloCID + "\n")
	addr := startServe(t, map[string]string{envDir: dir}, "--denylist", list, "--denylist-interval", "1ms")
	status := func() int {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/ipfs/" + fixture.HelloCID + "?format=raw")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusGone {
		t.Fatalf("listed: %d, want 410", got)
	}
	write("# lifted\n!/ipfs/" + fixture.HelloCID + "\n")
	if !testutil.Eventually(func() bool { return status() == http.StatusOK }) {
		t.Fatal("the changed list was not loaded")
	}
	write("/ipfs/" + fixture.HelloCID + " status:451\n")
	if !testutil.Eventually(func() bool { return status() == http.StatusUnavailableForLegalReasons }) {
		t.Fatal("the list with a status hint was not loaded")
	}
}

// A denylist that cannot be read or parsed at start fails serve's start.
func TestServeDenylistBadAtStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(t.TempDir(), "bad.deny")
	if err := os.WriteFile(bad, []byte("# no rule\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, list := range []string{bad, filepath.Join(dir, "absent.deny")} {
		code, _, errOut := runCLI(t, dir, "serve", "--listen", "127.0.0.1:0", "--denylist", list)
		if code != 1 || !strings.Contains(errOut, "denylist") {
			t.Errorf("%s: exit %d, %q", list, code, errOut)
		}
	}
}
