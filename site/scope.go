package site

import (
	"slices"
	"strings"
)

// What an operator reads of the federation is filtered to its namespaces (Identity.scope):
// the view's workloads, events and audit records of other namespaces are left out, and
// the answer says so (View.Scope, the Atoll-Scope header). Sites and clusters are the
// federation's, and every identity sees them.

// scopeHeader names, on a filtered answer, the namespaces it was filtered to.
const scopeHeader = "Atoll-Scope"

// scopeView returns v as an identity of scope sees it; scope nil is everything.
func scopeView(v View, scope []string) View {
	if scope == nil {
		return v
	}
	v.Scope = scopeName(scope)
	ws := make([]WorkloadView, 0, len(v.Workloads))
	for _, w := range v.Workloads {
		if slices.Contains(scope, w.Namespace) {
			ws = append(ws, w)
		}
	}
	v.Workloads = ws
	v.Events = scopeEvents(v.Events, scope)
	return v
}

// scopeName is how a scope is named in answers: its namespaces, comma-separated;
// "-" for none.
func scopeName(scope []string) string {
	if len(scope) == 0 {
		return "-"
	}
	return strings.Join(scope, ",")
}

// scopeEvents keeps the events an identity of scope may see: those of sites and
// clusters, and those whose every object is a workload of its namespaces. Events about
// the charter or about peers' rejected changes are site internals.
func scopeEvents(evs []Event, scope []string) []Event {
	if scope == nil {
		return evs
	}
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		if eventVisible(e, scope) {
			out = append(out, e)
		}
	}
	return out
}

func eventVisible(e Event, scope []string) bool {
	switch e.Kind {
	case "site", "cluster":
		return true
	}
	if e.Object == "" {
		return false
	}
	for _, key := range strings.Split(e.Object, ",") {
		ns, name, ok := strings.Cut(key, "/")
		if !ok || name == "" || !slices.Contains(scope, ns) {
			return false
		}
	}
	return true
}

// scopeAudit keeps the records of workloads of scope's namespaces: "sent" records name
// changes, not workloads, and are left out.
func scopeAudit(recs []AuditRecord, scope []string) []AuditRecord {
	if scope == nil {
		return recs
	}
	out := []AuditRecord{}
	for _, r := range recs {
		if ns, _, ok := strings.Cut(r.Workload, "/"); ok && slices.Contains(scope, ns) {
			out = append(out, r)
		}
	}
	return out
}
