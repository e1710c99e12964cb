package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Node finds a Node >= 22 (on PATH, else the one .ci/tools.sh installs in
// .tools) and the node_modules folder holding the npm package pkg
// ($HASH_STREAM_NODE_MODULES, else .tools/node/node_modules). A missing
// one skips the test, or fails it when CI=true.
func Node(tb testing.TB, pkg string) (node, modules string) {
	tb.Helper()
	missing := func(format string, args ...any) {
		tb.Helper()
		msg := fmt.Sprintf(format, args...) + "; install with: bash .ci/tools.sh"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	root := RepoRoot()
	var candidates, seen []string
	if p, err := exec.LookPath("node"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, filepath.Join(root, ".tools", "node", "node_modules", ".bin", "node"))
	for _, c := range candidates {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, c, "--version").Output()
		cancel()
		v := strings.TrimSpace(string(out))
		seen = append(seen, c+" "+v)
		if err != nil {
			continue
		}
		major, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
		if n, err := strconv.Atoi(major); err == nil && n >= 22 {
			node = c
			break
		}
	}
	if node == "" {
		missing("no Node >= 22 for %s (found: %v)", pkg, seen)
	}
	modules = os.Getenv("HASH_STREAM_NODE_MODULES")
	if modules == "" {
		modules = filepath.Join(root, ".tools", "node", "node_modules")
	}
	if _, err := os.Stat(filepath.Join(modules, filepath.FromSlash(pkg), "package.json")); err != nil {
		missing("%s not installed in %s", pkg, modules)
	}
	return node, modules
}
