package e2e

import (
	"os"
	"strings"
	"syscall"
	"time"
)

// DumpStacks makes every running site print its goroutines (SIGQUIT: the Go runtime
// writes them to the site's log and exits) and returns, per site, the goroutines that
// had been blocked for a minute or more: what a hang leaves behind. A failed test calls
// it before stopping the sites, so a site that stopped answering says where it waits.
func (f *Fed) DumpStacks() map[string]string {
	f.sup.stop() // a supervised site is not restarted after its dump
	out := map[string]string{}
	for i, name := range f.Names {
		f.mu.Lock()
		p := f.procs[i]
		f.mu.Unlock()
		if p == nil || p.hasExited() {
			continue
		}
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			continue
		}
		b, err := os.ReadFile(strings.TrimSuffix(f.configs[i], ".yaml") + ".log")
		if err != nil {
			continue
		}
		if s := longBlocked(string(b)); s != "" {
			out[name] = s
		}
	}
	return out
}

// longBlocked returns the goroutines of the last dump in log whose wait is counted in
// minutes, at most 8 KB of them.
func longBlocked(log string) string {
	at := strings.LastIndex(log, "SIGQUIT: quit")
	if at < 0 {
		return ""
	}
	var b strings.Builder
	for g := range strings.SplitSeq(log[at:], "\n\n") {
		head, _, _ := strings.Cut(g, "\n")
		if strings.HasPrefix(head, "goroutine ") && strings.Contains(head, "minutes]") {
			b.WriteString(g)
			b.WriteString("\n\n")
		}
		if b.Len() > 8000 {
			break
		}
	}
	return b.String()
}
