package testutil

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// InfraEnv returns the names of the environment variables that the infra's
// function fn (functionEnv for the gateway, indexerEnv for the indexer, in
// infra/stack.go) sets on a function. The infra does not import lib/ (see
// STYLE.md), so it keeps its own copy of the names; the functions' contract
// tests read them from its source with this.
func InfraEnv(tb testing.TB, fn string) []string {
	tb.Helper()
	path := filepath.Join(RepoRoot(), "infra", "stack.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	consts := map[string]string{}
	var decl *ast.FuncDecl
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			if d.Tok != token.CONST {
				continue
			}
			for _, spec := range d.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		case *ast.FuncDecl:
			if d.Name.Name == fn {
				decl = d
			}
		}
	}
	if decl == nil {
		tb.Fatalf("no %s in infra/stack.go", fn)
	}
	var names []string
	resolve := func(e ast.Expr) {
		switch e := e.(type) {
		case *ast.Ident:
			v, ok := consts[e.Name]
			if !ok {
				tb.Fatalf("infra/stack.go: %s key %s is not a string constant of the file", fn, e.Name)
			}
			names = append(names, v)
		case *ast.BasicLit:
			v, _ := strconv.Unquote(e.Value)
			names = append(names, v)
		default:
			tb.Fatalf("infra/stack.go: %s key %T not understood", fn, e)
		}
	}
	ast.Inspect(decl.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CompositeLit:
			if _, ok := n.Type.(*ast.MapType); ok {
				for _, el := range n.Elts {
					resolve(el.(*ast.KeyValueExpr).Key)
				}
			}
		case *ast.AssignStmt:
			for _, lhs := range n.Lhs {
				if ix, ok := lhs.(*ast.IndexExpr); ok {
					resolve(ix.Index)
				}
			}
		}
		return true
	})
	if len(names) == 0 {
		tb.Fatalf("infra/stack.go: %s sets no variable", fn)
	}
	return names
}

// CheckInfraEnv checks the contract between the infra's function fn (see
// InfraEnv) and a function's configuration: load (the function's
// loadConfig, reading through lookup) accepts what the infra sets (each
// variable "x", or its value in values: what the infra writes by default),
// reads every variable the infra sets, and fails without each of required,
// which the infra must set.
func CheckInfraEnv(t *testing.T, fn string, values map[string]string, required []string, load func(lookup func(string) (string, bool)) error) {
	t.Helper()
	set := InfraEnv(t, fn)
	vars := map[string]string{}
	for _, name := range set {
		vars[name] = "x"
	}
	maps.Copy(vars, values)
	var read []string
	lookup := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			read = append(read, k)
			v, ok := m[k]
			return v, ok
		}
	}
	if err := load(lookup(vars)); err != nil {
		t.Fatalf("the infra's environment %v: %v", set, err)
	}
	for _, name := range set {
		if !slices.Contains(read, name) {
			t.Errorf("the infra sets %s, which the function does not read", name)
		}
	}
	for _, name := range required {
		if !slices.Contains(set, name) {
			t.Errorf("the infra does not set %s", name)
		}
		without := maps.Clone(vars)
		delete(without, name)
		if err := load(lookup(without)); err == nil {
			t.Errorf("loadConfig without %s: no error", name)
		}
	}
}
