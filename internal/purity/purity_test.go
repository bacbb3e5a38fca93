package purity

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// catch is one snippet and the number of impurities a rule set must find in it.
type catch struct {
	name string
	src  string
	want int
}

func checkCatches(t *testing.T, r Rules, cases []catch) {
	t.Helper()
	for _, tc := range cases {
		bad, err := Source(tc.name+".go", []byte(tc.src), r)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(bad) != tc.want {
			t.Errorf("%s: got %d impurities %q, want %d", tc.name, len(bad), bad, tc.want)
		}
		for _, b := range bad {
			if !strings.HasPrefix(b, tc.name+".go:1:") {
				t.Errorf("%s: impurity %q has no file:line position", tc.name, b)
			}
		}
	}
}

// TestCoreCatches makes sure the checker can fail under Core plus peering's "atoll/site":
// every snippet but the clean ones must be reported.
func TestCoreCatches(t *testing.T) {
	checkCatches(t, Core.Forbid("atoll/site"), []catch{
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
		{"site itself", `package p; import _ "atoll/site"`, 1},
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
	})
}

// TestCoreAllows pins what Core leaves to a core package under site: values of package
// time, math/rand/v2, its sibling core packages, and the standard library's pure parts.
func TestCoreAllows(t *testing.T) {
	checkCatches(t, Core, []catch{
		{"site/core siblings", `package p; import (_ "atoll/site/core/plan"; _ "atoll/crdt"; _ "atoll/scheduler")`, 0},
		{"time values", `package p; import "time"; type S struct { At time.Time; Every time.Duration }; var d = 3 * time.Second; var _ = time.Unix(0, 0).Add(d)`, 0},
		{"rand v2", `package p; import "math/rand/v2"; func f(r *rand.Rand) int { return r.IntN(2) }`, 0},
		{"pure std", `package p; import (_ "fmt"; _ "errors"; _ "slices"; _ "maps"; _ "encoding/json")`, 0},
		{"site edges", `package p; import (_ "atoll/site/transport/tcp"; _ "atoll/site/store"; _ "atoll/site/kube")`, 3},
		{"wall clock", `package p; import "time"; func f() { _ = time.Until(time.Time{}); time.AfterFunc(1, nil); _ = time.Tick(1) }`, 3},
	})
}

// TestImportsConvention pins the trailing-slash convention and the math/rand rules.
func TestImportsConvention(t *testing.T) {
	r := Rules{Imports: []string{"net", "k8s.io/", "atoll/", "math/rand"}}
	for path, want := range map[string]bool{
		"net": true, "net/http": true, "network": false, "netip": false,
		"k8s.io/client-go/kubernetes": true, "k8s.io": false,
		"atoll/site": true, "atoll": false,
		"math/rand": true, "math/rand/v2": true, "math": false,
	} {
		if got := r.forbidsImport(path); got != want {
			t.Errorf("Imports %q: forbidsImport(%q) = %v, want %v", r.Imports, path, got, want)
		}
	}
	std := Rules{StdlibOnly: true}
	for path, want := range map[string]bool{
		"fmt": false, "encoding/json": false, "atoll/crdt": false,
		"github.com/x/y": true, "go.yaml.in/yaml/v3": true, "gopkg.in/evanphx/json-patch.v4": true, "k8s.io/api": true,
	} {
		if got := std.forbidsImport(path); got != want {
			t.Errorf("StdlibOnly: forbidsImport(%q) = %v, want %v", path, got, want)
		}
	}
	v1 := Rules{MathRandV1: true}
	if !v1.forbidsImport("math/rand") || v1.forbidsImport("math/rand/v2") {
		t.Error("MathRandV1 must forbid math/rand and allow math/rand/v2")
	}
}

// TestOSAllowedCatches makes sure the checker can fail under rules like policy's: package
// os for reading files only.
func TestOSAllowedCatches(t *testing.T) {
	r := Rules{
		Imports:      []string{"net", "os/exec", "syscall", "log", "testing", "sync", "time", "k8s.io/client-go", "atoll/site"},
		OSAllowed:    []string{"ReadFile", "Stat"},
		NoGo:         true,
		NoDotImports: true,
	}
	checkCatches(t, r, []catch{
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
	})
}

// TestZeroRulesAllow makes sure each check is off unless its rule is set.
func TestZeroRulesAllow(t *testing.T) {
	checkCatches(t, Rules{}, []catch{
		{"everything", `package p; import ("os"; "time"; _ "math/rand"; . "strings"); func f() { go f(); os.Exit(0); time.Sleep(1); _ = ToUpper }`, 0},
	})
}

// TestForbidCopies makes sure extending a rule set leaves the original alone.
func TestForbidCopies(t *testing.T) {
	before := slices.Clone(Core.Imports)
	a := Core.Forbid("atoll/a")
	b := Core.Forbid("atoll/b")
	if !slices.Equal(Core.Imports, before) {
		t.Fatalf("Forbid changed Core.Imports to %q", Core.Imports)
	}
	if !a.forbidsImport("atoll/a") || a.forbidsImport("atoll/b") || !b.forbidsImport("atoll/b") || b.forbidsImport("atoll/a") {
		t.Fatalf("Forbid results share storage: a=%q b=%q", a.Imports, b.Imports)
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper()                   {}
func (r *recorder) Error(args ...any)         { r.errors = append(r.errors, args[0].(string)) }
func (r *recorder) Fatal(args ...any)         { r.fatal = true }
func (r *recorder) Fatalf(string, ...any)     { r.fatal = true }
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, f) }

// TestCheckDir runs Check on a directory: test files are skipped, impurities carry
// file:line positions and the reason, and too few files fail.
func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.go", "package p\n\nimport \"time\"\n\nfunc f() time.Time { return time.Now() }\n")
	write("b.go", "package p\n\nfunc g() {}\n")
	write("a_test.go", "package p\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestX(t *testing.T) { go os.Exit(0) }\n")
	write("notes.txt", "import \"os\"\n")

	bad, n, err := Dir(dir, Core)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "a.go") + ":5:29: uses time.Now"
	if n != 2 || len(bad) != 1 || bad[0] != want {
		t.Fatalf("Dir = %q, %d files; want [%q], 2 files", bad, n, want)
	}

	rec := &recorder{}
	Check(rec, dir, Core, 2)
	if rec.fatal || len(rec.errors) != 1 || rec.errors[0] != want+": a pure core" {
		t.Fatalf("Check recorded %q (fatal %v), want one error %q", rec.errors, rec.fatal, want+": a pure core")
	}
	rec = &recorder{}
	Check(rec, dir, Rules{}, 3)
	if !rec.fatal || len(rec.errors) != 0 {
		t.Fatalf("Check with minFiles above the count recorded %q (fatal %v), want a fatal failure", rec.errors, rec.fatal)
	}
	rec = &recorder{}
	Check(rec, filepath.Join(dir, "missing"), Rules{}, 1)
	if !rec.fatal {
		t.Fatal("Check of a missing directory passed")
	}

	write("broken.go", "package p\n\nfunc {\n")
	if _, _, err := Dir(dir, Core); err == nil {
		t.Fatal("Dir of a directory with a file that does not parse returned no error")
	}
}
