package policy

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

// forbiddenImports are packages this package must not use: it reads the files it is
// given and nothing else (STYLE.md section 1). A trailing slash means the whole tree;
// otherwise the package and its subpackages. "os" is allowed for osAllowed only.
var forbiddenImports = []string{
	"net", "os/exec", "os/signal", "os/user", "syscall", "log", "testing", "sync", "unsafe",
	"runtime", "plugin", "math/rand", "crypto/rand", "time",
	"k8s.io/client-go", "k8s.io/klog", "sigs.k8s.io/controller-runtime",
	"go.etcd.io/", "github.com/hashicorp/", "atoll/site", "atoll/peering", "atoll/crdt",
}

// osAllowed are the identifiers of package os this package may use: reading files.
var osAllowed = []string{"ReadFile", "Stat"}

func forbiddenImport(path string) bool {
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

// impurities parses one source file and lists what breaks the rule: forbidden imports,
// dot imports, goroutines, and uses of package os beyond reading files.
func impurities(name string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var bad []string
	osName := ""
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			return nil, err
		}
		if forbiddenImport(path) {
			bad = append(bad, fmt.Sprintf("%s: imports %q", fset.Position(imp.Pos()), path))
		}
		if imp.Name != nil && (imp.Name.Name == "." || imp.Name.Name == "_" && path == "os") {
			bad = append(bad, fmt.Sprintf("%s: imports %q as %s", fset.Position(imp.Pos()), path, imp.Name.Name))
		}
		if path == "os" {
			osName = "os"
			if imp.Name != nil {
				osName = imp.Name.Name
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			bad = append(bad, fmt.Sprintf("%s: go statement", fset.Position(n.Pos())))
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && osName != "" && id.Name == osName && !slices.Contains(osAllowed, n.Sel.Name) {
				bad = append(bad, fmt.Sprintf("%s: uses os.%s", fset.Position(n.Pos()), n.Sel.Name))
			}
		}
		return true
	})
	return bad, nil
}

// TestPure keeps policy a pure translation: it reads the files it is given, and has no
// network, processes, clocks, loggers, goroutines or Kubernetes clients.
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
			t.Errorf("%s: policy only reads the files it is given", b)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked %d non-test files, want the package's sources (run from policy/)", checked)
	}
}

// TestPureCatches makes sure the checker itself can fail.
func TestPureCatches(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want int // impurities expected
	}{
		{"clean", `package p; import ("os"; "io/fs"; "path/filepath"); func f(p string) ([]byte, error) { _, _ = os.Stat(p); _ = filepath.WalkDir; var _ fs.DirEntry; return os.ReadFile(p) }`, 0},
		{"os renamed, reading", `package p; import o "os"; var _, _ = o.ReadFile("x")`, 0},
		{"os.WriteFile", `package p; import "os"; var _ = os.WriteFile("x", nil, 0)`, 1},
		{"os.Create renamed", `package p; import o "os"; var _, _ = o.Create("x")`, 1},
		{"os.Stdin", `package p; import "os"; var _ = os.Stdin`, 1},
		{"os.Getenv and os.Exit", `package p; import "os"; func f() { os.Exit(len(os.Getenv("X"))) }`, 2},
		{"os blank", `package p; import _ "os"`, 1},
		{"os/exec", `package p; import _ "os/exec"`, 1},
		{"net/http", `package p; import _ "net/http"`, 1},
		{"syscall", `package p; import _ "syscall"`, 1},
		{"log/slog", `package p; import _ "log/slog"`, 1},
		{"time", `package p; import _ "time"`, 1},
		{"sync", `package p; import _ "sync"`, 1},
		{"client-go", `package p; import _ "k8s.io/client-go/kubernetes"`, 1},
		{"site", `package p; import _ "atoll/site/kube"`, 1},
		{"testing", `package p; import _ "testing"`, 1},
		{"go statement", `package p; func f() { go f() }`, 1},
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
