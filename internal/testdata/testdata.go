// Package testdata locates the fixtures shared with the JavaScript Hash
// Stream project (../shared beside the repository) for tests.
package testdata

import (
	"os"
	"path/filepath"
	"runtime"
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
