package purity

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Check fails t for every impurity in the non-test .go files of dir, and fails it too
// when fewer than minFiles files were checked (a guard against checking the wrong
// directory, which would pass vacuously).
func Check(t testing.TB, dir string, r Rules, minFiles int) {
	t.Helper()
	bad, n, err := Dir(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		if r.Why != "" {
			b += ": " + r.Why
		}
		t.Error(b)
	}
	if n < minFiles {
		t.Fatalf("checked %d non-test files in %s, want at least %d (the package's sources)", n, dir, minFiles)
	}
}

// Dir checks every non-test .go file of dir against r. It returns the impurities found,
// each as "file:line:col: what", and the number of files checked.
func Dir(dir string, r Rules) (impurities []string, files int, err error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, 0, err
	}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, files, err
		}
		bad, err := Source(name, src, r)
		if err != nil {
			return nil, files, err
		}
		impurities = append(impurities, bad...)
		files++
	}
	return impurities, files, nil
}

// Source checks one file's source against r; name is used in positions only.
func Source(name string, src []byte, r Rules) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var bad []string
	report := func(pos token.Pos, format string, args ...any) {
		bad = append(bad, fset.Position(pos).String()+": "+fmt.Sprintf(format, args...))
	}
	var osName, timeName string
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fset.Position(imp.Pos()), err)
		}
		if r.forbidsImport(path) {
			report(imp.Pos(), "imports %q", path)
		}
		local := ""
		if imp.Name != nil {
			local = imp.Name.Name
		}
		switch {
		case local == "." && r.NoDotImports:
			report(imp.Pos(), "dot-imports %q", path)
		case local == "_" && path == "os" && r.OSAllowed != nil:
			report(imp.Pos(), "imports %q blank", path)
		}
		if local == "" {
			local = filepath.Base(path)
		}
		switch path {
		case "os":
			osName = local
		case "time":
			timeName = local
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			if r.NoGo {
				report(n.Pos(), "go statement")
			}
		case *ast.SelectorExpr:
			id, ok := n.X.(*ast.Ident)
			if !ok {
				break
			}
			if r.OSAllowed != nil && osName != "" && id.Name == osName && !slices.Contains(r.OSAllowed, n.Sel.Name) {
				report(n.Pos(), "uses os.%s", n.Sel.Name)
			}
			if timeName != "" && id.Name == timeName && slices.Contains(r.TimeFuncs, n.Sel.Name) {
				report(n.Pos(), "uses time.%s", n.Sel.Name)
			}
		}
		return true
	})
	return bad, nil
}
