package peering

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

// forbiddenImports are packages a pure core must not use: I/O, loggers, goroutine
// machinery, the global clock's owners, and the edge packages. A trailing slash means the
// whole tree; otherwise the package and its subpackages. math/rand (v1, global state) is
// handled apart because math/rand/v2 with an injected *rand.Rand is allowed.
var forbiddenImports = []string{
	"net", "os", "log", "testing", "sync",
	"k8s.io/", "go.etcd.io/", "github.com/hashicorp/", "atoll/site",
}

// forbiddenTimeFuncs read the wall clock or own a timer.
var forbiddenTimeFuncs = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"}

func forbiddenImport(path string) bool {
	if path == "math/rand" {
		return true
	}
	for _, bad := range forbiddenImports {
		if strings.HasSuffix(bad, "/") {
			if strings.HasPrefix(path, bad) {
				return true
			}
		} else if path == bad || strings.HasPrefix(path, bad+"/") {
			return true
		}
	}
	return false
}

// impurities parses one source file and lists what makes it impure: forbidden imports,
// goroutines, and references to the wall clock or timers of package time (called or not,
// under whatever name time is imported).
func impurities(name string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var bad []string
	timeName := ""
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			return nil, err
		}
		if forbiddenImport(path) {
			bad = append(bad, fmt.Sprintf("%s: imports %q", fset.Position(imp.Pos()), path))
		}
		if imp.Name != nil && imp.Name.Name == "." {
			bad = append(bad, fmt.Sprintf("%s: dot-imports %q", fset.Position(imp.Pos()), path))
		}
		if path == "time" {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			bad = append(bad, fmt.Sprintf("%s: go statement", fset.Position(n.Pos())))
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName && slices.Contains(forbiddenTimeFuncs, n.Sel.Name) {
				bad = append(bad, fmt.Sprintf("%s: uses time.%s", fset.Position(n.Pos()), n.Sel.Name))
			}
		}
		return true
	})
	return bad, nil
}

// TestPure keeps peering a pure core (STYLE.md section 1): no sockets, files, loggers, locks,
// goroutines, wall clock or global randomness in non-test code.
func TestPure(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		bad, err := impurities(name, src)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Errorf("%s: peering is a pure core", b)
		}
		checked++
	}
	if checked < 5 {
		t.Fatalf("checked %d non-test files, want the package's sources (run from peering/)", checked)
	}
}

// TestPureCatches makes sure the checker itself can fail: every snippet but the clean ones
// must be reported.
func TestPureCatches(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want int // impurities expected
	}{
		{"clean", `package p; import ("time"; "math/rand/v2"); func f(now time.Time, r *rand.Rand) time.Time { return now.Add(time.Duration(r.IntN(3))) }`, 0},
		{"log/slog", `package p; import "log/slog"; var _ = slog.Info`, 1},
		{"net/http", `package p; import _ "net/http"`, 1},
		{"os", `package p; import _ "os"`, 1},
		{"sync/atomic", `package p; import _ "sync/atomic"`, 1},
		{"math/rand v1", `package p; import _ "math/rand"`, 1},
		{"hashicorp", `package p; import _ "github.com/hashicorp/memberlist"`, 1},
		{"etcd", `package p; import _ "go.etcd.io/bbolt"`, 1},
		{"k8s", `package p; import _ "k8s.io/client-go/kubernetes"`, 1},
		{"site", `package p; import _ "atoll/site/transport"`, 1},
		{"testing", `package p; import _ "testing"`, 1},
		{"time.Now", `package p; import "time"; var x = time.Now()`, 1},
		{"time.Since", `package p; import "time"; func f(t time.Time) time.Duration { return time.Since(t) }`, 1},
		{"time.Sleep renamed", `package p; import tm "time"; func f() { tm.Sleep(1) }`, 1},
		{"time.After", `package p; import "time"; func f() { <-time.After(1) }`, 1},
		{"time.NewTimer and NewTicker", `package p; import "time"; func f() { time.NewTimer(1); time.NewTicker(1) }`, 2},
		{"time.Now as a value", `package p; import "time"; var clock = time.Now`, 1},
		{"go func", `package p; func f() { go func() {}() }`, 1},
		{"go call", `package p; func g() {}; func f() { go g() }`, 1},
		{"dot import", `package p; import . "strings"; var _ = ToUpper`, 1},
	} {
		bad, err := impurities(tc.name+".go", []byte(tc.src))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(bad) != tc.want {
			t.Errorf("%s: got %d impurities %q, want %d", tc.name, len(bad), bad, tc.want)
		}
	}
}
