package testutil

import (
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// Shared returns the path of the shared fixtures folder (interop stores,
// conformance CARs). It is $HASH_STREAM_SHARED when set, else ../shared
// beside the repository. Tests that need it fail when it is missing.
func Shared(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("HASH_STREAM_SHARED")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "interop")); err != nil {
		tb.Fatalf("shared fixtures not found at %s (set HASH_STREAM_SHARED): %v", dir, err)
	}
	return dir
}

// RepoRoot returns the repository's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// HashStreamReader returns the deterministic content the interop vectors
// are made of: sha256(prefix + decimal i) for i = 0, 1, 2, ... concatenated
// and cut to size bytes. The 3 MB original uses the prefix
// "hash-stream interop random-3m " and the large vector
// "hash-stream interop large ".
func HashStreamReader(prefix string, size int64) io.Reader {
	return io.LimitReader(&hashStream{prefix: prefix}, size)
}

type hashStream struct {
	prefix string
	i      int
	in     []byte
	sum    [sha256.Size]byte
	buf    []byte
}

func (h *hashStream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(h.buf) == 0 {
			h.in = strconv.AppendInt(append(h.in[:0], h.prefix...), int64(h.i), 10)
			h.sum = sha256.Sum256(h.in)
			h.i++
			h.buf = h.sum[:]
		}
		c := copy(p[n:], h.buf)
		h.buf = h.buf[c:]
		n += c
	}
	return n, nil
}
