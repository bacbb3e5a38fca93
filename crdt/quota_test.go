package crdt

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// quotaFed is the test federation with quotas: quota/bytes for every operator,
// shopdev's own smaller one, and objects per namespace.
func quotaFed(t testing.TB, bytes, shopdev uint64, objects int) *fed {
	t.Helper()
	f := newFed(t)
	spec := CharterSpec{Name: "test", Threshold: 2, Quota: Quota{Bytes: bytes, Objects: objects}}
	for i, a := range []string{"ada", "bob", "cy"} {
		spec.Admins = append(spec.Admins, Member{a, f.admins[i].Public()})
	}
	for _, s := range []struct{ name, region, jur string }{
		{"eu-west", "eu-west-1", "EU"}, {"eu-north", "eu-north-1", "EU"}, {"us-east", "us-east-1", "US"}, {"ap-south", "ap-south-1", "IN"},
	} {
		spec.Sites = append(spec.Sites, SiteInfo{Name: s.name, Key: f.sites[s.name].Public(), Region: s.region, Jurisdiction: s.jur})
	}
	spec.Operators = []OperatorInfo{
		{Name: "shopdev", Key: f.ops["shopdev"].Public(), Namespaces: []string{"shop"}, QuotaBytes: shopdev},
		{Name: "root", Key: f.ops["root"].Public(), Namespaces: []string{"*"}},
	}
	env, err := NewGenesis(spec, f.admins[0], f.admins[1])
	if err != nil {
		t.Fatal(err)
	}
	f.genesis = env
	return f
}

// wl is a workload op of about size bytes.
func wl(key string, size int) Op {
	return set(KindWorkload, key, "annotations/pad", strings.Repeat("x", size))
}

func TestQuotaCharterFields(t *testing.T) {
	f := quotaFed(t, 1000, 500, 7)
	ch := f.replica(t, "").Charter()
	if q, ok := ch.QuotaBytes(f.ops["shopdev"].Public()); !ok || q != 500 {
		t.Errorf("shopdev: %d, %v; want its own 500", q, ok)
	}
	if q, ok := ch.QuotaBytes(f.ops["root"].Public()); !ok || q != 1000 {
		t.Errorf("root: %d, %v; want the federation's 1000", q, ok)
	}
	if _, ok := ch.QuotaBytes(f.sites["eu-west"].Public()); ok {
		t.Error("a site has a byte quota")
	}
	if n, ok := ch.QuotaObjects("shop"); !ok || n != 7 {
		t.Errorf("objects: %d, %v", n, ok)
	}
	if _, ok := newFed(t).replica(t, "").Charter().QuotaBytes(f.ops["root"].Public()); ok {
		t.Error("a charter without quota fields has quotas")
	}
	for _, v := range []string{"0", "-1", "01", "1e6", "", "140737488355329"} {
		op := set(KindCharter, "", "quota/bytes", v)
		if err := checkOp(&op); err == nil {
			t.Errorf("quota/bytes %q accepted", v)
		}
	}
	for _, name := range []string{"quota/bytes", "quota/objects", "quota/objects/shop", "operator/shopdev/quota/bytes"} {
		op := set(KindCharter, "", name, "12")
		if err := checkOp(&op); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		del := Op{Type: OpDelete, Kind: KindCharter, Field: name}
		if err := checkOp(&del); err != nil {
			t.Errorf("delete %s: %v", name, err)
		}
	}
	for _, name := range []string{"quota/other", "quota/objects/Shop", "operator/shopdev/quota/objects", "quota"} {
		op := set(KindCharter, "", name, "12")
		if err := checkOp(&op); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// An operator writing a chain of changes is refused past its byte quota, with a reason
// naming the quota, the usage and the limit, at every replica; other writers carry on.
func TestQuotaBytesChain(t *testing.T) {
	f := quotaFed(t, 64<<10, 4<<10, 0)
	a, b := f.replica(t, "eu-west"), f.replica(t, "us-east")
	var accepted []*Envelope
	var over *Envelope
	for i := range 100 {
		env, _, err := a.Write(f.ops["shopdev"], []Op{wl("shop/web", 200)}, nil, nil)
		if err != nil {
			if RejectReason(err) != ReasonQuota {
				t.Fatalf("change %d: %v, reason %q", i, err, RejectReason(err))
			}
			for _, want := range []string{"operator shopdev", "quota/bytes", "limit 4096", "bytes used"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
			t.Logf("refused: %v", err)
			over = env
			break
		}
		accepted = append(accepted, env)
	}
	if over == nil || len(accepted) < 10 {
		t.Fatalf("%d changes accepted, then %v", len(accepted), over)
	}
	var sum int
	for _, e := range accepted {
		sum += len(e.Header)
	}
	if sum > 4<<10 || sum+len(over.Header) <= 4<<10 {
		t.Errorf("accepted %d bytes, the refused change would make %d: limit 4096", sum, sum+len(over.Header))
	}
	if got := a.Used(f.ops["shopdev"].Public()); got != uint64(sum) {
		t.Errorf("Used = %d, want %d", got, sum)
	}
	// Another replica decides alike, whatever the order.
	for _, e := range slices.Backward(accepted) {
		b.ReceiveEnvelope(e)
	}
	if res := b.ReceiveEnvelope(over); len(res.Rejected) != 1 || RejectReason(res.Rejected[0].Err) != ReasonQuota {
		t.Fatalf("the other replica: %+v", res)
	}
	if err := sameReplicas(a, b); err != nil {
		t.Fatal(err)
	}
	// Others carry on: another operator, a site.
	mustWrite(t, a, f.ops["root"], wl("shop/db", 200))
	mustWrite(t, a, f.sites["eu-west"], set(KindSite, "eu-west", "version", "2"))
	// Admins raise the quota: shopdev writes again.
	mustWriteCo(t, a, f.admins[0], []Op{set(KindCharter, "", "operator/shopdev/quota/bytes", "8192")}, f.admins[1])
	mustWrite(t, a, f.ops["shopdev"], wl("shop/web", 200))
}

// mustWrite with cosigners.
func mustWriteCo(t testing.TB, r *Replica, s *Signer, ops []Op, co ...*Signer) *Envelope {
	t.Helper()
	env, _, err := r.Write(s, ops, nil, nil, co...)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// A correct operator writing through two sites at once makes concurrent branches: the
// merge counts the larger branch, not the sum, so it is never refused for writing from
// two places; each branch alone is held to the quota.
func TestQuotaConcurrentBranches(t *testing.T) {
	f := quotaFed(t, 0, 4<<10, 0)
	a, b := f.replica(t, "eu-west"), f.replica(t, "us-east")
	var na, nb int
	for range 12 {
		na += len(mustWrite(t, a, f.ops["shopdev"], wl("shop/web", 100)).Header)
		nb += len(mustWrite(t, b, f.ops["shopdev"], wl("shop/db", 100)).Header)
	}
	syncAll(t, a, b)
	syncAll(t, b, a)
	if err := sameReplicas(a, b); err != nil {
		t.Fatal(err)
	}
	// A site's change merges both branches; the operator's next change counts max(na, nb).
	mustWrite(t, a, f.sites["eu-west"], set(KindSite, "eu-west", "version", "merge"))
	env := mustWrite(t, a, f.ops["shopdev"], wl("shop/web", 100))
	n := a.nodes[env.ID]
	if got, want := n.usage.get(a.opIndex(f.ops["shopdev"].Public())), uint64(max(na, nb)+len(env.Header)); got != want {
		t.Errorf("usage after the merge = %d, want max(%d, %d) + %d = %d", got, na, nb, len(env.Header), want)
	}
	if got := a.Used(f.ops["shopdev"].Public()); got != uint64(na+nb+len(env.Header)) {
		t.Errorf("Used = %d, want the exact sum %d", got, na+nb+len(env.Header))
	}
}

func syncAll(t testing.TB, src, dst *Replica) {
	t.Helper()
	src.Changes(func(id Hash, _ []byte) bool {
		raw, _ := src.EnvelopeFor(id, dst.Self())
		if res := dst.Receive(raw); len(res.Rejected) > 0 {
			t.Fatalf("sync: %v", res.Rejected[0].Err)
		}
		return true
	})
}

// A Byzantine operator that forks k ways stores k times its quota in changes valid
// everywhere (validity sees one branch at a time), but a site admits from clients only
// what fits the quota over everything it holds: k sites admit at most k quotas.
func TestQuotaForkAdmission(t *testing.T) {
	const quota = 4 << 10
	f := quotaFed(t, 0, quota, 0)
	a := f.replica(t, "eu-west")
	base := a.Heads()
	fork := func(branch int) []*Envelope {
		var out []*Envelope
		deps, lamport := base, uint64(2)
		for {
			c := &Change{Deps: deps, Lamport: lamport, Ops: []Op{wl(fmt.Sprintf("shop/b%d", branch), 200)}}
			env, err := Sign(c, nil, f.ops["shopdev"])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, env)
			deps, lamport = []Hash{env.ID}, lamport+1
			if len(out) == 30 {
				return out
			}
		}
	}
	const k = 5
	var valid int
	b := f.replica(t, "us-east")
	for i := range k {
		for _, e := range fork(i) {
			if res := b.ReceiveEnvelope(e); len(res.Stored) == 1 {
				valid += len(e.Header)
			}
		}
	}
	if valid <= (k-1)*quota || valid > k*quota {
		t.Fatalf("forks of %d ways stored %d bytes, want within (%d, %d]", k, valid, (k-1)*quota, k*quota)
	}
	t.Logf("%d forks: %d bytes valid (quota %d)", k, valid, quota)
	// Admission at one site: the exact usage over what it holds.
	var admitted int
	for i := range k {
		for _, e := range fork(i) {
			err := a.Admit(e)
			if err != nil {
				if RejectReason(err) != ReasonQuota {
					t.Fatalf("admission refused with %v", err)
				}
				continue
			}
			if res := a.ReceiveEnvelope(e); len(res.Stored) == 1 {
				admitted += len(e.Header)
			}
		}
	}
	if admitted > quota || admitted < quota-300 {
		t.Errorf("one site admitted %d bytes of forks, quota %d", admitted, quota)
	}
	// A change whose dependencies the site lacks is not admitted: it would be stored uncounted.
	lost := fork(k)
	if err := f.replica(t, "").Admit(lost[1]); RejectReason(err) != ReasonQuota {
		t.Errorf("admission of a change with missing dependencies: %v", err)
	}
}

// Namespaces are held to their live workloads at admission; removing one makes room.
func TestQuotaAdmitObjects(t *testing.T) {
	f := quotaFed(t, 0, 0, 3)
	r := f.replica(t, "eu-west")
	next := func(ops ...Op) *Envelope {
		env, err := Sign(r.Prepare(ops, nil), nil, f.ops["root"])
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	for i := range 3 {
		env := next(set(KindWorkload, "shop/w"+strconv.Itoa(i), "replicas", "1"))
		if err := r.Admit(env); err != nil {
			t.Fatal(err)
		}
		r.ReceiveEnvelope(env)
	}
	if err := r.Admit(next(set(KindWorkload, "shop/w0", "replicas", "2"))); err != nil {
		t.Errorf("an update of a live workload: %v", err)
	}
	if err := r.Admit(next(set(KindWorkload, "bank/w0", "replicas", "2"))); err != nil {
		t.Errorf("another namespace: %v", err)
	}
	err := r.Admit(next(set(KindWorkload, "shop/w3", "replicas", "1")))
	if RejectReason(err) != ReasonQuota || !strings.Contains(err.Error(), "namespace shop: over quota/objects: 4 live workloads with this change, limit 3") {
		t.Fatalf("a fourth workload: %v", err)
	}
	if err := r.Admit(next(Op{Type: OpRemove, Kind: KindWorkload, Key: "shop/w0"}, set(KindWorkload, "shop/w3", "replicas", "1"))); err != nil {
		t.Errorf("replace one: %v", err)
	}
	mustWrite(t, r, f.ops["root"], Op{Type: OpRemove, Kind: KindWorkload, Key: "shop/w1"})
	if err := r.Admit(next(set(KindWorkload, "shop/w3", "replicas", "1"))); err != nil {
		t.Errorf("after a removal: %v", err)
	}
}

// Changes stored before quotas were in force (a previous release, or a charter without
// quota fields) stay valid when replayed; quotas apply from the charter change that sets
// them, counting what the operator wrote before.
func TestQuotaUpgrade(t *testing.T) {
	f := newFed(t)
	old := f.replica(t, "eu-west")
	var envs []*Envelope
	for range 40 {
		envs = append(envs, mustWrite(t, old, f.ops["shopdev"], wl("shop/web", 200)))
	}
	on := mustWriteCo(t, old, f.admins[0], []Op{set(KindCharter, "", "quota/bytes", "4096")}, f.admins[1])
	_, _, err := old.Write(f.ops["shopdev"], []Op{wl("shop/web", 10)}, nil, nil)
	if RejectReason(err) != ReasonQuota {
		t.Fatalf("after quotas came in force, an operator over them wrote: %v", err)
	}
	replay := f.replica(t, "eu-west")
	for _, e := range append(envs, on) {
		if err := replay.Restore(e.Encode()); err != nil {
			t.Fatalf("replay: %v", err)
		}
	}
	if err := sameReplicas(old, replay); err != nil {
		t.Fatal(err)
	}
}

// Quota rejections are deterministic errors, never panics, whatever the quota values.
func TestQuotaReasonIsInvalid(t *testing.T) {
	f := quotaFed(t, 0, 1, 0)
	r := f.replica(t, "")
	_, res, err := r.Write(f.ops["shopdev"], []Op{wl("shop/web", 1)}, nil, nil)
	if !errors.Is(err, ErrInvalid) || RejectReason(res.Rejected[0].Err) != ReasonQuota {
		t.Fatalf("%v", err)
	}
}
