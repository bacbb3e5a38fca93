package main

import (
	"slices"

	"atoll/site"
)

// bodyLine says how the read API serves a workload's body (docs/SECURITY.md, "Secret
// values are never served"), so that a redacted template is never taken for the real
// one; "" if the workload has none.
func bodyLine(obj map[string]site.ObjectField) string {
	t, ok := obj["template"]
	if !ok {
		return ""
	}
	hash := t.Hash
	if len(hash) > 16 {
		hash = hash[:16]
	}
	var withheld []string
	for _, f := range obj {
		withheld = append(withheld, f.Withheld)
	}
	switch {
	case t.Withheld == site.WithheldSealed && t.Redacted:
		return "sealed, never served; this site holds the signed header only (hash " + hash + ")"
	case t.Withheld == site.WithheldSealed:
		return "sealed, never served; held at this site (hash " + hash + ")"
	case slices.Contains(withheld, site.WithheldOpaque):
		return "not served: a body field Atoll cannot read"
	case slices.Contains(withheld, site.WithheldSecret):
		return "served with Secret values redacted"
	}
	return "served in full"
}
