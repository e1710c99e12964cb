package lambdatest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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

// Import paths of the functions.
const (
	GatewayPackage = "github.com/hash-stream/hash-stream-aws/functions/gateway"
	IndexerPackage = "github.com/hash-stream/hash-stream-aws/functions/indexer"
)

// ReleaseFlags are the go build flags of make build-lambda, besides
// GOOS/GOARCH and CGO_ENABLED=0.
var ReleaseFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// BuildGateway builds the gateway function as make build-lambda does, for
// linux/goarch, into out.
func BuildGateway(out, goarch string) error { return BuildFunction(out, goarch, GatewayPackage) }

// BuildFunction builds the function pkg (an import path) as make
// build-lambda does, for linux/goarch, into out.
func BuildFunction(out, goarch, pkg string) error {
	args := append(append([]string{"build"}, ReleaseFlags...), "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s GOARCH=%s: %v\n%s", pkg, goarch, err, b)
	}
	return nil
}

// GatewayBuild is a FunctionBuild of the gateway (its zero value).
type GatewayBuild = FunctionBuild

// FunctionBuild builds a function for this machine at most once (a test
// binary's tests share it); Remove deletes it, from TestMain.
type FunctionBuild struct {
	// Package is the function's import path; empty means the gateway.
	Package string

	once sync.Once
	dir  string
	path string
	err  error
}

// Path returns the built bootstrap, building it on first use; it skips
// the test off linux and fails it when the build fails.
func (g *FunctionBuild) Path(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the function is a linux binary")
	}
	g.once.Do(func() {
		if g.dir, g.err = os.MkdirTemp("", "function-bootstrap-"); g.err != nil {
			return
		}
		pkg := g.Package
		if pkg == "" {
			pkg = GatewayPackage
		}
		g.path = filepath.Join(g.dir, "bootstrap")
		g.err = BuildFunction(g.path, runtime.GOARCH, pkg)
	})
	if g.err != nil {
		t.Fatal(g.err)
	}
	return g.path
}

// Remove deletes the build, if any.
func (g *FunctionBuild) Remove() {
	if g.dir != "" {
		_ = os.RemoveAll(g.dir)
	}
}

// IsolatedEnv keeps a function away from the machine's AWS configuration
// and from the instance metadata service: its HOME and AWS files are in
// home, which should be an empty folder.
func IsolatedEnv(home string) []string {
	return []string{
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
}
