package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// esbuildPath returns the esbuild .ci/tools.sh installs (found on PATH,
// which TestMain points at .tools), checked to be the version tools.sh
// pins: another version may minify differently. Without it the test is
// skipped, and fails in CI.
func esbuildPath(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	bin, err := exec.LookPath("esbuild")
	if err != nil {
		missing("esbuild not on PATH (run bash .ci/tools.sh): %v", err)
	}
	script, err := os.ReadFile("../.ci/tools.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ESBUILD_VERSION=(\S+)$`).FindSubmatch(script)
	if m == nil {
		t.Fatal(".ci/tools.sh pins no ESBUILD_VERSION")
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("esbuild --version: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != string(m[1]) {
		missing("%s is esbuild %s, .ci/tools.sh pins %s (run bash .ci/tools.sh)", bin, got, m[1])
	}
	return bin
}

// exportedHandler is how esbuild ends a module whose handler it renamed.
var exportedHandler = regexp.MustCompile(`export\s*\{\s*([A-Za-z_$][\w$]*)(?:\s+as\s+handler)?\s*\};?\s*$`)

// minifyCacheKey is what cachekey.min.js is made with: esbuild with
// EsbuildArgs on cachekey.js, read as a module (it imports 'cloudfront')
// that exports handler, so that every top-level name is shortened too.
// CloudFront calls a top-level function named handler, and no module
// syntax beyond the import is documented for the runtime: the export is
// replaced by a handler that calls the renamed one.
func minifyCacheKey(t *testing.T, esbuild string, src string) string {
	t.Helper()
	cmd := exec.Command(esbuild, EsbuildArgs...)
	cmd.Stdin = strings.NewReader(src + "\nexport { handler };\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("esbuild %v: %v\n%s", EsbuildArgs, err, stderr.Bytes())
	}
	m := exportedHandler.FindSubmatchIndex(out)
	if m == nil {
		t.Fatalf("esbuild's output does not end with the handler's export:\n%s", out[max(0, len(out)-200):])
	}
	name := string(out[m[2]:m[3]])
	code := string(out[:m[0]])
	if name != "handler" {
		code += fmt.Sprintf("async function handler(e){return %s(e)}", name)
	}
	return code + "\n"
}

// TestCacheKeyMinified checks that cachekey.min.js, which the stack
// deploys, is what cachekey.js minifies to (-update, or go generate
// ./infra, rewrites it), that it fits CloudFront's size quota, starts with
// the runtime's import, and holds only the syntax the runtime lists.
func TestCacheKeyMinified(t *testing.T) {
	src, err := os.ReadFile("cachekey.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "\nimport cf from 'cloudfront';\n") {
		t.Fatal("cachekey.js does not import the cloudfront module")
	}
	code := cacheKeyCode
	if esbuild := esbuildPath(t); esbuild != "" {
		want := minifyCacheKey(t, esbuild, string(src))
		if *update && want != code {
			if err := os.WriteFile("cachekey.min.js", []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("cachekey.min.js rewritten: %d bytes (cachekey.js: %d)", len(want), len(src))
			code = want
		} else if want != code {
			t.Errorf("cachekey.min.js is not the minified cachekey.js: run `go generate ./infra` and review the diff")
		}
	}
	t.Logf("function code: %d of %d bytes", len(code), MaxFunctionCodeBytes)
	if len(code) > MaxFunctionCodeBytes {
		t.Errorf("function code is %d bytes, over CloudFront's %d", len(code), MaxFunctionCodeBytes)
	}
	if !strings.HasPrefix(code, `import `) || !strings.Contains(code[:strings.IndexByte(code, ';')], `from"cloudfront"`) {
		t.Errorf("the code does not start with the import of the cloudfront module: %.60q", code)
	}
	if !regexp.MustCompile(`(^|[;}])async function handler\(`).MatchString(code) {
		t.Error("no top-level async function handler")
	}
	// Syntax esbuild may write when a target allows it and the runtime
	// does not list (a crude scan: none of these appear in the source's
	// strings or regular expressions): optional chaining, nullish
	// coalescing, optional catch binding, classes, module exports.
	for _, bad := range []string{"?.", "??", "catch{", "class ", "export"} {
		if strings.Contains(code, bad) {
			t.Errorf("the code holds %q, which the runtime does not list", bad)
		}
	}
}
