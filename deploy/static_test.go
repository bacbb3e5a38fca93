package deploy_test

import (
	"debug/elf"
	"os"
	"strings"
	"testing"
)

// buildCmd is the builder stage's command in the Dockerfile, which the image's final
// stage (distroless static: no libc, no dynamic loader) needs to produce a static binary.
const buildCmd = `RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/atoll ./cmd/atoll`

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
