package amend

import (
	"fmt"
	"strings"

	"atoll/site"
)

// Diff lists what changes from before to after, one line per entry: "+ site s03 ...",
// "- admin bob", "~ operator shop: namespaces shop -> shop,bank", "~ threshold 1 -> 2".
func Diff(before, after site.CharterDoc) []string {
	out := []string{}
	if before.Threshold != after.Threshold {
		out = append(out, fmt.Sprintf("~ threshold %d -> %d", before.Threshold, after.Threshold))
	}
	if b, a := max(before.Format, 1), max(after.Format, 1); b != a {
		out = append(out, fmt.Sprintf("~ format %d -> %d", b, a))
	}
	if before.MaxReplicas != after.MaxReplicas {
		out = append(out, fmt.Sprintf("~ maxReplicas %d -> %d", before.MaxReplicas, after.MaxReplicas))
	}
	b, a := described(before), described(after)
	for _, id := range order(before, after) {
		switch x, y := b[id], a[id]; {
		case x == "" && y != "":
			out = append(out, "+ "+id+" "+y)
		case x != "" && y == "":
			out = append(out, "- "+id)
		case x != y:
			out = append(out, "~ "+id+": "+x+" -> "+y)
		}
	}
	return out
}

// described maps "role name" to the entry's description.
func described(d site.CharterDoc) map[string]string {
	out := map[string]string{}
	for _, m := range d.Admins {
		out["admin "+m.Name] = "key " + m.Key
	}
	for _, s := range d.Sites {
		out["site "+s.Name] = fmt.Sprintf("region %s, jurisdiction %s, key %s", s.Region, s.Jurisdiction, s.Key)
		if s.Draining {
			out["site "+s.Name] += ", draining"
		}
	}
	for _, o := range d.Operators {
		q := ""
		if o.QuotaBytes > 0 {
			q = fmt.Sprintf(", quota %d bytes", o.QuotaBytes)
		}
		out["operator "+o.Name] = fmt.Sprintf("namespaces %s%s, key %s", strings.Join(o.Namespaces, ","), q, o.Key)
	}
	for _, m := range d.Observers {
		out["observer "+m.Name] = "key " + m.Key
	}
	return out
}

// order lists the entries of both charters, before's first, each once.
func order(docs ...site.CharterDoc) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range docs {
		for _, e := range entries(d) {
			id := e.role + " " + e.name
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}
