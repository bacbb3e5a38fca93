package amend

import (
	"fmt"
	"strings"

	"atoll/site"
)

// RemovedSites names the sites whose key the amendment's operations delete: the sites it
// removes, whatever its edits say.
func (a *Amendment) RemovedSites() []string {
	var out []string
	for _, op := range a.Ops {
		rest, ok := strings.CutPrefix(op.Field, "site/")
		if name, ok2 := strings.CutSuffix(rest, "/key"); ok && ok2 && op.Op == "delete" && !strings.Contains(name, "/") {
			out = append(out, name)
		}
	}
	return out
}

// CheckRemovals refuses edits that remove a site still holding part of the workloads, as
// the federation's view shows it (GET /v1/view at any site: the status every site
// reports is replicated state): a site not drained first, or one whose clusters still
// run replicas. Removed at once, such a site's replicas would vanish before others
// replace them, or, if it never learns it was removed, keep running. The sites do not
// check this (a dead site never reports zero): it names a mistake before anyone signs.
func CheckRemovals(e Edits, sites []site.SiteView) error {
	for _, n := range e.RemoveSites {
		i := -1
		for j := range sites {
			if sites[j].Name == n {
				i = j
			}
		}
		if i < 0 {
			continue // not a site: ops names the mistake
		}
		s := sites[i]
		if !s.Draining {
			return fmt.Errorf("remove site %q: it is not drained: its share of the workloads would vanish before the others replace it; "+
				"drain it first (--drain-site %s), wait until it runs no replica, then remove it (--force removes it as it is)", n, n)
		}
		if s.Desired > 0 || s.Ready > 0 {
			return fmt.Errorf("remove site %q: it still runs replicas: %d desired, %d ready in its clusters, as it reports; "+
				"wait until the others have taken its share (atoll get sites), or give --force if it is gone for good", n, s.Desired, s.Ready)
		}
	}
	return nil
}
