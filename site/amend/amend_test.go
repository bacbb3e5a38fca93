package amend

import (
	"crypto/sha256"
	"strings"
	"testing"

	"atoll/crdt"
	"atoll/site"
)

func key(name string) *crdt.Signer {
	seed := sha256.Sum256([]byte("amend test " + name))
	return crdt.SignerFromSeed(seed[:])
}

// fixture is a replica of a federation with admins ada, bob and cy (2 of 3), sites
// s00 and s01 and operator ops; and its charter and tip as GET /v1/charter serves them.
func fixture(t *testing.T) (*crdt.Replica, site.CharterDoc, site.Tip) {
	t.Helper()
	spec := crdt.CharterSpec{Name: "t", Threshold: 2}
	for _, a := range []string{"ada", "bob", "cy"} {
		spec.Admins = append(spec.Admins, crdt.Member{Name: a, Key: key(a).Public()})
	}
	for _, s := range []string{"s00", "s01"} {
		spec.Sites = append(spec.Sites, crdt.SiteInfo{Name: s, Key: key(s).Public(), Region: "r-" + s, Jurisdiction: "EU"})
	}
	spec.Operators = []crdt.OperatorInfo{{Name: "ops", Key: key("ops").Public(), Namespaces: []string{"*"}}}
	g, err := crdt.NewGenesis(spec, key("ada"), key("bob"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := crdt.NewReplica(crdt.Config{Genesis: g.Encode()})
	if err != nil {
		t.Fatal(err)
	}
	doc, tip := served(r)
	return r, doc, tip
}

func served(r *crdt.Replica) (site.CharterDoc, site.Tip) {
	obj, _ := r.Object(crdt.KindCharter, "")
	f := site.CharterFields{}
	for n, v := range obj {
		f[n] = v.Bytes
	}
	c := r.Prepare(nil, nil)
	tip := site.Tip{Lamport: c.Lamport}
	for _, d := range c.Deps {
		tip.Deps = append(tip.Deps, d.Hex())
	}
	return f.Doc(), tip
}

// TestAddSiteOffline proposes a new site, carries the file through YAML between two
// admins, and checks the replica accepts the assembled change and lists the site.
func TestAddSiteOffline(t *testing.T) {
	r, doc, tip := fixture(t)
	edits := Edits{AddSites: []site.CharterSite{{Name: "s02", Key: site.FormatKey(key("s02").Public()), Region: "ap-south", Jurisdiction: "APAC"}}}
	a, err := Propose(doc, tip, key("ada").Public(), edits)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Sign(key("ada")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Envelope(); err == nil || !strings.Contains(err.Error(), "1 more of bob, cy") {
		t.Fatalf("one signature of two: %v", err)
	}
	b, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	a, err = Load(b) // on bob's machine
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Diff) != 1 || !strings.HasPrefix(a.Diff[0], "+ site s02 region ap-south, jurisdiction APAC") {
		t.Errorf("diff %q", a.Diff)
	}
	if err := a.Sign(key("ada")); err == nil || !strings.Contains(err.Error(), "already signed") {
		t.Errorf("second signature of ada: %v", err)
	}
	if err := a.Sign(key("ops")); err == nil || !strings.Contains(err.Error(), "not an admin") {
		t.Errorf("operator's signature: %v", err)
	}
	if err := a.Sign(key("bob")); err != nil {
		t.Fatal(err)
	}
	if a.Awaiting != "" || strings.Join(a.SignedBy, ",") != "ada,bob" {
		t.Errorf("signed by %v, awaiting %q", a.SignedBy, a.Awaiting)
	}
	env, err := a.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	if res := r.Receive(env.Encode()); len(res.Stored) != 1 {
		t.Fatalf("replica refuses the amendment: %v", res.Rejected)
	}
	if s, ok := r.Charter().SiteByName("s02"); !ok || s.Jurisdiction != "APAC" {
		t.Fatalf("s02 not in the charter: %v", s)
	}
	after, _ := served(r)
	if want, _ := a.After(); len(Diff(want, after)) != 0 {
		t.Errorf("the file's after and the replica's differ: %q", Diff(want, after))
	}
}

// TestProposeRefuses names each mistake before anyone signs.
func TestProposeRefuses(t *testing.T) {
	_, doc, tip := fixture(t)
	k := func(n string) string { return site.FormatKey(key(n).Public()) }
	for _, c := range []struct {
		name  string
		edits Edits
		want  string
	}{
		{"nothing", Edits{}, "changes nothing"},
		{"duplicate", Edits{AddSites: []site.CharterSite{{Name: "s01", Key: k("x"), Region: "r", Jurisdiction: "EU"}}}, "duplicate name"},
		{"unknown", Edits{RemoveOperators: []string{"nobody"}}, `remove operator "nobody": unknown name`},
		{"key in use", Edits{AddObservers: []site.CharterMember{{Name: "w", Key: k("s00")}}}, "already used: site s00 and observer w"},
		{"rotate to a used key", Edits{RotateKeys: []Rotation{{"admin", "cy", k("ada")}}}, "already used"},
		{"threshold", Edits{Threshold: 4}, "threshold 4 is above the number of admins (3"},
		{"below threshold", Edits{RemoveAdmins: []string{"bob", "cy"}}, "threshold 2 is above the number of admins (1"},
		{"no admin", Edits{RemoveAdmins: []string{"ada", "bob", "cy"}, Threshold: 1}, "no admin"},
	} {
		_, err := Propose(doc, tip, key("ada").Public(), c.edits)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := Propose(doc, tip, key("ops").Public(), Edits{Threshold: 1}); err == nil || !strings.Contains(err.Error(), "not an admin") {
		t.Errorf("an operator proposes: %v", err)
	}
}

// TestRotateAndRemove rotates an admin's key, removes an operator and lowers the
// threshold, and checks the replica agrees with the file's after.
func TestRotateAndRemove(t *testing.T) {
	r, _, _ := fixture(t)
	amendBy(t, r, "bob", []string{"bob", "cy"}, Edits{
		RotateKeys: []Rotation{{"admin", "cy", site.FormatKey(key("cy2").Public())}}, RemoveOperators: []string{"ops"}, Threshold: 1,
	})
	after, _ := served(r)
	if len(after.Operators) != 0 || after.Threshold != 1 || r.Charter().Admins[key("cy2").Public()] != "cy" {
		t.Errorf("after: %+v", after)
	}
}

// TestRaiseFormat raises the charter's format level to 2: the diff names it, the replica
// accepts the assembled change and its charter is at level 2; a level at or below the
// charter's is refused.
func TestRaiseFormat(t *testing.T) {
	r, doc, tip := fixture(t)
	for _, c := range []struct {
		format int
		want   string
	}{{1, "at that level already"}, {-1, "a level is from 1"}} {
		if _, err := Propose(doc, tip, key("ada").Public(), Edits{Format: c.format}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("format %d: %v, want %q", c.format, err, c.want)
		}
	}
	a, err := Propose(doc, tip, key("ada").Public(), Edits{Format: crdt.FormatJobs})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Diff) != 1 || a.Diff[0] != "~ format 1 -> 2" {
		t.Errorf("diff %q", a.Diff)
	}
	for _, k := range []string{"ada", "bob"} {
		if err := a.Sign(key(k)); err != nil {
			t.Fatal(err)
		}
	}
	env, err := a.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	if res := r.Receive(env.Encode()); len(res.Stored) != 1 {
		t.Fatalf("replica refuses the amendment: %v", res.Rejected)
	}
	if got := r.Charter().Format(); got != crdt.FormatJobs {
		t.Fatalf("the charter's level: %d, want %d", got, crdt.FormatJobs)
	}
	doc, tip = served(r)
	if doc.Format != crdt.FormatJobs {
		t.Errorf("served charter: format %d", doc.Format)
	}
	if after, _ := a.After(); len(Diff(after, doc)) != 0 {
		t.Errorf("the file's after and the replica's differ: %q", Diff(after, doc))
	}
	if _, err := Propose(doc, tip, key("ada").Public(), Edits{Format: 1}); err == nil || !strings.Contains(err.Error(), "never goes down") {
		t.Errorf("lowering the level: %v", err)
	}
}
