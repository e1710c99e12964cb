package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// infraEnv returns the names of the variables the infra's functionEnv
// (infra/stack.go) sets. The infra does not import lib/ (see STYLE.md), so
// it keeps its own copy of the names; this reads them from its source.
func infraEnv(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "..", "infra", "stack.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var fn *ast.FuncDecl
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
			if d.Name.Name == "functionEnv" {
				fn = d
			}
		}
	}
	if fn == nil {
		t.Fatal("no functionEnv in infra/stack.go")
	}
	var names []string
	resolve := func(e ast.Expr) {
		switch e := e.(type) {
		case *ast.Ident:
			v, ok := consts[e.Name]
			if !ok {
				t.Fatalf("infra/stack.go: functionEnv key %s is not a string constant of the file", e.Name)
			}
			names = append(names, v)
		case *ast.BasicLit:
			v, _ := strconv.Unquote(e.Value)
			names = append(names, v)
		default:
			t.Fatalf("infra/stack.go: functionEnv key %T not understood", e)
		}
	}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
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
		t.Fatal("infra/stack.go: functionEnv sets no variable")
	}
	return names
}

// Every variable the infra sets on the function is one the function
// reads, and what the infra sets is enough: loadConfig accepts it, and
// fails without each variable it requires.
func TestInfraEnvIsWhatTheFunctionReads(t *testing.T) {
	set := infraEnv(t)
	vars := map[string]string{}
	for _, name := range set {
		vars[name] = "x"
	}
	vars[envLogLevel] = "info" // the infra writes a level name
	var read []string
	getenv := func(k string) string {
		read = append(read, k)
		return vars[k]
	}
	if _, err := loadConfig(getenv); err != nil {
		t.Fatalf("the infra's environment %v: %v", set, err)
	}
	for _, name := range set {
		if !slices.Contains(read, name) {
			t.Errorf("the infra sets %s, which the function does not read", name)
		}
	}
	for _, required := range []string{envIndexBucket, envPackBucket} {
		if !slices.Contains(set, required) {
			t.Errorf("the infra does not set %s", required)
		}
		without := map[string]string{}
		for k, v := range vars {
			if k != required {
				without[k] = v
			}
		}
		if _, err := loadConfig(func(k string) string { return without[k] }); err == nil {
			t.Errorf("loadConfig without %s: no error", required)
		}
	}
}
