package crdt

import (
	"strings"
	"testing"
)

// signedOn signs a change on deps as author, as a peer or a hand-signing operator would.
func signedOn(t *testing.T, author *Signer, lamport uint64, deps []Hash, ops ...Op) *Envelope {
	t.Helper()
	env, err := Sign(&Change{Deps: deps, Lamport: lamport, Ops: ops}, nil, author)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestReplicasLimit(t *testing.T) {
	f := newFed(t)
	for _, tc := range []struct {
		value  string
		reason string // "" if accepted
	}{
		{"0", ""}, {"3", ""}, {"100000", ""},
		{"100001", ReasonLimit}, {"9000000000000000000", ReasonLimit}, {"99999999999999999999999999", ReasonLimit},
		{"", ReasonStructure}, {"-1", ReasonStructure}, {"+5", ReasonStructure}, {"007", ReasonStructure},
		{"1e5", ReasonStructure}, {"abc", ReasonStructure}, {" 5", ReasonStructure},
	} {
		r := f.replica(t, "")
		env := signedOn(t, f.ops["root"], 2, []Hash{f.genesis.ID}, set(KindWorkload, "shop/web", "replicas", tc.value))
		res := r.ReceiveEnvelope(env)
		switch {
		case tc.reason == "" && len(res.Rejected) > 0:
			t.Errorf("replicas %q rejected: %v", tc.value, res.Rejected[0].Err)
		case tc.reason != "" && len(res.Rejected) == 0:
			t.Errorf("replicas %q accepted", tc.value)
		case tc.reason != "":
			err := res.Rejected[0].Err
			if got := RejectReason(err); got != tc.reason {
				t.Errorf("replicas %q: reason %q, want %q (%v)", tc.value, got, tc.reason, err)
			}
			if tc.reason == ReasonLimit && (!strings.Contains(err.Error(), "limit of 100000") || !strings.Contains(err.Error(), tc.value[:min(len(tc.value), 20)])) {
				t.Errorf("replicas %q: the error does not name the value and the limit: %v", tc.value, err)
			}
		}
	}
	// Deleting replicas (a kind without them) is always fine.
	r := f.replica(t, "")
	mustWrite(t, r, f.ops["root"], Op{Type: OpDelete, Kind: KindWorkload, Key: "shop/web", Field: "replicas"})
}

// TestCharterGrantsReplicas: the limit is the charter's of the change's causal past, so a
// change concurrent with the charter change that raised it is still held to the default,
// at every replica, whatever it holds.
func TestCharterGrantsReplicas(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "")
	if _, _, err := r.Write(f.admins[0], []Op{MaxReplicasOp(500_000)}, nil, nil, f.admins[1]); err != nil {
		t.Fatal(err)
	}
	if got := r.Charter().MaxReplicas(); got != 500_000 {
		t.Fatalf("MaxReplicas = %d", got)
	}
	mustWrite(t, r, f.ops["root"], set(KindWorkload, "shop/web", "replicas", "500000"))
	if _, _, err := r.Write(f.ops["root"], []Op{set(KindWorkload, "shop/web", "replicas", "500001")}, nil, nil); RejectReason(err) != ReasonLimit {
		t.Errorf("500001 under a charter granting 500000: %v", err)
	}
	concurrent := signedOn(t, f.ops["root"], 2, []Hash{f.genesis.ID}, set(KindWorkload, "shop/db", "replicas", "200000"))
	if res := r.ReceiveEnvelope(concurrent); len(res.Rejected) == 0 || RejectReason(res.Rejected[0].Err) != ReasonLimit {
		t.Errorf("a change outside the charter change's future got its limit: %+v", res)
	}
	if got := f.replica(t, "").Charter().MaxReplicas(); got != DefaultMaxReplicas {
		t.Errorf("default MaxReplicas = %d", got)
	}
}

func TestMaxReplicasField(t *testing.T) {
	f := newFed(t)
	for _, op := range []Op{
		set(KindCharter, "", MaxReplicasField, "0"),
		set(KindCharter, "", MaxReplicasField, "abc"),
		set(KindCharter, "", MaxReplicasField, "2147483648"),
		{Type: OpDelete, Kind: KindCharter, Field: MaxReplicasField},
	} {
		r := f.replica(t, "")
		_, _, err := r.Write(f.admins[0], []Op{op}, nil, nil, f.admins[1])
		if RejectReason(err) != ReasonStructure {
			t.Errorf("%v %q: %v", op.Type, op.Value, err)
		}
	}
	r := f.replica(t, "")
	if _, _, err := r.Write(f.admins[0], []Op{MaxReplicasOp(MaxMaxReplicas)}, nil, nil, f.admins[1]); err != nil {
		t.Fatal(err)
	}
}

// TestReplayKeepsOverLimit: a change stored before the limit existed is restored from the
// replica's own store (the site's data file) as it was, and what builds on it too; the
// same change from a peer is rejected. The site refuses to divide such a workload.
func TestReplayKeepsOverLimit(t *testing.T) {
	f := newFed(t)
	old := signedOn(t, f.ops["root"], 2, []Hash{f.genesis.ID}, set(KindWorkload, "shop/web", "replicas", "9000000000000000000"))
	next := signedOn(t, f.sites["eu-west"], 3, []Hash{old.ID}, set(KindSite, "eu-west", "version", "2"))
	r := f.replica(t, "")
	for _, env := range []*Envelope{old, next} {
		if err := r.Restore(env.Encode()); err != nil {
			t.Fatalf("restore: %v", err)
		}
	}
	if v, ok := r.Get(KindWorkload, "shop/web", "replicas"); !ok || string(v.Bytes) != "9000000000000000000" {
		t.Errorf("restored replicas = %q, %v", v.Bytes, ok)
	}
	fresh := f.replica(t, "")
	res := fresh.ReceiveEnvelope(old)
	if len(res.Rejected) == 0 || RejectReason(res.Rejected[0].Err) != ReasonLimit {
		t.Fatalf("from a peer: %+v", res)
	}
	if res := fresh.ReceiveEnvelope(next); len(res.Rejected) == 0 || RejectReason(res.Rejected[0].Err) != ReasonDependency {
		t.Errorf("a change on it from a peer: %+v", res)
	}
}
