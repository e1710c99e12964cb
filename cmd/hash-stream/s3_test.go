package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

var s3Server *s3test.Server

func TestMain(m *testing.M) { s3test.Main(m, &s3Server) }

// s3CLI runs the CLI in-process against the real S3 server, configured as
// users do: vars (the store's variables) plus the server's endpoint through
// the CLI's getenv, and credentials and region by the AWS SDK, from the
// process. It skips t without a s3Server.
func s3CLI(t *testing.T, vars map[string]string) func(args ...string) (int, string, string) {
	t.Helper()
	s3Server.Require(t)
	for _, kv := range s3Server.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
		vars[k] = v
	}
	return func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		env := &cliEnv{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }}
		return run(context.Background(), env, args), out.String(), errOut.String()
	}
}

// The CLI against the real S3 server, configured as users do: the JS CLI's
// variables and the AWS SDK's usual chain (AWS_ENDPOINT_URL_S3 for a local
// server). pack write, index find records and streamer dump round trip.
func TestS3Backend(t *testing.T) {
	s3Server.Require(t)
	vars := map[string]string{
		envBackend:        "s3",
		s3.EnvIndexBucket: s3Server.NewBucket(t),
		s3.EnvPackBucket:  s3Server.NewBucket(t),
		s3.EnvIndexPrefix: "idx/",
		s3.EnvPackPrefix:  "packs/",
	}
	cli := s3CLI(t, vars)
	original := filepath.Join(testutil.Shared(t), "interop", "originals", "random-3m.bin")
	const root = "bafybeicnbjdnewgphuifn3mfbao2r4rbjyhyjc254pbmsaw3yq2gmyi4ha"
	code, out, errOut := cli("pack", "write", original, "-ps", "2200000")
	if code != 0 || !strings.Contains(out, root) || !strings.Contains(out, "Store backend: s3") {
		t.Fatalf("pack write: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = cli("index", "find", "records", root)
	if code != 0 || !strings.Contains(out, "CONTAINING") || strings.Count(out, "type: BLOB") != 6 {
		// the root's own BLOB record, and the 5 blobs below the CONTAINING record
		t.Fatalf("find records: %d\n%s%s", code, out, errOut)
	}
	car := filepath.Join(t.TempDir(), "out.car")
	if code, _, errOut := cli("streamer", "dump", root, car); code != 0 {
		t.Fatalf("dump: %s", errOut)
	}
	f, err := os.Open(car)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, blocks := testutil.MustReadCAR(t, f)
	if len(blocks) == 0 {
		t.Fatal("no block in the CAR")
	}
	var file []byte
	for _, b := range blocks[1:] { // leaves follow the root
		file = append(file, b.Data...)
	}
	want, _ := os.ReadFile(original)
	if sha256.Sum256(file) != sha256.Sum256(want) {
		t.Error("dumped file differs from the original")
	}
	// A missing bucket variable is a clear usage error.
	delete(vars, s3.EnvPackBucket)
	if code, _, errOut := cli("index", "find", "records", root); code != 1 || !strings.Contains(errOut, s3.EnvPackBucket) {
		t.Errorf("without %s: %d %q", s3.EnvPackBucket, code, errOut)
	}
}
