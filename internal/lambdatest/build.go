package lambdatest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Build compiles the main package pkg (a path such as "./testdata/function",
// relative to the test's package directory, or an import path) into a
// binary named bootstrap in a temporary directory, with -tags lambda.norpc
// plus any extra tags and CGO_ENABLED=0, and returns its path. It fails the
// test if the build fails.
func Build(t testing.TB, pkg string, tags ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	tags = append([]string{"lambda.norpc"}, tags...)
	cmd := exec.Command("go", "build", "-tags", strings.Join(tags, ","), "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lambdatest: go build %s: %v\n%s", pkg, err, b)
	}
	return out
}
