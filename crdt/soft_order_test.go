package crdt

import (
	"testing"
)

// Regression tests: what a replica holds of soft state must not depend on the order in
// which it heard records, changes and charter changes (the chaos simulator found each).

// sameSoft fails unless the replicas hold the same soft records.
func sameSoft(t *testing.T, what string, a, b *Replica) {
	t.Helper()
	ha, _ := a.SoftLen()
	hb, _ := b.SoftLen()
	if ha != hb || a.SoftDigest() != b.SoftDigest() {
		t.Fatalf("%s: %d records held (%s) vs %d (%s)", what, ha, a.SoftDigest(), hb, b.SoftDigest())
	}
}

// TestSoftKeyRotated: a site's key rotated, the records signed with the old one are no
// longer held, at a replica that held them as at one that heard them after the rotation;
// a record a thief signs with the old key is refused or, if it came first, set aside.
func TestSoftKeyRotated(t *testing.T) {
	f := newFed(t)
	old, next := f.sites["eu-west"], key("site eu-west 2")
	nextPub := next.Public()
	early, late := f.replica(t, ""), f.replica(t, "")
	rec := softRecord(t, f, old, 5, KindCluster, "eu-west/c0", "health", "healthy")
	stolen := softRecord(t, f, old, 1e9, KindCluster, "eu-west/c1", "health", "down")
	mustSoft(t, early, rec)
	mustSoft(t, early, stolen)
	rotation := mustWriteCo(t, early, f.admins[0], []Op{{Type: OpSet, Kind: KindCharter, Field: "site/eu-west/key", Value: nextPub[:]}}, f.admins[1])
	late.ReceiveEnvelope(rotation)
	for _, raw := range [][]byte{rec, stolen} {
		if _, err := late.ReceiveSoft(raw); err == nil {
			t.Fatal("a record signed with a key rotated out was accepted")
		}
	}
	if held, _ := early.SoftLen(); held != 0 {
		t.Fatalf("%d records signed with a key rotated out still held", held)
	}
	sameSoft(t, "after the rotation", early, late)
	fresh := softRecord(t, f, next, 6, KindCluster, "eu-west/c0", "health", "healthy")
	mustSoft(t, early, fresh)
	mustSoft(t, late, fresh)
	sameSoft(t, "a record with the new key", early, late)
	// The old key back in force (an amendment voided, or undone): what early accepted
	// with it is held again, and a session brings it to late, which refused it.
	oldPub := old.Public()
	back := mustWriteCo(t, early, f.admins[0], []Op{{Type: OpSet, Kind: KindCharter, Field: "site/eu-west/key", Value: oldPub[:]}}, f.admins[1])
	late.ReceiveEnvelope(back)
	if held, _ := early.SoftLen(); held != 2 {
		t.Fatalf("the old key back: %d records held, want its 2", held)
	}
	softSync(t, early, late)
	sameSoft(t, "the old key back, after a session", early, late)
}

// TestSoftClusterGone: a status held because its cluster is in the DAG waits again when
// the cluster is removed there, as at a replica that heard of it after the remove, and
// is held again at both when the cluster comes back.
func TestSoftClusterGone(t *testing.T) {
	f := newFed(t)
	eu := f.sites["eu-west"]
	w := f.replica(t, "")
	dag := []*Envelope{
		mustWrite(t, w, f.ops["shopdev"], set(KindWorkload, "shop/web", "replicas", "1")),
		mustWrite(t, w, eu, set(KindCluster, "eu-west/c0", "zone", "a")),
	}
	st := softRecord(t, f, eu, 3, KindStatus, "shop/web/eu-west/c0", "ready", "1")
	early, late := f.replica(t, ""), f.replica(t, "")
	for _, e := range dag {
		early.ReceiveEnvelope(e)
		late.ReceiveEnvelope(e)
	}
	if res := mustSoft(t, early, st); !res.Stored {
		t.Fatalf("status in a cluster of the DAG: %+v", res)
	}
	rm := mustWrite(t, w, eu, Op{Type: OpRemove, Kind: KindCluster, Key: "eu-west/c0"})
	early.ReceiveEnvelope(rm)
	late.ReceiveEnvelope(rm)
	if res := mustSoft(t, late, st); !res.Orphaned {
		t.Fatalf("status in a removed cluster: %+v", res)
	}
	sameSoft(t, "after the cluster's remove", early, late)
	back := mustWrite(t, w, eu, set(KindCluster, "eu-west/c0", "zone", "b"))
	early.ReceiveEnvelope(back)
	late.ReceiveEnvelope(back)
	if held, _ := early.SoftLen(); held != 1 {
		t.Fatalf("status not held again when its cluster came back: %d held", held)
	}
	sameSoft(t, "after the cluster came back", early, late)
}

// TestSoftWorkloadBack: a workload removed and written again has its status held again
// at a replica that held it before, as at one that received it meanwhile.
func TestSoftWorkloadBack(t *testing.T) {
	f := newFed(t)
	w := f.replica(t, "")
	add := mustWrite(t, w, f.ops["shopdev"], set(KindWorkload, "shop/web", "replicas", "1"))
	rm := mustWrite(t, w, f.ops["shopdev"], Op{Type: OpRemove, Kind: KindWorkload, Key: "shop/web"})
	again := mustWrite(t, w, f.ops["shopdev"], set(KindWorkload, "shop/web", "replicas", "2"))
	cl := softRecord(t, f, f.sites["eu-west"], 1, KindCluster, "eu-west/c0", "health", "healthy")
	st := softRecord(t, f, f.sites["eu-west"], 2, KindStatus, "shop/web/eu-west/c0", "ready", "1")
	early, late := f.replica(t, ""), f.replica(t, "")
	for _, r := range []*Replica{early, late} {
		mustSoft(t, r, cl)
		r.ReceiveEnvelope(add)
	}
	mustSoft(t, early, st)
	early.ReceiveEnvelope(rm)
	late.ReceiveEnvelope(rm)
	mustSoft(t, late, st)
	early.ReceiveEnvelope(again)
	late.ReceiveEnvelope(again)
	if held, _ := early.SoftLen(); held != 2 {
		t.Fatalf("the status did not come back with its workload: %d held", held)
	}
	sameSoft(t, "after the workload came back", early, late)
}

// TestSoftOrphanTie: two records of one object with one Seq (an equivocating writer),
// both waiting for their workload, resolve as held records do: the larger id, in either
// order.
func TestSoftOrphanTie(t *testing.T) {
	f := newFed(t)
	eu := f.sites["eu-west"]
	w := f.replica(t, "")
	add := mustWrite(t, w, f.ops["shopdev"], set(KindWorkload, "shop/web", "replicas", "1"))
	cl := softRecord(t, f, eu, 1, KindCluster, "eu-west/c0", "health", "healthy")
	x := softRecord(t, f, eu, 7, KindStatus, "shop/web/eu-west/c0", "ready", "x")
	y := softRecord(t, f, eu, 7, KindStatus, "shop/web/eu-west/c0", "ready", "y")
	a, b := f.replica(t, ""), f.replica(t, "")
	for _, raw := range [][]byte{cl, x, y} {
		mustSoft(t, a, raw)
	}
	for _, raw := range [][]byte{cl, y, x} {
		mustSoft(t, b, raw)
	}
	a.ReceiveEnvelope(add)
	b.ReceiveEnvelope(add)
	sameSoft(t, "equal Seqs adopted", a, b)
	want := x
	if idx, idy := SoftID(x), SoftID(y); compareHash(&idx, &idy) < 0 {
		want = y
	}
	if _, raw, ok := a.Soft(KindStatus, "shop/web/eu-west/c0"); !ok || string(raw) != string(want) {
		t.Fatal("the orphan kept is not the one with the larger id")
	}
}

// TestSoftOrphansPersist: an orphan is written to the data file like a held record, so a
// replica that restarts still holds it when its workload arrives.
func TestSoftOrphansPersist(t *testing.T) {
	f := newFed(t)
	w := f.replica(t, "")
	add := mustWrite(t, w, f.ops["shopdev"], set(KindWorkload, "shop/web", "replicas", "1"))
	r := f.replica(t, "")
	mustSoft(t, r, softRecord(t, f, f.sites["eu-west"], 1, KindCluster, "eu-west/c0", "health", "healthy"))
	mustSoft(t, r, softRecord(t, f, f.sites["eu-west"], 2, KindStatus, "shop/web/eu-west/c0", "ready", "1"))
	file := map[objKey][]byte{}
	for _, c := range r.TakeSoft() {
		file[objKey{c.Kind, c.Key}] = c.Raw
	}
	if len(file) != 2 {
		t.Fatalf("the data file would keep %d records, want the cluster's and the orphan", len(file))
	}
	restarted := f.replica(t, "")
	for _, raw := range file {
		if err := restarted.RestoreSoft(raw); err != nil {
			t.Fatal(err)
		}
	}
	restarted.ReceiveEnvelope(add)
	r.ReceiveEnvelope(add)
	if held, _ := restarted.SoftLen(); held != 2 {
		t.Fatalf("after a restart the orphan was lost: %d held", held)
	}
	sameSoft(t, "restarted", r, restarted)
}
