package amend

import (
	"strings"
	"testing"

	"atoll/crdt"
	"atoll/site"
)

// amendAt proposes edits on the replica's charter, signs them by ada and bob, and
// applies the change.
func amendAt(t *testing.T, r *crdt.Replica, e Edits) *Amendment {
	t.Helper()
	return amendBy(t, r, "ada", []string{"ada", "bob"}, e)
}

// amendBy proposes e at r as the admin named by, has signers sign it, and has r take it.
func amendBy(t *testing.T, r *crdt.Replica, by string, signers []string, e Edits) *Amendment {
	t.Helper()
	doc, tip := served(r)
	a, err := Propose(doc, tip, key(by).Public(), e)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range signers {
		if err := a.Sign(key(s)); err != nil {
			t.Fatal(err)
		}
	}
	env, err := a.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	if res := r.Receive(env.Encode()); len(res.Stored) != 1 {
		t.Fatalf("refused: %v", res.Rejected)
	}
	after, _ := served(r)
	if want, _ := a.After(); len(Diff(want, after)) != 0 {
		t.Errorf("file and replica differ: %q", Diff(want, after))
	}
	return a
}

// TestDrainThenRemove drains a site, undrains and drains it again, and removes it; the
// replica agrees with every file, and the drain field goes with the site.
func TestDrainThenRemove(t *testing.T) {
	r, _, _ := fixture(t)
	a := amendAt(t, r, Edits{DrainSites: []string{"s01"}})
	if len(a.Diff) != 1 || !strings.HasSuffix(a.Diff[0], ", draining") {
		t.Errorf("drain diff %q", a.Diff)
	}
	if s, _ := r.Charter().SiteByName("s01"); !s.Draining {
		t.Fatal("s01 not draining")
	}
	doc, tip := served(r)
	if _, err := Propose(doc, tip, key("ada").Public(), Edits{DrainSites: []string{"s01"}}); err == nil || !strings.Contains(err.Error(), "draining already") {
		t.Errorf("drain twice: %v", err)
	}
	amendAt(t, r, Edits{UndrainSites: []string{"s01"}})
	if s, _ := r.Charter().SiteByName("s01"); s.Draining {
		t.Fatal("s01 still draining")
	}
	amendAt(t, r, Edits{DrainSites: []string{"s01"}})
	if a := amendAt(t, r, Edits{RemoveSites: []string{"s01"}}); strings.Join(a.RemovedSites(), ",") != "s01" {
		t.Errorf("removed sites %v, want s01", a.RemovedSites())
	}
	if _, ok := r.Charter().SiteByName("s01"); ok {
		t.Fatal("s01 still in the charter")
	}
	obj, _ := r.Object(crdt.KindCharter, "")
	for f := range obj {
		if strings.HasPrefix(f, "site/s01/") {
			t.Errorf("field %s left behind", f)
		}
	}
}

// TestCheckRemovals refuses to remove a site that was not drained or still runs
// replicas, and names what to do.
func TestCheckRemovals(t *testing.T) {
	rm := Edits{RemoveSites: []string{"s01"}}
	for _, c := range []struct {
		name string
		s01  site.SiteView
		want string
	}{
		{"not drained", site.SiteView{Name: "s01"}, "not drained"},
		{"runs replicas", site.SiteView{Name: "s01", Draining: true, Desired: 3, Ready: 2}, "still runs replicas: 3 desired, 2 ready"},
		{"replicas ready, none desired", site.SiteView{Name: "s01", Draining: true, Ready: 1}, "still runs replicas"},
		{"drained", site.SiteView{Name: "s01", Draining: true}, ""},
	} {
		err := CheckRemovals(rm, []site.SiteView{{Name: "s00", Desired: 5}, c.s01})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if err := CheckRemovals(Edits{DrainSites: []string{"s00"}}, []site.SiteView{{Name: "s00", Desired: 5}}); err != nil {
		t.Errorf("a drain is not a removal: %v", err)
	}
}
