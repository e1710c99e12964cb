package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/faultstore"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/multiformats/go-multihash"
)

// envChild makes the test binary run the CLI with these arguments (split
// on spaces) instead of the tests, before TestMain starts any s3Server.
const envChild = "HASH_STREAM_TEST_CLI_ARGS"

func init() {
	if args := os.Getenv(envChild); args != "" {
		env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
		os.Exit(run(context.Background(), env, strings.Fields(args)))
	}
}

// childWrite is a `hash-stream pack write` of its stdin in another process.
type childWrite struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *testutil.Buffer
}

func startChildWrite(t *testing.T, dir string) *childWrite {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envChild+"=pack write /dev/stdin --fsync=false", envDir+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &childWrite{cmd: cmd, stdin: stdin, out: &testutil.Buffer{}}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return c
}

// spools returns the spool files in the pack folder with at least min
// bytes.
func spools(t *testing.T, packDir string, min int64) []string {
	t.Helper()
	entries, err := os.ReadDir(packDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			if fi, err := e.Info(); err == nil && fi.Size() >= min {
				names = append(names, e.Name())
			}
		}
	}
	return names
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !testutil.Eventually(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// A `pack write` killed with SIGKILL leaves its spool file in pack/; the
// next write removes it, and leaves alone the spool of a write running at
// the same time in another process, which then completes.
func TestKilledWriteSpoolRemovedByNextWrite(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /dev/stdin and relies on flock")
	}
	dir := t.TempDir()
	packDir := filepath.Join(dir, "pack")
	const spooled = 1 << 20 // the writer's buffer: on disk once it fills

	killed := startChildWrite(t, dir)
	if _, err := io.Copy(killed.stdin, testutil.HashStreamReader("killed write ", 3<<20)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first spool", func() bool { return len(spools(t, packDir, spooled)) == 1 })
	stale := spools(t, packDir, 0)[0]

	live := startChildWrite(t, dir)
	if _, err := io.Copy(live.stdin, testutil.HashStreamReader("live write ", 3<<20)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the second spool", func() bool { return len(spools(t, packDir, spooled)) == 2 })
	var liveSpool string
	for _, name := range spools(t, packDir, 0) {
		if name != stale {
			liveSpool = name
		}
	}

	if err := killed.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed.cmd.Wait()
	if _, err := os.Stat(filepath.Join(packDir, stale)); err != nil {
		t.Fatalf("the killed write's spool is not there to remove: %v", err)
	}

	small := filepath.Join(t.TempDir(), "small.txt")
	if err := os.WriteFile(small, []byte("the next write"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, dir, "pack", "write", small, "--fsync=false"); code != 0 {
		t.Fatalf("next write: %s", errOut)
	}
	if _, err := os.Stat(filepath.Join(packDir, stale)); !os.IsNotExist(err) {
		t.Errorf("the killed write's spool %s is still there (%v)", stale, err)
	}
	if _, err := os.Stat(filepath.Join(packDir, liveSpool)); err != nil {
		t.Errorf("the live write's spool %s was removed: %v", liveSpool, err)
	}

	// The live write completes, and its content reads back.
	if _, err := io.Copy(live.stdin, testutil.HashStreamReader("live write end ", 1<<20)); err != nil {
		t.Fatal(err)
	}
	live.stdin.Close()
	if err := live.cmd.Wait(); err != nil {
		t.Fatalf("live write: %v\n%s", err, live.out)
	}
	root := regexp.MustCompile(`Containing CID:\s+(\S+)`).FindStringSubmatch(live.out.String())
	if root == nil {
		t.Fatalf("live write output:\n%s", live.out)
	}
	if code, _, errOut := runCLI(t, dir, "streamer", "dump", root[1], filepath.Join(t.TempDir(), "live.car")); code != 0 {
		t.Errorf("dump of the live write: %s", errOut)
	}
	if left := spools(t, packDir, 0); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A `pack write` whose pack store or index store fails part-way exits 1
// with an error naming the packs it leaves, and leaves no index record
// naming a missing pack; the same command again completes the index.
func TestFailedPackWrite(t *testing.T) {
	src := filepath.Join(t.TempDir(), "file.bin")
	var data bytes.Buffer
	data.ReadFrom(testutil.HashStreamReader("cli failed write ", 3<<20))
	if err := os.WriteFile(src, data.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"pack", "write", src, "--pack-size", "1100000", "--fsync=false"} // 3 packs
	for _, tc := range []struct {
		name      string
		packFail  func(int, multihash.Multihash) bool
		indexFail func(int, multihash.Multihash, []byte) bool
		want      string
	}{
		{name: "second pack", packFail: func(n int, _ multihash.Multihash) bool { return n == 2 }, want: `\(left behind: pack bafkrei\w+ stored but not indexed\)`},
		{name: "containing record", indexFail: func(_ int, _ multihash.Multihash, data []byte) bool {
			return bytes.Contains(data, []byte("index/containing@0.1"))
		}, want: `\(left behind: 3 packs bafkrei\w+, bafkrei\w+, bafkrei\w+ stored and partly indexed; every record written names a stored pack\)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var mu sync.Mutex
			var fx *faultstore.Index
			var packs store.PackStore
			code, out, errOut := runCLIWith(t, dir, func(st *stores) {
				mu.Lock()
				defer mu.Unlock()
				fx = &faultstore.Index{IndexStore: st.index, Fail: tc.indexFail}
				packs = st.packs
				st.index = fx
				st.packs = (&faultstore.Packs{PackStore: st.packs, Fail: tc.packFail}).Wrap()
			}, args...)
			if code != 1 || !regexp.MustCompile(tc.want).MatchString(errOut) || !strings.Contains(errOut, "no space left on device") {
				t.Fatalf("exit %d, stderr %q; want 1 and %s", code, errOut, tc.want)
			}
			if !strings.Contains(out, "Left behind") {
				t.Errorf("stdout does not list what is left:\n%s", out)
			}
			_, left, _ := strings.Cut(errOut, "left behind:")
			for _, key := range regexp.MustCompile(`bafkrei\w+`).FindAllString(left, -1) {
				if _, err := os.Stat(filepath.Join(dir, "pack", key+".car")); err != nil {
					t.Errorf("the error names pack %s, not stored: %v", key, err)
				}
			}
			recs, err := fx.Records()
			if err != nil {
				t.Fatal(err)
			}
			missing, err := faultstore.Dangling(context.Background(), recs, packs)
			if err != nil || len(missing) > 0 {
				t.Errorf("records name missing packs %v (%v)", missing, err)
			}
			for _, r := range recs {
				if r.Type == index.Containing {
					t.Error("a containing record was written")
				}
			}

			code, out, errOut = runCLI(t, dir, args...)
			if code != 0 {
				t.Fatalf("again: %s", errOut)
			}
			root := regexp.MustCompile(`Containing CID:\s+(\S+)`).FindStringSubmatch(out)
			if root == nil {
				t.Fatalf("output:\n%s", out)
			}
			if code, _, errOut := runCLI(t, dir, "streamer", "dump", root[1], filepath.Join(t.TempDir(), "out.car")); code != 0 {
				t.Errorf("dump after the second write: %s", errOut)
			}
		})
	}
}

// runCLIWith is runCLI with the stores of a write wrapped by wrap.
func runCLIWith(t *testing.T, dir string, wrap func(*stores), args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errOut, wrapStores: wrap, getenv: func(k string) string {
		if k == envDir {
			return dir
		}
		return ""
	}}
	code = run(context.Background(), env, args)
	return code, out.String(), errOut.String()
}

// index add writes no record for a pack the store does not hold whole.
func TestIndexAddNeedsStoredPack(t *testing.T) {
	src := filepath.Join(t.TempDir(), "file.bin")
	if err := os.WriteFile(src, []byte("a small file, one block"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	code, out, errOut := runCLI(t, other, "pack", "write", src, "-iw", "none", "--fsync=false")
	if code != 0 {
		t.Fatal(errOut)
	}
	key := regexp.MustCompile(`MH\((bafkrei\w+)\)`).FindAllStringSubmatch(out, -1)[0][1] // the pack
	car := filepath.Join(other, "pack", key+".car")
	full, err := os.ReadFile(car)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	stored := filepath.Join(dir, "pack", key+".car")
	for _, tc := range []struct {
		name   string
		stored []byte // nil: none
		want   string
	}{
		{"missing", nil, "is not in the store"},
		{"short", full[:len(full)-1], "is not " + strconv.Itoa(len(full)) + " bytes long"},
		{"long", append(bytes.Clone(full), 0), "is not " + strconv.Itoa(len(full)) + " bytes long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(stored)
			if tc.stored != nil {
				os.MkdirAll(filepath.Dir(stored), 0o755)
				if err := os.WriteFile(stored, tc.stored, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, _, errOut := runCLI(t, dir, "index", "add", key, car)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, tc.want)
			}
			if entries, _ := os.ReadDir(filepath.Join(dir, "index")); len(entries) > 0 {
				t.Errorf("%d index folders written", len(entries))
			}
		})
	}
	if err := os.WriteFile(stored, full, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, dir, "index", "add", key, car); code != 0 {
		t.Fatalf("index add of a stored pack: %s", errOut)
	}
	if code, _, errOut := runCLI(t, dir, "index", "find", "records", key); code != 0 {
		t.Errorf("no records after index add: %s", errOut)
	}
}

// The same on the S3 backend, whose ranged read of a pack's last byte
// checks it.
func TestIndexAddNeedsStoredPackS3(t *testing.T) {
	s3Server.Require(t)
	vars := map[string]string{envBackend: "s3", s3.EnvIndexBucket: s3Server.NewBucket(t), s3.EnvPackBucket: s3Server.NewBucket(t)}
	cli := s3CLI(t, vars)
	cars := t.TempDir()
	var keys, paths []string
	for _, text := range []string{"stored", "not stored"} {
		src := filepath.Join(t.TempDir(), "file.txt")
		if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, cars, "pack", "write", src, "-iw", "none", "--fsync=false")
		if code != 0 {
			t.Fatal(errOut)
		}
		key := regexp.MustCompile(`MH\((bafkrei\w+)\)`).FindStringSubmatch(out)[1]
		keys, paths = append(keys, key), append(paths, filepath.Join(cars, "pack", key+".car"))
	}
	if code, _, errOut := cli("pack", "import", paths[0], "-iw", "none"); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := cli("index", "add", keys[1], paths[1]); code != 1 || !strings.Contains(errOut, "is not in the store") {
		t.Errorf("index add of a pack not stored: exit %d, %q", code, errOut)
	}
	if code, _, errOut := cli("index", "find", "records", keys[1]); code != 1 {
		t.Errorf("records written for a pack not stored: %q", errOut)
	}
	if code, _, errOut := cli("index", "add", keys[0], paths[0]); code != 0 {
		t.Errorf("index add of a stored pack: %s", errOut)
	}
}
