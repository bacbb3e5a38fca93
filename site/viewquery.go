package site

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds of a page of workloads (GET /v1/view?limit=).
const (
	maxViewLimit     = 1000 // the most workloads one answer holds when paged
	defaultViewLimit = 500  // a paged answer's size when ?limit is not given
	maxViewQuery     = 253  // the longest ?q and each ?namespace
)

// viewQuery is what a GET /v1/view asks for, parsed from its query string.
type viewQuery struct {
	fresh    bool          // wait for a view holding what was stored before the request
	after    uint64        // with hasAfter: wait for a view whose sequence is beyond
	hasAfter bool          //
	wait     time.Duration // bounds the wait of fresh or after

	// paged: the answer holds one page of the workloads that namespaces and q select,
	// in key order (namespace, then name), from the one after cont, with ViewPage.
	paged      bool
	namespaces []string // only these namespaces; none: all
	q          string   // only workloads whose namespace/name holds it, ignoring case
	limit      int      // at most this many workloads
	cont       workloadKey
}

// workloadKey orders workloads: by namespace, then name.
type workloadKey struct{ ns, name string }

func (k workloadKey) compare(o workloadKey) int {
	return cmp.Or(strings.Compare(k.ns, o.ns), strings.Compare(k.name, o.name))
}

// token is the continue token that resumes after k: opaque to callers.
func (k workloadKey) token() string {
	return base64.RawURLEncoding.EncodeToString([]byte(k.ns + "/" + k.name))
}

func parseToken(s string) (workloadKey, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return workloadKey{}, false
	}
	ns, name, ok := strings.Cut(string(b), "/")
	return workloadKey{ns, name}, ok && ns != "" && name != ""
}

// viewParams are the parameters GET /v1/view takes; any other is refused.
var viewParams = []string{"fresh", "after", "wait", "namespace", "q", "limit", "continue"}

// parseViewQuery reads a GET /v1/view query. maxWait bounds ?wait. An error names the
// parameter that is wrong.
func parseViewQuery(v url.Values, maxWait time.Duration) (viewQuery, error) {
	q := viewQuery{wait: min(defaultViewWait, maxWait), limit: defaultViewLimit}
	for k, vs := range v {
		if !slices.Contains(viewParams, k) {
			return q, fmt.Errorf("unknown parameter %q (want %s)", k, strings.Join(viewParams, ", "))
		}
		if len(vs) > 1 {
			return q, fmt.Errorf("parameter %q given %d times", k, len(vs))
		}
	}
	if s := v.Get("fresh"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, fmt.Errorf("fresh %q: want true or false", s)
		}
		q.fresh = b
	}
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, fmt.Errorf("after %q: want a view sequence (the %s header of an earlier answer)", s, viewSeqHeader)
		}
		q.after, q.hasAfter = n, true
	}
	if s := v.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > maxWait {
			return q, fmt.Errorf("wait %q: want a duration above 0 and at most %v", s, maxWait)
		}
		q.wait = d
	}
	if q.fresh && q.hasAfter {
		return q, fmt.Errorf("fresh and after: give one")
	}
	for _, p := range []string{"namespace", "q", "limit", "continue"} {
		q.paged = q.paged || v.Has(p)
	}
	if v.Has("namespace") {
		for ns := range strings.SplitSeq(v.Get("namespace"), ",") {
			if ns == "" || len(ns) > maxViewQuery || strings.Contains(ns, "/") {
				return q, fmt.Errorf("namespace %q: want namespaces separated by commas, each 1 to %d characters without /", v.Get("namespace"), maxViewQuery)
			}
			q.namespaces = append(q.namespaces, ns)
		}
	}
	q.q = strings.ToLower(v.Get("q"))
	if len(q.q) > maxViewQuery {
		return q, fmt.Errorf("q: %d characters, at most %d", len(q.q), maxViewQuery)
	}
	if v.Has("limit") {
		n, err := strconv.Atoi(v.Get("limit"))
		if err != nil || n < 1 || n > maxViewLimit {
			return q, fmt.Errorf("limit %q: want 1 to %d", v.Get("limit"), maxViewLimit)
		}
		q.limit = n
	}
	if v.Has("continue") {
		k, ok := parseToken(v.Get("continue"))
		if !ok {
			return q, fmt.Errorf("continue %q: not a token this site gave (the page's continue)", v.Get("continue"))
		}
		q.cont = k
	}
	return q, nil
}

// ViewPage says which part of the workloads a paged GET /v1/view holds.
type ViewPage struct {
	Total   int `json:"total"`   // workloads the caller may see
	Matched int `json:"matched"` // of them, those the filters select
	// Continue resumes after the last workload of this page (?continue=); empty on the
	// last page. It names a position in key order, so it stays valid across views.
	Continue string `json:"continue,omitempty"`
}

// pageView returns v as an identity of scope sees it (scopeView), with one page of the
// workloads q selects. v's workloads are in key order (Site.view sorts them).
func pageView(v View, scope []string, q viewQuery) View {
	all := v.Workloads
	v.Workloads = make([]WorkloadView, 0, min(q.limit, len(all)))
	p := &ViewPage{}
	var last workloadKey
	for _, w := range all {
		if scope != nil && !slices.Contains(scope, w.Namespace) {
			continue
		}
		p.Total++
		if !q.selects(w) {
			continue
		}
		p.Matched++
		k := workloadKey{w.Namespace, w.Name}
		if q.cont.ns != "" && k.compare(q.cont) <= 0 {
			continue
		}
		if len(v.Workloads) == q.limit {
			p.Continue = last.token()
			continue // counted, not served
		}
		v.Workloads = append(v.Workloads, w)
		last = k
	}
	if scope != nil {
		v.Scope = scopeName(scope)
		v.Events = scopeEvents(v.Events, scope)
	}
	v.Page = p
	return v
}

// selects reports whether w passes q's filters.
func (q viewQuery) selects(w WorkloadView) bool {
	if len(q.namespaces) > 0 && !slices.Contains(q.namespaces, w.Namespace) {
		return false
	}
	if q.q == "" {
		return true
	}
	return strings.Contains(strings.ToLower(w.Namespace+"/"+w.Name), q.q)
}

// sortWorkloads puts ws in key order, which paging relies on.
func sortWorkloads(ws []WorkloadView) {
	key := func(w WorkloadView) workloadKey { return workloadKey{w.Namespace, w.Name} }
	if !slices.IsSortedFunc(ws, func(a, b WorkloadView) int { return key(a).compare(key(b)) }) {
		slices.SortFunc(ws, func(a, b WorkloadView) int { return key(a).compare(key(b)) })
	}
}
