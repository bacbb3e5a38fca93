package crdt

import (
	"strings"
	"testing"
)

// TestAssembleDetached signs a charter change on three "machines", one signature each,
// and checks that the assembled envelope is what Sign makes with all keys at hand.
func TestAssembleDetached(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "")
	spec := CharterSpec{Sites: []SiteInfo{{Name: "new", Key: key("site new").Public(), Region: "r", Jurisdiction: "EU"}}}
	c := r.Prepare(spec.Ops(), nil)
	c.Author = f.admins[0].Public()
	sig := f.admins[0].SignChange(c)
	cos := []Cosig{{Key: f.admins[2].Public(), Sig: f.admins[2].SignChange(c)}}
	if !VerifyChange(c, f.admins[2].Public(), cos[0].Sig) || VerifyChange(c, f.admins[1].Public(), cos[0].Sig) {
		t.Fatal("VerifyChange does not tell the signer")
	}
	env, err := Assemble(c, sig, cos)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Sign(r.Prepare(spec.Ops(), nil), nil, f.admins[0], f.admins[2])
	if err != nil {
		t.Fatal(err)
	}
	if env.ID != want.ID {
		t.Fatalf("assembled id %s, signed together %s", env.ID, want.ID)
	}
	if res := r.Receive(env.Encode()); len(res.Stored) != 1 {
		t.Fatalf("assembled change not stored: %+v", res.Rejected)
	}

	// A signature over other bytes, and a signer twice, are refused.
	c2 := r.Prepare(spec.Ops(), nil)
	c2.Author = f.admins[0].Public()
	if _, err := Assemble(c2, sig, nil); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Errorf("stale author signature: %v", err)
	}
	if _, err := Assemble(c2, f.admins[0].SignChange(c2), []Cosig{{f.admins[1].Public(), f.admins[1].SignChange(c2)}, {f.admins[1].Public(), f.admins[1].SignChange(c2)}}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("double cosigner: %v", err)
	}
}
