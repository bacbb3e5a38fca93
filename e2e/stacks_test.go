package e2e

import (
	"strings"
	"testing"
)

// TestLongBlocked: of a site's last goroutine dump, only the goroutines that waited for
// minutes are kept.
func TestLongBlocked(t *testing.T) {
	log := "goroutine 1 [running]:\nold dump\n\n" +
		"SIGQUIT: quit\nPC=0x0\n\n" +
		"goroutine 7 [sync.Mutex.Lock, 2 minutes]:\nsync.(*Mutex).Lock()\natoll/site.(*Site).liveness()\n\n" +
		"goroutine 8 [select]:\nnet/http.(*conn).serve()\n\n" +
		"goroutine 9 [chan receive, 12 minutes]:\natoll/site.(*Site).viewLoop()\n"
	got := longBlocked(log)
	if !strings.Contains(got, "goroutine 7 ") || !strings.Contains(got, "goroutine 9 ") || strings.Contains(got, "goroutine 8 ") || strings.Contains(got, "old dump") {
		t.Fatalf("longBlocked kept:\n%s", got)
	}
	if longBlocked("no dump here") != "" {
		t.Fatal("a log without a dump gave goroutines")
	}
}
