package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"atoll/site"
)

// siteReader is what --wait needs of a site.
type siteReader interface {
	View(ctx context.Context) (site.View, error)
	Held(ctx context.Context, id string, wait time.Duration) (site.Held, error)
	Object(ctx context.Context, kind, key string) (map[string]site.ObjectField, error)
}

var _ siteReader = (*site.Client)(nil)

// waitPoll is how often --wait reads the view.
const waitPoll = 500 * time.Millisecond

// progress is where one workload's rollout (or removal) stands.
type progress struct {
	Key      string
	Done     bool
	Summary  string   // "3/4 ready", "deleted", "not in the view yet"
	Clusters []string // "s00/c0 2/3"
	Notes    []string // what else holds it up, shown under the clusters
	Pending  []string // what is not done yet, for the timeout message
}

// hold records something that holds the workload up, shown as a note.
func (p *progress) hold(s string) {
	p.Notes = append(p.Notes, s)
	p.Pending = append(p.Pending, s)
}

// line is the progress on one line, for output that is not a terminal.
func (p progress) line() string {
	s := p.Key + ": " + p.Summary
	if len(p.Clusters) > 0 {
		s += "; " + strings.Join(p.Clusters, ", ")
	}
	return s
}

// block is the progress with a line per cluster, for a terminal.
func (p progress) block() string {
	mark := "…"
	if p.Done {
		mark = "✓"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s\n", mark, p.Key, p.Summary)
	for _, c := range p.Clusters {
		fmt.Fprintf(&b, "    %s\n", c)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "    %s\n", n)
	}
	return b.String()
}

func findWorkload(v site.View, key string) (site.WorkloadView, bool) {
	for _, w := range v.Workloads {
		if w.Namespace+"/"+w.Name == key {
			return w, true
		}
	}
	return site.WorkloadView{}, false
}

// rolloutProgress is the readiness predicate of apply --wait. A workload is ready when
// it can be scheduled, no replica is missing, it is placed in at least one cluster
// (unless it wants no replicas), and every cluster of its placement reports as applied
// the replicas the placement gives it, and as many ready. This holds for Divided
// (the clusters' replicas sum to the workload's), Duplicated (each cluster runs them all)
// and kinds without replicas (each cluster reports 1 of 1 once the object exists).
func rolloutProgress(v site.View, key string) progress {
	p := progress{Key: key}
	w, ok := findWorkload(v, key)
	if !ok {
		p.Summary = "not in the view of " + v.Site + " yet"
		p.Pending = []string{p.Summary}
		return p
	}
	if w.Error != "" {
		p.Summary = "cannot be scheduled"
		p.hold(w.Error)
		return p
	}
	ready, want, placed := 0, 0, false
	for _, s := range w.Sites {
		if s.Replicas > 0 && !hasReplicas(s.Clusters) {
			p.hold(fmt.Sprintf("%s: %s and no cluster to run them", s.Name, plural(s.Replicas, "replica")))
		}
		for _, c := range s.Clusters {
			if c.Replicas <= 0 {
				continue
			}
			placed = true
			n := clusterWant(w.Placement, c)
			ready += min(c.Ready, n)
			want += n
			line, note := s.Name+"/"+c.Name+" "+ratio(c.Ready, n), ""
			// A kind that runs whole reports what its cluster means to run (clusterWant):
			// applied once it reports at all.
			whole := w.Replicas < 0 && c.Reported
			switch {
			case !whole && c.Desired == 0:
				note = " (not applied yet)"
			case !whole && c.Desired != c.Replicas:
				note = " (applied " + strconv.Itoa(c.Desired) + ")"
			}
			p.Clusters = append(p.Clusters, line+note)
			if !whole && c.Desired != c.Replicas || c.Ready < n {
				p.Pending = append(p.Pending, line+" ready"+note)
			}
		}
	}
	want += w.Missing
	if w.Missing > 0 {
		p.hold(fmt.Sprintf("%s missing%s", plural(w.Missing, "replica"), conditions(w.Conditions)))
	}
	if !placed && w.Missing == 0 && w.Replicas != 0 {
		p.hold("placed in no cluster" + conditions(w.Conditions))
	}
	p.Done = len(p.Pending) == 0
	p.Summary = ratio(ready, want) + " ready"
	if !placed && w.Missing == 0 {
		p.Summary = "placed in no cluster"
		if p.Done {
			p.Summary = "nothing to run"
		}
	}
	return p
}

func hasReplicas(cs []site.ClusterPlacement) bool {
	for _, c := range cs {
		if c.Replicas > 0 {
			return true
		}
	}
	return false
}

func conditions(cs []string) string {
	if len(cs) == 0 {
		return ""
	}
	return " (" + strings.Join(cs, "; ") + ")"
}

// removalProgress is the predicate of delete --wait: the workload is gone from the view
// and no site reports status for it any more (left: "site/cluster ready/desired" of the
// status objects that remain).
func removalProgress(v site.View, key string, left []string) progress {
	p := progress{Key: key, Clusters: left}
	if _, ok := findWorkload(v, key); ok {
		p.hold("still in the view of " + v.Site)
	}
	for _, l := range left {
		p.Pending = append(p.Pending, "status remains at "+l)
	}
	p.Done = len(p.Pending) == 0
	switch {
	case p.Done:
		p.Summary = "deleted"
	case len(p.Pending) > len(left):
		p.Summary = "removal not seen yet"
	default:
		p.Summary = "being pruned"
	}
	return p
}

// statusAt lists the clusters where a workload's status may exist: every cluster of its
// placement, and wherever a site reports it.
func statusAt(w site.WorkloadView) []string {
	var out []string
	for _, s := range w.Sites {
		for _, c := range s.Clusters {
			out = append(out, s.Name+"/"+c.Name)
		}
	}
	return out
}

// progressPrinter draws progress: redrawn in place on a terminal, otherwise a line each
// time a workload's progress changes.
type progressPrinter struct {
	out   io.Writer
	tty   bool
	lines int               // lines drawn last time (terminal)
	last  map[string]string // last line printed per workload (not a terminal)
}

func newProgressPrinter(out io.Writer) *progressPrinter {
	f, ok := out.(*os.File)
	return &progressPrinter{out: out, tty: ok && term.IsTerminal(int(f.Fd())), last: map[string]string{}}
}

func (pp *progressPrinter) draw(ps []progress) {
	if pp.tty {
		var b strings.Builder
		if pp.lines > 0 {
			fmt.Fprintf(&b, "\x1b[%dA\x1b[J", pp.lines) // up, and clear to the end of the screen
		}
		n := 0
		for _, p := range ps {
			s := p.block()
			b.WriteString(s)
			n += strings.Count(s, "\n")
		}
		pp.lines = n
		io.WriteString(pp.out, b.String())
		return
	}
	for _, p := range ps {
		if l := p.line(); pp.last[p.Key] != l {
			pp.last[p.Key] = l
			fmt.Fprintln(pp.out, l)
		}
	}
}

// waitSpec is what to wait for after a write.
type waitSpec struct {
	Changes []string // ids of the submitted changes: first held by the site
	Keys    []string // workloads applied or removed
	Removed bool     // wait for removal rather than readiness
	// StatusAt, for a removal, lists per workload where its status may remain.
	StatusAt map[string][]string
	Timeout  time.Duration
}

// waitDone waits until the site holds the changes, then until every workload is ready
// (or removed), drawing progress every waitPoll. On timeout it returns an exit status 1
// naming what is not done.
func waitDone(ctx context.Context, c siteReader, spec waitSpec, pp *progressPrinter) error {
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	timeout := func(what string) error {
		return &exitError{1, fmt.Errorf("timed out after %s waiting for %s", spec.Timeout, what)}
	}
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for _, id := range spec.Changes {
		for {
			h, err := c.Held(ctx, id, 10*time.Second)
			if ctx.Err() != nil {
				return timeout("the site to hold change " + id)
			}
			if err != nil {
				return err
			}
			if h.Held {
				break
			}
			select { // the site answers at once if it does not wait
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}
	left := map[string][]string{} // removal: workload -> "site/cluster ready/desired"
	var ps []progress
	for {
		v, err := c.View(ctx)
		if ctx.Err() != nil {
			return timeout(pendingText(ps))
		}
		if err != nil {
			return err
		}
		ps = ps[:0]
		for _, key := range spec.Keys {
			if !spec.Removed {
				ps = append(ps, rolloutProgress(v, key))
				continue
			}
			var remain []string
			if _, inView := findWorkload(v, key); !inView {
				if remain, err = remainingStatus(ctx, c, key, spec.StatusAt[key]); err != nil {
					if ctx.Err() != nil {
						return timeout(pendingText(ps))
					}
					return err
				}
				left[key] = remain
			} else {
				remain = left[key]
			}
			ps = append(ps, removalProgress(v, key, remain))
		}
		pp.draw(ps)
		if allDone(ps) {
			return nil
		}
		select {
		case <-ctx.Done():
			return timeout(pendingText(ps))
		case <-tick.C:
		}
	}
}

// remainingStatus returns the status objects of a workload that still exist, as
// "site/cluster ready/desired".
func remainingStatus(ctx context.Context, c siteReader, key string, at []string) ([]string, error) {
	var out []string
	for _, sc := range at {
		obj, err := c.Object(ctx, "status", key+"/"+sc)
		if err != nil {
			return nil, err
		}
		if obj != nil {
			out = append(out, sc+" "+obj["ready"].Value+"/"+obj["desired"].Value)
		}
	}
	return out, nil
}

func allDone(ps []progress) bool {
	for _, p := range ps {
		if !p.Done {
			return false
		}
	}
	return true
}

// pendingText lists what is not done, per workload, for the timeout message.
func pendingText(ps []progress) string {
	var parts []string
	for _, p := range ps {
		if !p.Done {
			parts = append(parts, p.Key+": "+strings.Join(p.Pending, ", "))
		}
	}
	if len(parts) == 0 {
		return "the site's view"
	}
	return strings.Join(parts, "; ")
}
