package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	out, err := run(t, "version", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var b buildInfo
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if b.Version != version || b.Go != runtime.Version() {
		t.Fatalf("version --json = %+v, want version %q and go %q", b, version, runtime.Version())
	}
	out, err = run(t, "version")
	if err != nil || !strings.HasPrefix(out, "atoll "+version+"\n") {
		t.Fatalf("version = %q, %v", out, err)
	}
}
