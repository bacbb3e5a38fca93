package amend

import (
	"slices"
	"strings"
	"testing"

	"atoll/site"
)

// A site moved to another jurisdiction: the amendment's diff says so, the replica agrees
// with the file, and a move that names nothing to change or an unknown site is refused.
func TestMoveSite(t *testing.T) {
	r, doc, tip := fixture(t)
	name := doc.Sites[0].Name
	a := amendAt(t, r, Edits{MoveSites: []site.CharterSite{{Name: name, Jurisdiction: "CH"}}})
	if !slices.ContainsFunc(a.Diff, func(l string) bool { return strings.Contains(l, name) && strings.Contains(l, "CH") }) {
		t.Fatalf("diff %q does not show %s moving to CH", a.Diff, name)
	}
	if info, ok := r.Charter().SiteByName(name); !ok || info.Jurisdiction != "CH" || info.Region != doc.Sites[0].Region {
		t.Fatalf("after the move: %+v", info)
	}
	for _, e := range []Edits{
		{MoveSites: []site.CharterSite{{Name: name}}},
		{MoveSites: []site.CharterSite{{Name: "nowhere", Region: "x"}}},
		{MoveSites: []site.CharterSite{{Name: name, Jurisdiction: "E U"}}},
	} {
		if _, err := Propose(doc, tip, key("ada").Public(), e); err == nil {
			t.Errorf("Propose(%+v) accepted", e.MoveSites)
		}
	}
}
