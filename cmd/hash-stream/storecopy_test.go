package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/ipfs/go-cid"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// random3mRoot is the root of the interop file random-3m.bin.
const random3mRoot = "bafybeicnbjdnewgphuifn3mfbao2r4rbjyhyjc254pbmsaw3yq2gmyi4ha"

// loadedStore returns an fs store folder holding testdata/ and the interop
// file random-3m.bin in two packs, written by the CLI, and the roots.
func loadedStore(t *testing.T) (string, []cid.Cid) {
	t.Helper()
	dir := t.TempDir()
	original := filepath.Join(testutil.Shared(t), "interop", "originals", "random-3m.bin")
	if code, _, errOut := runCLI(t, dir, "pack", "write", original, "-ps", "2200000", "--fsync=false"); code != 0 {
		t.Fatalf("pack write: %s", errOut)
	}
	roots, err := fixture.Load(context.Background(), fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack")))
	if err != nil {
		t.Fatal(err)
	}
	out := []cid.Cid{cid.MustParse(random3mRoot)}
	for _, name := range slices.Sorted(maps.Keys(roots)) {
		out = append(out, roots[name])
	}
	return dir, out
}

// tree returns every file under dir, by its slash-separated relative
// name, with its bytes.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sameTree(t *testing.T, got, want string) {
	t.Helper()
	g, w := tree(t, got), tree(t, want)
	if len(w) == 0 || !maps.Equal(g, w) {
		t.Errorf("%s and %s differ:\n got %q\nwant %q", got, want, slices.Sorted(maps.Keys(g)), slices.Sorted(maps.Keys(w)))
	}
}

// copied returns the counts of the summary lines of store copy.
func copied(t *testing.T, out string) (packs, index [4]int) {
	t.Helper()
	re := regexp.MustCompile(`(Packs|Index files): +(\d+) copied, (\d+) skipped \(already there\), (\d+) failed, (\d+) invalid`)
	m := re.FindAllStringSubmatch(out, -1)
	if len(m) != 2 || !strings.Contains(out, " MB/s") {
		t.Fatalf("no summary in:\n%s", out)
	}
	for i, row := range m {
		var c [4]int
		for j := range c {
			c[j] = atoi(row[j+2])
		}
		if i == 0 {
			packs = c
		} else {
			index = c
		}
	}
	return packs, index
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// fsCount returns the number of packs and index files of an fs store.
func fsCount(t *testing.T, dir string) (packs, index int) {
	for name := range tree(t, dir) {
		if strings.HasPrefix(name, "pack/") {
			packs++
		} else {
			index++
		}
	}
	return packs, index
}

// cars fetches every root as a CAR from a gateway over the stores.
func cars(t *testing.T, idx store.IndexStore, packs store.PackStore, roots []cid.Cid) map[string][]byte {
	t.Helper()
	srv := httptest.NewServer(gateway.New(streamer.New(index.NewReader(idx), packs)))
	defer srv.Close()
	out := make(map[string][]byte)
	for _, root := range roots {
		resp, err := http.Get(srv.URL + "/ipfs/" + root.String() + "?format=car")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("%s: status %d, %d bytes, %v", root, resp.StatusCode, len(body), err)
		}
		out[root.String()] = body
	}
	return out
}

func fsCARs(t *testing.T, dir string, roots []cid.Cid) map[string][]byte {
	return cars(t, fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack")), roots)
}

func s3CARs(t *testing.T, vars map[string]string, roots []cid.Cid) map[string][]byte {
	client := s3Server.Client()
	return cars(t,
		s3.NewIndexStore(client, vars[s3.EnvIndexBucket], s3.WithPrefix(vars[s3.EnvIndexPrefix])),
		s3.NewPackStore(client, vars[s3.EnvPackBucket], s3.WithPrefix(vars[s3.EnvPackPrefix])), roots)
}

func sameCARs(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d CARs, want %d", len(got), len(want))
	}
	for root, car := range want {
		if !bytes.Equal(got[root], car) {
			t.Errorf("%s: CAR of %d bytes, want the %d bytes of the source", root, len(got[root]), len(car))
		}
	}
}

// fs to fs: the copy is the same tree, file names (timestamps too) and
// bytes; run again it copies nothing; the progress bars show on a
// terminal.
func TestStoreCopyFS(t *testing.T) {
	src, roots := loadedStore(t)
	dst := filepath.Join(t.TempDir(), "copy")
	code, out, errOut := runCLI(t, src, "store", "copy", "--from", "fs", "--to", "fs", "--to-dir", dst, "--fsync=false", "-c", "3")
	if code != 0 {
		t.Fatalf("store copy: %d\n%s%s", code, out, errOut)
	}
	nPacks, nIndex := fsCount(t, src)
	if p, i := copied(t, out); p != [4]int{nPacks, 0, 0, 0} || i != [4]int{nIndex, 0, 0, 0} {
		t.Errorf("packs %v, index %v; want %d and %d copied\n%s", p, i, nPacks, nIndex, out)
	}
	sameTree(t, dst, src)
	sameCARs(t, fsCARs(t, dst, roots), fsCARs(t, src, roots))

	// Again, on a terminal: everything skipped, bars on stderr.
	var outBuf, errBuf bytes.Buffer
	env := &cliEnv{stdout: &outBuf, stderr: &errBuf, stderrIsTTY: true, getenv: func(k string) string {
		if k == envDir {
			return src
		}
		return ""
	}}
	if code := run(context.Background(), env, []string{"store", "copy", "--from", "fs", "--to", "fs", "--to-dir", dst}); code != 0 {
		t.Fatalf("store copy again: %d\n%s", code, errBuf.String())
	}
	if p, i := copied(t, outBuf.String()); p != [4]int{0, nPacks, 0, 0} || i != [4]int{0, nIndex, 0, 0} {
		t.Errorf("again: packs %v, index %v; want all skipped", p, i)
	}
	if !strings.Contains(errBuf.String(), "packs") || !strings.Contains(errBuf.String(), "index files") {
		t.Errorf("no progress bars on a terminal:\n%q", errBuf.String())
	}
	sameTree(t, dst, src)
}

// Bad flags are usage errors; a missing source folder is an error naming it.
func TestStoreCopyUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, `--from ""`},
		{[]string{"--from", "fs", "--to", "gcs"}, `--to "gcs"`},
		{[]string{"--from", "s3", "--to", "s3"}, "s3 to s3 is not supported"},
		{[]string{"--from", "fs", "--to", "fs"}, "needs --to-dir"},
		{[]string{"--from", "fs", "--to", "fs", "--to-dir", dir + "/."}, "the same folder"},
		{[]string{"--from", "fs", "--to", "fs", "--to-dir", t.TempDir(), "--concurrency", "0"}, "--concurrency 0"},
		{[]string{"--from", "fs", "--to", "fs", "--to-dir", t.TempDir(), "extra"}, "got 1 arguments"},
		{[]string{"--from", "fs", "--to", "fs", "--dir", filepath.Join(dir, "none"), "--to-dir", t.TempDir()}, "source: store folder " + filepath.Join(dir, "none")},
	} {
		code, _, errOut := runCLI(t, dir, append([]string{"store", "copy"}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 1 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

// newS3Vars returns the variables of a new, empty S3 store.
func newS3Vars(t *testing.T, dir string) map[string]string {
	return map[string]string{
		envDir:            dir,
		s3.EnvIndexBucket: s3Server.NewBucket(t),
		s3.EnvPackBucket:  s3Server.NewBucket(t),
		s3.EnvIndexPrefix: "idx/",
		s3.EnvPackPrefix:  "packs/",
	}
}

// fs to S3 against the real S3 server: the gateway over the S3 store serves
// the CARs the fs store serves, byte for byte; a second copy skips
// everything; S3 back to a new fs folder gives the same tree. The same for
// the store the JavaScript CLI wrote.
func TestStoreCopyS3(t *testing.T) {
	s3Server.Require(t)
	shared := testutil.Shared(t)
	jsStore := filepath.Join(shared, "interop", "js-fs-store")
	var exp struct {
		Files []struct {
			Containing struct {
				CID string `json:"cid"`
			} `json:"containing"`
		} `json:"files"`
	}
	raw, err := os.ReadFile(filepath.Join(shared, "interop", "expected.json"))
	if err != nil || json.Unmarshal(raw, &exp) != nil || len(exp.Files) != 3 {
		t.Fatalf("expected.json: %v", err)
	}
	var jsRoots []cid.Cid
	for _, f := range exp.Files {
		jsRoots = append(jsRoots, cid.MustParse(f.Containing.CID))
	}
	ours, roots := loadedStore(t)
	for _, tc := range []struct {
		name  string
		src   string
		roots []cid.Cid
	}{
		{"ours", ours, roots},
		{"js", jsStore, jsRoots},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := newS3Vars(t, tc.src)
			cli := s3CLI(t, vars)
			code, out, errOut := cli("store", "copy", "--from", "fs", "--to", "s3")
			if code != 0 {
				t.Fatalf("fs to s3: %d\n%s%s", code, out, errOut)
			}
			nPacks, nIndex := fsCount(t, tc.src)
			if p, i := copied(t, out); p != [4]int{nPacks, 0, 0, 0} || i != [4]int{nIndex, 0, 0, 0} {
				t.Errorf("packs %v, index %v; want %d and %d copied\n%s", p, i, nPacks, nIndex, out)
			}
			sameCARs(t, s3CARs(t, vars, tc.roots), fsCARs(t, tc.src, tc.roots))
			// The S3 layout: the doubled keys.
			keys := s3Server.Keys(t, vars[s3.EnvPackBucket], "")
			for name := range tree(t, tc.src) {
				if k, ok := strings.CutPrefix(name, "pack/"); ok {
					key := strings.TrimSuffix(k, ".car")
					if !slices.Contains(keys, "packs/"+key+"/"+key+".car") {
						t.Errorf("no S3 object for %s", name)
					}
				}
			}

			code, out, errOut = cli("store", "copy", "--from", "fs", "--to", "s3", "--concurrency", "2")
			if code != 0 {
				t.Fatalf("fs to s3 again: %d\n%s%s", code, out, errOut)
			}
			if p, i := copied(t, out); p != [4]int{0, nPacks, 0, 0} || i != [4]int{0, nIndex, 0, 0} {
				t.Errorf("again: packs %v, index %v; want all skipped", p, i)
			}

			back := filepath.Join(t.TempDir(), "back")
			vars[envDir] = back
			code, out, errOut = cli("store", "copy", "--from", "s3", "--to", "fs", "--fsync=false")
			if code != 0 {
				t.Fatalf("s3 to fs: %d\n%s%s", code, out, errOut)
			}
			sameTree(t, back, tc.src)
			sameCARs(t, fsCARs(t, back, tc.roots), fsCARs(t, tc.src, tc.roots))
		})
	}
}

// A pack whose bytes do not hash to its name fails the copy to S3 with a
// message naming it, and nothing of it is stored: no object, no multipart
// upload left open; a small one (one PutObject) and a large one (streamed
// in parts) alike. The other packs are copied.
func TestStoreCopyCorruptPack(t *testing.T) {
	s3Server.Require(t)
	dir := t.TempDir()
	big := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, testutil.HashStreamReader("store copy corrupt ", 20<<20)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, file := range []string{big, filepath.Join(testutil.RepoRoot(), "testdata", "hello.txt")} {
		if code, _, errOut := runCLI(t, dir, "pack", "write", file, "--fsync=false"); code != 0 {
			t.Fatalf("pack write: %s", errOut)
		}
	}
	packs, err := filepath.Glob(filepath.Join(dir, "pack", "*.car"))
	if err != nil || len(packs) != 2 {
		t.Fatalf("%d packs, %v", len(packs), err)
	}
	var keys []string
	for _, p := range packs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)-1] ^= 1 // the last byte: found only at the end
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, strings.TrimSuffix(filepath.Base(p), ".car"))
	}
	// And a good pack beside them.
	if code, _, errOut := runCLI(t, dir, "pack", "write", filepath.Join(testutil.Shared(t), "interop", "originals", "lorem.txt"), "--fsync=false"); code != 0 {
		t.Fatalf("pack write: %s", errOut)
	}
	vars := newS3Vars(t, dir)
	cli := s3CLI(t, vars)
	code, out, errOut := cli("store", "copy", "--from", "fs", "--to", "s3")
	if code != 1 || !strings.Contains(errOut, "do not hash to its multihash") {
		t.Fatalf("copy: %d\n%s%s", code, out, errOut)
	}
	if p, _ := copied(t, out); p != [4]int{1, 0, 2, 0} {
		t.Errorf("packs %v, want 1 copied and 2 failed", p)
	}
	packStore := s3.NewPackStore(s3Server.Client(), vars[s3.EnvPackBucket], s3.WithPrefix(vars[s3.EnvPackPrefix]))
	for _, k := range keys {
		if !strings.Contains(errOut, k) {
			t.Errorf("stderr does not name %s:\n%s", k, errOut)
		}
		mh, _ := store.ParseKey(k)
		if _, err := packStore.Stat(context.Background(), mh); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("pack %s at the destination: %v", k, err)
		}
	}
	uploads, err := s3Server.Client().ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(vars[s3.EnvPackBucket])})
	if err != nil || len(uploads.Uploads) != 0 {
		t.Errorf("multipart uploads left: %v %v", uploads, err)
	}
	if n := len(s3Server.Keys(t, vars[s3.EnvPackBucket], "")); n != 1 {
		t.Errorf("%d objects in the pack bucket, want the good pack", n)
	}
}

// A destination bucket that does not exist fails the first objects with a
// message saying so, and the copy stops after --max-failures of them. It
// needs a store that refuses a write to a missing bucket (S3 does): on one
// that creates the bucket on first write, an optional behaviour (SeaweedFS's
// -s3.autoCreateBucket, on by default), there is no missing bucket, and
// the test is skipped.
func TestStoreCopyMissingBucket(t *testing.T) {
	s3Server.Require(t)
	missing := "no-such-bucket-" + strings.ToLower(t.Name())
	skipIfBucketsMadeOnWrite(t, missing)
	src, _ := loadedStore(t)
	vars := newS3Vars(t, src)
	vars[s3.EnvPackBucket] = missing
	cli := s3CLI(t, vars)
	code, out, errOut := cli("store", "copy", "--from", "fs", "--to", "s3", "-c", "1", "--max-failures", "2")
	if code != 1 || !strings.Contains(errOut, "NoSuchBucket") || !strings.Contains(errOut, "then the copy stopped") {
		t.Fatalf("copy: %d\n%s%s", code, out, errOut)
	}
	if n := strings.Count(errOut, "level=ERROR"); n != 2 {
		t.Errorf("%d errors logged, want 2:\n%s", n, errOut)
	}
	if p, i := copied(t, out); p != [4]int{0, 0, 2, 0} || i != [4]int{} {
		t.Errorf("packs %v, index %v; want 2 packs failed and no index file tried", p, i)
	}
}

// skipIfBucketsMadeOnWrite writes an object to bucket, which must not
// exist, and skips t when the store made the bucket for it rather than
// answer NoSuchBucket (removing what the write made).
func skipIfBucketsMadeOnWrite(t *testing.T, bucket string) {
	t.Helper()
	ctx := context.Background()
	client := s3Server.Client()
	in := &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("probe"), Body: strings.NewReader("")}
	_, err := client.PutObject(ctx, in)
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket" {
		return
	}
	if err != nil {
		t.Fatalf("write to the missing bucket %s: %v, want NoSuchBucket", bucket, err)
	}
	if _, err := client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: in.Bucket, Key: in.Key}); err != nil {
		t.Errorf("delete the probe: %v", err)
	}
	if _, err := client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: in.Bucket}); err != nil {
		t.Errorf("delete the bucket the probe made: %v", err)
	}
	t.Skipf("the S3 store made the missing bucket %s on first write (an optional behaviour: SeaweedFS's -s3.autoCreateBucket); nothing to test", bucket)
}
