package crdt

import (
	"strings"
	"testing"
)

// A charter change by m of n admins marks a site as draining; "true" is the only value,
// and deleting the field ends the drain.
func TestCharterDrain(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "")
	draining := func() bool {
		s, ok := r.Charter().SiteByName("eu-north")
		if !ok {
			t.Fatal("eu-north left the charter")
		}
		return s.Draining
	}
	if draining() {
		t.Fatal("draining in the genesis")
	}
	field := "site/eu-north/drain"
	if _, _, err := r.Write(f.admins[0], []Op{set(KindCharter, "", field, "yes")}, nil, nil, f.admins[1]); err == nil || !strings.Contains(err.Error(), `the only value is "true"`) {
		t.Fatalf("drain %q: %v", "yes", err)
	}
	if _, _, err := r.Write(f.admins[0], []Op{set(KindCharter, "", field, "true")}, nil, nil); err == nil || draining() {
		t.Fatal("one admin's signature drained a site")
	}
	if _, _, err := r.Write(f.admins[0], []Op{set(KindCharter, "", field, "true")}, nil, nil, f.admins[1]); err != nil {
		t.Fatal(err)
	}
	if !draining() {
		t.Fatal("not draining after the change")
	}
	if _, _, err := r.Write(f.admins[1], []Op{{Type: OpDelete, Kind: KindCharter, Field: field}}, nil, nil, f.admins[2]); err != nil {
		t.Fatal(err)
	}
	if draining() {
		t.Fatal("still draining once the field is deleted")
	}
}
