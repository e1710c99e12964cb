package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/logging"
)

// infraConsts returns the string constants of an infra file (infra
// imports nothing from lib/ and is a main package: its names are read from
// its source).
func infraConsts(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(testutil.RepoRoot(), "infra", file), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						out[name.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	return out
}

// The variables the infra sets on the invalidator (infra/heal.go:
// EnvDistributionID, EnvInvalidationsPerHour, and stack.go's EnvLogLevel)
// are the ones loadConfig reads, and it reads no other.
func TestInfraEnvIsWhatTheFunctionReads(t *testing.T) {
	heal, stack := infraConsts(t, "heal.go"), infraConsts(t, "stack.go")
	set := []string{heal["EnvDistributionID"], heal["EnvInvalidationsPerHour"], stack["EnvLogLevel"]}
	want := []string{envDistributionID, envInvalidationsPerHour, logging.EnvLevel}
	if !slices.Equal(set, want) {
		t.Fatalf("the infra sets %q, the function reads %q", set, want)
	}
	var read []string
	env := map[string]string{envDistributionID: "E2ABCDEF123456", envInvalidationsPerHour: "30", logging.EnvLevel: "info"}
	if _, err := loadConfig(func(k string) (string, bool) { read = append(read, k); v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(read)
	sort.Strings(want)
	if !slices.Equal(read, want) {
		t.Errorf("loadConfig reads %q, want %q", read, want)
	}
}
