package fetch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/fetch/fetchtest"
	"github.com/hash-stream/hash-stream-aws/lib/tempfile"
	"github.com/ipfs/go-cid"
)

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// The next fetch to the same output removes the part a killed fetch left
// (a process killed with SIGKILL in the middle of its slices), and never
// the part of a fetch under way.
func TestFetchRemovesLeftoverParts(t *testing.T) {
	if !tempfile.Supported {
		t.Skip("no flock here: leftovers are kept")
	}
	if out := os.Getenv("FETCH_TEST_HELPER_OUT"); out != "" {
		c, _ := New([]string{os.Getenv("FETCH_TEST_HELPER_GATEWAY")}, WithMinRate(0, 0))
		c.Fetch(context.Background(), cid.MustParse(os.Getenv("FETCH_TEST_HELPER_ROOT")), out)
		os.Exit(3) // never reached: the test kills it
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	content := bytes.Repeat([]byte("a file whose fetch is killed\n"), 1000)
	stuck, good := fetchtest.New(t), fetchtest.New(t)
	root := stuck.File(content, 4096)
	good.File(content, 4096)
	stuck.Drip(time.Hour) // its slices never end
	asked := make(chan struct{}, 64)
	stuck.OnRequest(func(r *http.Request) {
		if r.URL.Query().Get("format") == "car" {
			asked <- struct{}{}
		}
	})
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFetchRemovesLeftoverParts$")
	cmd.Env = append(os.Environ(), "FETCH_TEST_HELPER_OUT="+out, "FETCH_TEST_HELPER_GATEWAY="+stuck.URL, "FETCH_TEST_HELPER_ROOT="+root.String())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-asked: // its part is made, its slices asked
	case <-ctx.Done():
		cmd.Process.Kill()
		t.Fatal("the helper never asked a slice")
	}
	cmd.Process.Kill()
	cmd.Wait()
	left := listDir(t, dir)
	if len(left) != 1 || !isPartOf(left[0], out) {
		t.Fatalf("after the kill: %v, want its part", left)
	}
	// A fetch under way, in this process: its part stays while another
	// fetch to the same output removes the killed one's.
	live, cancelLive := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		c, _ := New([]string{stuck.URL}, WithMinRate(0, 0))
		done <- c.Fetch(live, root, out)
	}()
	<-asked
	c, _ := New([]string{good.URL})
	if err := c.Fetch(ctx, root, out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, content) {
		t.Error("content differs")
	}
	var parts []string
	for _, name := range listDir(t, dir) {
		if isPartOf(name, out) {
			parts = append(parts, name)
		}
	}
	if len(parts) != 1 || slicesContain(left, parts[0]) {
		t.Errorf("parts %v: want the live fetch's alone (the killed one's was %v)", parts, left)
	}
	cancelLive()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the live fetch: %v", err)
	}
	if names := listDir(t, dir); len(names) != 1 || names[0] != "out" {
		t.Errorf("at the end: %v, want out alone", names)
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
