package kube

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestOnceWarnings: a member's warning is logged once however often it comes, and no
// more than maxWarnings distinct ones are remembered or logged.
func TestOnceWarnings(t *testing.T) {
	var buf bytes.Buffer
	w := &onceWarnings{log: slog.New(slog.NewTextHandler(&buf, nil)), seen: map[string]bool{}}
	for range 3 {
		w.HandleWarningHeader(299, "-", "would violate PodSecurity")
	}
	w.HandleWarningHeader(199, "-", "not a warning code")
	if n := strings.Count(buf.String(), "would violate PodSecurity"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, buf.String())
	}
	for i := range 2 * maxWarnings {
		w.HandleWarningHeader(299, "-", fmt.Sprint("warning ", i))
	}
	if n := strings.Count(buf.String(), "\n"); n != maxWarnings {
		t.Fatalf("%d lines logged, want %d", n, maxWarnings)
	}
	if len(w.seen) != maxWarnings {
		t.Fatalf("%d warnings remembered, want %d", len(w.seen), maxWarnings)
	}
}
