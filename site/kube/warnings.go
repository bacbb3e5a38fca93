package kube

import (
	"log/slog"
	"sync"
)

// A member's apiserver answers with warnings (a template that its Pod Security level
// would refuse, a deprecated API). client-go prints each one to stderr on every request
// by default: on every apply of every workload. An applier logs each distinct warning
// once instead, at most maxWarnings of them.

const maxWarnings = 256

// onceWarnings is a rest.WarningHandler that logs each distinct warning once.
type onceWarnings struct {
	log  *slog.Logger
	mu   sync.Mutex
	seen map[string]bool
}

func (w *onceWarnings) HandleWarningHeader(code int, agent, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	first := !w.seen[text] && len(w.seen) < maxWarnings
	if first {
		w.seen[text] = true
	}
	w.mu.Unlock()
	if first {
		w.log.Warn("the member cluster warns (logged once)", "warning", text)
	}
}
