package site

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestMemberlistLogCounts: memberlist's lines of a suspicion, a death and a refutation are
// counted whatever the log level, and passed on only if the site logs at that level.
func TestMemberlistLogCounts(t *testing.T) {
	var c counters
	var out bytes.Buffer
	inner := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})
	l := slog.NewLogLogger(memberlistLog{inner, &c}.WithAttrs([]slog.Attr{slog.String("component", "memberlist")}), slog.LevelDebug)
	for _, line := range []string{
		"[INFO] memberlist: Suspect s03 has failed, no acks received",
		"[INFO] memberlist: Suspect s04 has failed, no acks received",
		"[INFO] memberlist: Marking s03 as failed, suspect timeout reached (2 peer confirmations)",
		"[WARN] memberlist: Refuting a suspect message (from: s05)",
		"[WARN] memberlist: Refuting a dead message (from: s05)",
		"[DEBUG] memberlist: Stream connection from=127.0.0.1:4000",
	} {
		l.Print(line)
	}
	if c.suspects.Load() != 2 || c.deaths.Load() != 1 || c.refutes.Load() != 2 {
		t.Errorf("suspects %d, deaths %d, refutes %d; want 2, 1, 2", c.suspects.Load(), c.deaths.Load(), c.refutes.Load())
	}
	if out.Len() != 0 {
		t.Errorf("debug lines reached a handler at info:\n%s", out.String())
	}
	debug := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})
	slog.NewLogLogger(memberlistLog{debug, &c}, slog.LevelDebug).Print("[INFO] memberlist: Suspect s03 has failed, no acks received")
	if !strings.Contains(out.String(), "Suspect s03") || c.suspects.Load() != 3 {
		t.Errorf("at debug: suspects %d, log %q", c.suspects.Load(), out.String())
	}
}
