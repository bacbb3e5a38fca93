package deploy_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// buildCmd is the builder stage's command in the Dockerfile, which the image's final
// stage (distroless static: no libc, no dynamic loader) needs to produce a static binary.
const buildCmd = `RUN CGO_ENABLED=0 go build -tags release -trimpath -ldflags "-s -w" -o /out/atoll ./cmd/atoll`

// TestStaticBinary builds ./cmd/atoll as the Dockerfile does (Docker itself cannot run
// here) and checks that the result needs no dynamic loader: no PT_INTERP, no PT_DYNAMIC,
// no .interp or .dynamic section.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the atoll binary")
	}
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "\n"+buildCmd+"\n") {
		t.Fatalf("the Dockerfile no longer builds with\n\t%s\nupdate this test with it", buildCmd)
	}
	for _, line := range []string{"FROM gcr.io/distroless/static-debian12:nonroot", "USER nonroot", `ENTRYPOINT ["/atoll"]`, "COPY --from=build /out/atoll /atoll"} {
		if !strings.Contains(string(df), "\n"+line+"\n") {
			t.Errorf("the Dockerfile has no line %q", line)
		}
	}

	out := imageBinary(t)
	if why := dynamic(t, out); len(why) > 0 {
		t.Errorf("the binary is dynamically linked: %s", strings.Join(why, "; "))
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Section(".symtab") != nil {
		t.Error("symbol table present: -ldflags \"-s -w\" strips it")
	}
	// The checks can fail: /bin/sh is a dynamically linked program on Debian.
	if _, err := os.Stat("/bin/sh"); err == nil && len(dynamic(t, "/bin/sh")) == 0 {
		t.Error("/bin/sh passes as static: the checks see nothing")
	}
}

// dynamic lists what makes an ELF file need a dynamic loader.
func dynamic(t *testing.T, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var why []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			why = append(why, "program header "+p.Type.String())
		}
	}
	for _, s := range []string{".interp", ".dynamic"} {
		if f.Section(s) != nil {
			why = append(why, "section "+s)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		why = append(why, "libraries "+strings.Join(libs, ", "))
	}
	return why
}

// harness is what the commands sim, chaos, e2e and demo link: the release binary must
// carry none of it (cmd/atoll/harness.go).
var harness = []string{"atoll/chaos", "atoll/e2e", "atoll/e2e/netlab", "atoll/deploy/testenv", "atoll/examples/demo"}

// TestReleaseHasNoHarness: the binary the Dockerfile builds links no test harness and
// offers none of its commands; a build without the release tag (bin/atoll, what make
// demo and the tests run) does both, so the check can fail.
func TestReleaseHasNoHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the atoll binary")
	}
	deps := func(tags ...string) map[string]bool {
		out, err := exec.Command("go", append(append([]string{"list"}, tags...), "-deps", "../cmd/atoll")...).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		m := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			m[p] = true
		}
		return m
	}
	release, dev := deps("-tags", "release"), deps()
	for _, p := range harness {
		if release[p] {
			t.Errorf("the release binary links %s", p)
		}
		if !dev[p] {
			t.Errorf("the development binary does not link %s: is this list current?", p)
		}
	}
	help, err := exec.Command(imageBinary(t), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("atoll --help: %v\n%s", err, help)
	}
	for _, cmd := range []string{"sim", "chaos", "e2e", "demo"} {
		if strings.Contains(string(help), "\n  "+cmd+" ") {
			t.Errorf("the release binary offers `atoll %s`", cmd)
		}
	}
	if !strings.Contains(string(help), "\n  site ") {
		t.Errorf("atoll --help lists no site command:\n%s", help)
	}
}
