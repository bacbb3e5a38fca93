package crdt

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestStatusChangeSize(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "eu-west")
	env := mustWrite(t, r, f.sites["eu-west"], set(KindStatus, StatusKey("shop", "web", "eu-west", "c1"), "ready", "3"))
	if n := len(env.Encode()); n >= 300 {
		t.Fatalf("a one-field status change costs %d bytes, want < 300", n)
	}
	t.Logf("one-field status change: %d bytes", len(env.Encode()))
}

func TestWriteAndRead(t *testing.T) {
	f := newFed(t)
	a, b := f.replica(t, "eu-west"), f.replica(t, "us-east")
	e1 := mustWrite(t, a, f.ops["shopdev"], set(KindWorkload, "shop/web", "replicas", "6"))
	e2 := mustWrite(t, b, f.sites["us-east"], set(KindCluster, "us-east/c1", "health", "ok"))
	for _, res := range []Result{b.Receive(e1.Encode()), a.Receive(e2.Encode())} {
		if len(res.Stored) != 1 || len(res.Rejected) != 0 {
			t.Fatalf("receive: %+v", res)
		}
	}
	if a.Digest() != b.Digest() {
		t.Fatalf("digests differ: %s vs %s", a, b)
	}
	v, ok := b.Get(KindWorkload, "shop/web", "replicas")
	if !ok || string(v.Bytes) != "6" {
		t.Fatalf("replicas = %q, %v", v.Bytes, ok)
	}
	if got := a.Keys(KindCluster, ""); len(got) != 1 || got[0] != "us-east/c1" {
		t.Fatalf("clusters = %v", got)
	}
}

func TestScope(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "")
	cases := []struct {
		name   string
		signer *Signer
		op     Op
		want   string
	}{
		{"site writes another site's cluster", f.sites["eu-west"], set(KindCluster, "us-east/c1", "health", "ok"), "outside the author's scope"},
		{"site writes another site's status", f.sites["eu-west"], set(KindStatus, "shop/web/us-east/c1", "ready", "1"), "outside the author's scope"},
		{"site writes a workload", f.sites["eu-west"], set(KindWorkload, "shop/web", "replicas", "1"), "not granted"},
		{"operator outside its namespace", f.ops["shopdev"], set(KindWorkload, "bank/web", "replicas", "1"), "not granted"},
		{"operator writes a cluster", f.ops["root"], set(KindCluster, "eu-west/c1", "health", "ok"), "outside the author's scope"},
		{"unknown key", key("stranger"), set(KindSite, "eu-west", "version", "1"), "unknown key"},
		{"unknown field", f.sites["eu-west"], set(KindSite, "eu-west", "colour", "1"), "unknown field"},
		{"bad key", f.sites["eu-west"], set(KindCluster, "eu-west/C_1", "health", "ok"), "invalid segment"},
		{"charter by one admin of 2", f.admins[0], set(KindCharter, "", "name", "x"), "needs 2"},
		{"charter by a site", f.sites["eu-west"], set(KindCharter, "", "name", "x"), "not an admin"},
		{"policy outside the operator's namespace", f.ops["shopdev"], set(KindPolicy, "propagationpolicy/bank/web", "object", "{}"), "not granted"},
		{"cluster policy by an operator of one namespace", f.ops["shopdev"], set(KindPolicy, "clusterpropagationpolicy/all", "object", "{}"), "needs every namespace"},
		{"cluster override policy by an operator of one namespace", f.ops["shopdev"], set(KindPolicy, "clusteroverridepolicy/all", "object", "{}"), "needs every namespace"},
		{"policy by a site", f.sites["eu-west"], set(KindPolicy, "overridepolicy/shop/web", "object", "{}"), "not granted"},
		{"policy of an unknown kind", f.ops["root"], set(KindPolicy, "schedulingpolicy/shop/web", "object", "{}"), "want propagationpolicy"},
		{"cluster policy with a namespace", f.ops["root"], set(KindPolicy, "clusterpropagationpolicy/shop/web", "object", "{}"), "want propagationpolicy"},
		{"policy with a bad name", f.ops["root"], set(KindPolicy, "propagationpolicy/shop/Web", "object", "{}"), "invalid name"},
		{"policy field", f.ops["root"], set(KindPolicy, "propagationpolicy/shop/web", "spec", "{}"), "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := r.Digest()
			_, _, err := r.Write(tc.signer, []Op{tc.op}, nil, nil)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if r.Digest() != before || r.Len() != 1 {
				t.Fatalf("a rejected change touched the state")
			}
		})
	}
}

// TestPolicyScope: an operator writes the policies of its namespaces, and one granted
// every namespace writes the cluster-scoped ones.
func TestPolicyScope(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "")
	mustWrite(t, r, f.ops["shopdev"], set(KindPolicy, PolicyKey("PropagationPolicy", "shop", "web"), "object", "{}"),
		set(KindPolicy, PolicyKey("OverridePolicy", "shop", "web"), "object", "{}"))
	mustWrite(t, r, f.ops["root"], set(KindPolicy, PolicyKey("ClusterPropagationPolicy", "", "all"), "object", "{}"),
		set(KindPolicy, PolicyKey("ClusterOverridePolicy", "", "all"), "object", "{}"))
	want := []string{"clusteroverridepolicy/all", "clusterpropagationpolicy/all", "overridepolicy/shop/web", "propagationpolicy/shop/web"}
	if got := r.Keys(KindPolicy, ""); !slices.Equal(got, want) {
		t.Fatalf("policies = %v, want %v", got, want)
	}
}

func TestCharterThreshold(t *testing.T) {
	f := newFed(t)
	r := f.replica(t, "")
	newSite := key("site new")
	spec := CharterSpec{Sites: []SiteInfo{{Name: "new", Key: newSite.Public(), Region: "r", Jurisdiction: "EU"}}}
	if _, _, err := r.Write(f.admins[0], spec.Ops(), nil, nil, f.admins[2]); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Charter().SiteByName("new"); !ok {
		t.Fatal("new site not in charter")
	}
	mustWrite(t, r, newSite, set(KindSite, "new", "version", "1"))
	// Raising the threshold beyond the admins would lock the charter forever.
	_, _, err := r.Write(f.admins[0], CharterSpec{Threshold: 4}.Ops(), nil, nil, f.admins[1], f.admins[2])
	if err == nil || !strings.Contains(err.Error(), "3 admins") {
		t.Fatalf("err = %v", err)
	}
}

func TestForgedAndMalformed(t *testing.T) {
	f := newFed(t)
	a, b := f.replica(t, ""), f.replica(t, "")
	env := mustWrite(t, a, f.sites["eu-west"], set(KindSite, "eu-west", "version", "1"))
	raw := env.Encode()
	forged := append([]byte(nil), raw...)
	forged[len(forged)-10] ^= 1 // inside the signature
	res := b.Receive(forged)
	if len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Err.Error(), "bad signature") {
		t.Fatalf("forged: %+v", res)
	}
	for i := 0; i < len(raw); i++ {
		if res := b.Receive(raw[:i]); len(res.Rejected) != 1 || len(res.Stored) != 0 {
			t.Fatalf("truncated to %d: %+v", i, res)
		}
	}
	if b.Len() != 1 {
		t.Fatal("something was stored")
	}
	if res := b.Receive(raw); len(res.Stored) != 1 {
		t.Fatalf("the genuine change after forgeries: %+v", res)
	}
}

func TestPendingAndRelease(t *testing.T) {
	f := newFed(t)
	a, b := f.replica(t, ""), f.replica(t, "")
	var envs []*Envelope
	for i := 0; i < 5; i++ {
		envs = append(envs, mustWrite(t, a, f.sites["eu-west"], set(KindSite, "eu-west", "version", string(rune('a'+i)))))
	}
	for i := len(envs) - 1; i > 0; i-- {
		if res := b.ReceiveEnvelope(envs[i]); res.Buffered != 1 {
			t.Fatalf("change %d: %+v", i, res)
		}
	}
	if m := b.Missing(10); len(m) != 1 || m[0] != envs[0].ID {
		t.Fatalf("missing = %v, want [%s]", m, envs[0].ID)
	}
	res := b.ReceiveEnvelope(envs[0])
	if len(res.Stored) != 5 || b.PendingLen() != 0 || b.Digest() != a.Digest() {
		t.Fatalf("release: stored %d pending %d", len(res.Stored), b.PendingLen())
	}
}

func TestPendingIsBounded(t *testing.T) {
	f := newFed(t)
	cfg := Config{Genesis: f.genesis.Encode(), MaxPending: 100, MaxPendingBytes: 1 << 20}
	r, err := NewReplica(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := f.sites["eu-west"]
	for i := 0; i < 1000; i++ {
		c := &Change{Lamport: 5, Deps: []Hash{BodyHash([]byte{byte(i), byte(i >> 8)})}, Ops: []Op{set(KindSite, "eu-west", "version", "x")}}
		env, err := Sign(c, nil, s)
		if err != nil {
			t.Fatal(err)
		}
		r.ReceiveEnvelope(env)
	}
	if r.PendingLen() > 100 {
		t.Fatalf("pending = %d, bound 100", r.PendingLen())
	}
}

func TestResidency(t *testing.T) {
	f := newFed(t)
	eu, us, eu2 := f.replica(t, "eu-west"), f.replica(t, "us-east"), f.replica(t, "eu-north")
	body := []byte(`{"containers":[{"name":"app","image":"bank:1","env":[{"name":"IBAN_KEY","value":"secret"}]}]}`)
	ops := []Op{
		set(KindWorkload, "bank/ledger", "bound", "EU"),
		set(KindWorkload, "bank/ledger", "replicas", "3"),
		SealOp(KindWorkload, "bank/ledger", "template", body),
	}
	env, _, err := eu.Write(f.ops["root"], ops, [][]byte{body}, []string{"EU"})
	if err != nil {
		t.Fatal(err)
	}
	// The EU replica hands the body to the other EU site only.
	toUS, _ := eu.EnvelopeFor(env.ID, f.sites["us-east"].Public())
	toEU, _ := eu.EnvelopeFor(env.ID, f.sites["eu-north"].Public())
	if strings.Contains(string(toUS), "IBAN_KEY") || !strings.Contains(string(toEU), "IBAN_KEY") {
		t.Fatal("body sent outside the bound, or withheld inside it")
	}
	// Even given the whole envelope, a replica outside the bound keeps only the header.
	res := us.Receive(env.Encode())
	if len(res.Stored) != 1 || len(res.Stored[0].Bodies) != 0 {
		t.Fatalf("us stored %+v", res)
	}
	v, _ := us.Get(KindWorkload, "bank/ledger", "template")
	if !v.Redacted || v.Bytes != nil {
		t.Fatalf("us sees %+v", v)
	}
	// An EU replica that first hears the header from outside gets the body later.
	eu2.Receive(toUS)
	if v, _ := eu2.Get(KindWorkload, "bank/ledger", "template"); !v.Redacted {
		t.Fatal("eu2 shows a body it has not received")
	}
	if res := eu2.Receive(toEU); len(res.Stored) != 1 {
		t.Fatalf("body fill: %+v", res)
	}
	v, _ = eu2.Get(KindWorkload, "bank/ledger", "template")
	if string(v.Bytes) != string(body) {
		t.Fatalf("eu2 body = %q", v.Bytes)
	}
	if d := eu.Digest(); us.Digest() != d || eu2.Digest() != d {
		t.Fatal("replicas inside and outside the bound disagree on the digest")
	}
	// A bounded workload's body in the clear is refused.
	_, _, err = eu.Write(f.ops["root"], []Op{set(KindWorkload, "bank/x", "bound", "EU"), set(KindWorkload, "bank/x", "template", "leak")}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "must be sealed") && !strings.Contains(err.Error(), "differs") {
		t.Fatalf("clear body: err = %v", err)
	}
}

// A change whose dependencies are missing waits in the pending buffer only if its author
// is a member of the charter: a stranger's is refused without being remembered, and is
// accepted once the charter change that admits its author has arrived.
func TestPendingOnlyForMembers(t *testing.T) {
	f := newFed(t)
	a, b := f.replica(t, ""), f.replica(t, "")
	newSite := key("site new")
	spec := CharterSpec{Sites: []SiteInfo{{Name: "new", Key: newSite.Public(), Region: "r", Jurisdiction: "EU"}}}
	admit, _, err := a.Write(f.admins[0], spec.Ops(), nil, nil, f.admins[2])
	if err != nil {
		t.Fatal(err)
	}
	first := mustWrite(t, a, newSite, set(KindSite, "new", "version", "1"))
	second := mustWrite(t, a, newSite, set(KindSite, "new", "version", "2"))

	// At b the new site is a stranger and second's dependency is missing.
	res := b.ReceiveEnvelope(second)
	if res.Unbuffered != 1 || res.Buffered != 0 || len(res.Rejected) != 0 || b.PendingLen() != 0 {
		t.Fatalf("a stranger's change with missing dependencies: %+v, pending %d", res, b.PendingLen())
	}
	// A flood of strangers' changes leaves the buffer empty.
	for i := range 100 {
		c := &Change{Lamport: 5, Deps: []Hash{BodyHash([]byte{byte(i)})}, Ops: []Op{set(KindSite, "eu-west", "version", "x")}}
		env, err := Sign(c, nil, key("stranger"))
		if err != nil {
			t.Fatal(err)
		}
		if res := b.ReceiveEnvelope(env); res.Unbuffered != 1 {
			t.Fatalf("stranger %d: %+v", i, res)
		}
	}
	if b.PendingLen() != 0 {
		t.Fatalf("pending = %d after a strangers' flood", b.PendingLen())
	}
	// A member's change with missing dependencies still waits.
	member := mustWrite(t, a, f.sites["eu-west"], set(KindSite, "eu-west", "version", "3"))
	if res := b.ReceiveEnvelope(member); res.Buffered != 1 {
		t.Fatalf("a member's change with missing dependencies: %+v", res)
	}
	// Once the charter change admitting it arrives, the refused change is accepted: it was
	// not remembered as rejected.
	for _, env := range []*Envelope{admit, first, second} {
		if res := b.ReceiveEnvelope(env); len(res.Rejected) != 0 || res.Unbuffered != 0 {
			t.Fatalf("after admission: %+v", res)
		}
	}
	if b.PendingLen() != 0 || b.Digest() != a.Digest() {
		t.Fatalf("not converged: %s vs %s", b, a)
	}
}

// An observer writes nothing, so its changes do not wait in the pending buffer either.
func TestPendingNotForObservers(t *testing.T) {
	f := newFed(t)
	a, b := f.replica(t, ""), f.replica(t, "")
	obs := key("observer")
	spec := CharterSpec{Observers: []Member{{Name: "dash", Key: obs.Public()}}}
	admit, _, err := a.Write(f.admins[0], spec.Ops(), nil, nil, f.admins[2])
	if err != nil {
		t.Fatal(err)
	}
	if res := b.ReceiveEnvelope(admit); len(res.Stored) != 1 {
		t.Fatalf("charter change: %+v", res)
	}
	c := &Change{Lamport: 9, Deps: []Hash{BodyHash([]byte("missing"))}, Ops: []Op{set(KindSite, "eu-west", "version", "x")}}
	env, err := Sign(c, nil, obs)
	if err != nil {
		t.Fatal(err)
	}
	if res := b.ReceiveEnvelope(env); res.Unbuffered != 1 || b.PendingLen() != 0 {
		t.Fatalf("an observer's change with missing dependencies: %+v, pending %d", res, b.PendingLen())
	}
}

// CharterChanges lists the genesis and every charter change, and nothing else.
func TestCharterChanges(t *testing.T) {
	f := newFed(t)
	a := f.replica(t, "")
	mustWrite(t, a, f.sites["eu-west"], set(KindSite, "eu-west", "version", "1"))
	spec := CharterSpec{Observers: []Member{{Name: "dash", Key: key("observer").Public()}}}
	amend, _, err := a.Write(f.admins[0], spec.Ops(), nil, nil, f.admins[2])
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, a, f.sites["eu-west"], set(KindSite, "eu-west", "version", "2"))
	var ids []Hash
	a.CharterChanges(func(id Hash, env []byte) bool {
		e, err := DecodeEnvelope(env)
		if err != nil || !e.Change.IsCharter() {
			t.Fatalf("%s: not a charter change (%v)", id, err)
		}
		ids = append(ids, id)
		return true
	})
	if len(ids) != 2 || ids[0] != a.Genesis() || ids[1] != amend.ID {
		t.Fatalf("charter changes %v, want the genesis %s and %s", ids, a.Genesis(), amend.ID)
	}
}
