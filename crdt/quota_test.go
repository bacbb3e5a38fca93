package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
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

// The chunked usage vectors against a plain map: random writes and merges of random
// versions, every counter compared, and a dominating side returned as itself.
func TestUsageVectors(t *testing.T) {
	for _, seed := range seeds(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		type version struct {
			u   *usage
			ref map[int]uint64
		}
		vs := []version{{nil, map[int]uint64{}}}
		for range 400 {
			a := vs[rng.IntN(len(vs))]
			var v version
			if rng.IntN(2) == 0 {
				idx := rng.IntN(40)
				n := a.ref[idx] + uint64(1+rng.IntN(100))
				v = version{a.u.with(idx, n), maps.Clone(a.ref)}
				v.ref[idx] = n
			} else {
				b := vs[rng.IntN(len(vs))]
				v = version{maxUsage(a.u, b.u), maps.Clone(a.ref)}
				aDom, bDom := true, true
				for k, n := range b.ref {
					v.ref[k] = max(v.ref[k], n)
					aDom = aDom && a.ref[k] >= n
				}
				for k, n := range a.ref {
					bDom = bDom && b.ref[k] >= n
				}
				if aDom && v.u != a.u || !aDom && bDom && v.u != b.u {
					t.Fatalf("seed %d: a dominating side was copied", seed)
				}
			}
			for idx := range 48 {
				if got := v.u.get(idx); got != v.ref[idx] {
					t.Fatalf("seed %d: operator %d: %d, want %d", seed, idx, got, v.ref[idx])
				}
			}
			vs = append(vs, v)
		}
	}
}

// --- Property: any order, with a forking operator under quota ---------------------------

// quotaHistory writes a random history under small quotas: operators write on replicas
// that sync random subsets (correct concurrent branches), a Byzantine shopdev also signs
// forks by hand on stale heads, and admins change quotas concurrently. Changes a writer's
// replica refused for quota are kept as invalid: every replica must refuse them too.
func quotaHistory(t testing.TB, seed uint64, steps int) *history {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e37))
	f := quotaFed(t, 8<<10, 3<<10, 0)
	h := &history{f: f, invalid: map[Hash]bool{}}
	var reps []*Replica
	for _, s := range []string{"eu-west", "us-east", "ap-south"} {
		reps = append(reps, f.replica(t, s))
	}
	type seen struct {
		r     *Replica
		heads []Hash
	}
	var stale []seen // heads seen earlier, for forks
	for range steps {
		r := reps[rng.IntN(len(reps))]
		switch p := rng.IntN(100); {
		case p < 45:
			who := []string{"shopdev", "root"}[rng.IntN(2)]
			env, _, err := r.Write(f.ops[who], []Op{wl("shop/w"+strconv.Itoa(rng.IntN(5)), 50+rng.IntN(400))}, nil, nil)
			switch {
			case err != nil && RejectReason(err) != ReasonQuota:
				t.Fatalf("seed %d: write: %v", seed, err)
			case err != nil:
				h.invalid[env.ID] = true
			}
			h.envs = append(h.envs, env)
			stale = append(stale, seen{r, r.Heads()})
		case p < 60 && len(stale) > 0:
			// A Byzantine fork: a change on heads seen long ago.
			old := stale[rng.IntN(len(stale))]
			r, deps := old.r, old.heads
			var lamport uint64
			for _, d := range deps {
				lamport = max(lamport, r.nodes[d].lamport)
			}
			c := &Change{Deps: deps, Lamport: lamport + 1, Ops: []Op{wl("shop/fork"+strconv.Itoa(rng.IntN(3)), 100+rng.IntN(900))}}
			env, err := Sign(c, nil, f.ops["shopdev"])
			if err != nil {
				t.Fatal(err)
			}
			res := r.ReceiveEnvelope(env)
			if len(res.Rejected) > 0 {
				if RejectReason(res.Rejected[0].Err) != ReasonQuota {
					t.Fatalf("seed %d: fork: %v", seed, res.Rejected[0].Err)
				}
				h.invalid[env.ID] = true
			}
			h.envs = append(h.envs, env)
		case p < 65:
			v := strconv.Itoa(1<<10 + rng.IntN(6<<10))
			field := []string{"quota/bytes", "operator/shopdev/quota/bytes"}[rng.IntN(2)]
			h.envs = append(h.envs, mustWriteCo(t, r, f.admins[0], []Op{set(KindCharter, "", field, v)}, f.admins[2]))
		case p < 75:
			h.envs = append(h.envs, mustWrite(t, r, f.sites[siteOf(f, r)], set(KindSite, siteOf(f, r), "version", strconv.Itoa(rng.IntN(100)))))
		default:
			src, dst := reps[rng.IntN(len(reps))], reps[rng.IntN(len(reps))]
			src.Changes(func(id Hash, _ []byte) bool {
				if rng.IntN(2) == 0 {
					raw, _ := src.EnvelopeFor(id, dst.Self())
					if res := dst.Receive(raw); len(res.Rejected) > 0 {
						t.Fatalf("seed %d: sync: a change valid at one replica is rejected at another: %v", seed, res.Rejected[0].Err)
					}
				}
				return true
			})
		}
	}
	return h
}

func siteOf(f *fed, r *Replica) string {
	for name, s := range f.sites {
		if s.Public() == r.Self() {
			return name
		}
	}
	panic("not a site")
}

func TestPropertyQuotaAnyOrder(t *testing.T) {
	for _, seed := range seeds(30) {
		h := quotaHistory(t, seed, 120)
		if len(h.invalid) == 0 {
			t.Fatalf("seed %d: no change went over quota: the test tests nothing", seed)
		}
		if seed == 1 {
			t.Logf("seed 1: %d changes, %d refused for quota", len(h.envs), len(h.invalid))
		}
		ref := feedInOrder(t, seed, h, "")
		for _, self := range []string{"", "eu-west", "us-east"} {
			for range 2 {
				rng := rand.New(rand.NewPCG(seed, uint64(len(self))))
				r := feedShuffled(t, seed, rng, h, self)
				if err := sameReplicas(r, ref); err != nil {
					t.Fatalf("seed %d (go test -run TestPropertyQuotaAnyOrder -seed %d ./crdt/): %v", seed, seed, err)
				}
				for ns, n := range r.state.liveNS {
					if want := len(r.Keys(KindWorkload, ns+"/")); n != want {
						t.Fatalf("seed %d: %d live workloads counted in %s, %d in the state", seed, n, ns, want)
					}
				}
				for _, op := range []string{"shopdev", "root"} {
					if a, b := r.Used(h.f.ops[op].Public()), ref.Used(h.f.ops[op].Public()); a != b {
						t.Fatalf("seed %d: %s used %d here, %d in order", seed, op, a, b)
					}
				}
			}
		}
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

// The live workloads counted per namespace for object quotas match the state, over the
// generator's histories of sets, deletes and removes received in any order.
func TestLiveWorkloadCount(t *testing.T) {
	for _, seed := range seeds(20) {
		g := generate(t, seed, 60)
		for range 2 {
			r := feedShuffled(t, seed, g.rng, g.h, "eu-west")
			for _, ns := range []string{"shop", "bank"} {
				if got, want := r.state.liveNS[ns], len(r.Keys(KindWorkload, ns+"/")); got != want {
					t.Fatalf("seed %d: %d live workloads counted in %s, %d in the state", seed, got, ns, want)
				}
			}
		}
	}
}

// quotaSeed returns, for FuzzReceive, a charter change giving shopdev a quota of 600
// bytes and four of its changes, the last ones over it.
func quotaSeed(t testing.TB, f *fed) [][]byte {
	r := f.replica(t, "")
	out := [][]byte{mustWriteCo(t, r, f.admins[0], []Op{set(KindCharter, "", "operator/shopdev/quota/bytes", "600")}, f.admins[1]).Encode()}
	for i := range 4 {
		env, _, err := r.Write(f.ops["shopdev"], []Op{wl("shop/web", 100+i)}, nil, nil)
		if err != nil && RejectReason(err) != ReasonQuota {
			t.Fatal(err)
		}
		out = append(out, env.Encode())
	}
	return out
}

// --- Benchmark ---------------------------------------------------------------------------

// benchQuotaHistory is a federation of 4 sites and the given number of operators, and 20,000 changes
// written on 4 replicas that exchange everything every 16 changes, so operators' changes
// form concurrent branches that site changes merge: 60% one-op status changes by sites,
// 40% five-op workload changes by operators. With quotas, quota/bytes is 1 GiB (never
// reached: the benchmark measures the bookkeeping, not refusals).
func benchQuotaHistory(tb testing.TB, operators int, quotas bool) (*fed, [][]byte) {
	f := newFed(tb)
	spec := CharterSpec{Name: "bench", Threshold: 1, Admins: []Member{{"ada", f.admins[0].Public()}}}
	for _, s := range benchSites {
		spec.Sites = append(spec.Sites, SiteInfo{Name: s, Key: f.sites[s].Public(), Region: "r", Jurisdiction: "EU"})
	}
	var ops []string
	for i := range operators {
		name := fmt.Sprintf("op%03d", i)
		f.ops[name] = key("bench operator " + name)
		ops = append(ops, name)
		spec.Operators = append(spec.Operators, OperatorInfo{Name: name, Key: f.ops[name].Public(), Namespaces: []string{"*"}})
	}
	genesisOps := spec.Ops()
	if quotas {
		genesisOps = append(genesisOps, set(KindCharter, "", "quota/bytes", strconv.Itoa(1<<30)))
	}
	env, err := Sign(&Change{Lamport: 1, Ops: genesisOps}, nil, f.admins[0])
	if err != nil {
		tb.Fatal(err)
	}
	f.genesis = env
	rng := rand.New(rand.NewPCG(1, 2))
	var reps []*Replica
	for range 4 {
		reps = append(reps, f.replica(tb, ""))
	}
	var out [][]byte
	for i := range 20_000 {
		w := i % len(reps)
		r := reps[w]
		var raw []byte
		if rng.IntN(10) < 6 {
			site := benchSites[w]
			raw = benchWrite(tb, r, f.sites[site], []Op{set(KindStatus, StatusKey("shop", "w"+strconv.Itoa(rng.IntN(1000)), site, "c1"), "ready", strconv.Itoa(i))})
		} else {
			k := "shop/w" + strconv.Itoa(rng.IntN(1000))
			raw = benchWrite(tb, r, f.ops[ops[rng.IntN(len(ops))]], []Op{
				set(KindWorkload, k, "apiVersion", "apps/v1"), set(KindWorkload, k, "kind", "Deployment"),
				set(KindWorkload, k, "replicas", strconv.Itoa(rng.IntN(9))), set(KindWorkload, k, "generation", strconv.Itoa(i)),
				set(KindWorkload, k, "labels/app", "web")})
		}
		out = append(out, raw)
		if i%16 == 15 {
			for _, a := range reps {
				for _, raw := range out[max(0, len(out)-16):] {
					if err := a.Restore(raw); err != nil && !strings.Contains(err.Error(), "already") {
						a.Receive(raw) // duplicates are fine
					}
				}
			}
		}
	}
	return f, out
}

// BenchmarkQuota restores benchQuotaHistory into a fresh replica: ns/change and the live
// heap per change, with quota/bytes in the charter and without. Run on the release
// before quotas with quotas=off alone for the cost of the bookkeeping itself.
func BenchmarkQuota(b *testing.B) {
	for _, tc := range []struct {
		operators int
		quotas    bool
	}{{16, false}, {16, true}, {128, false}, {128, true}} {
		quotas := tc.quotas
		b.Run(fmt.Sprintf("operators=%d/quotas=%s", tc.operators, map[bool]string{false: "off", true: "on"}[quotas]), func(b *testing.B) {
			f, envs := benchQuotaHistory(b, tc.operators, quotas)
			var alloc uint64
			var r *Replica
			for b.Loop() {
				b.StopTimer()
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				r = f.replica(b, "eu-west")
				for _, raw := range envs {
					if err := r.Restore(bytes.Clone(raw)); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(r)
				alloc += after.HeapAlloc - before.HeapAlloc
				b.StartTimer()
			}
			n := float64(b.N) * float64(len(envs))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/change")
			b.ReportMetric(float64(alloc)/n, "heap-bytes/change")
			// The usage vectors alone: 8 bytes of pointer per node; each distinct vector, a
			// struct of one slice (24 bytes) and its chunk pointers; each distinct chunk.
			vectors, chunks := map[*usage]bool{}, map[*usageChunk]bool{}
			vbytes := 8 * len(r.order)
			for _, nd := range r.order {
				if nd.usage != nil && !vectors[nd.usage] {
					vectors[nd.usage] = true
					vbytes += 24 + 8*cap(nd.usage.c)
					for _, c := range nd.usage.c {
						if c != nil && !chunks[c] {
							chunks[c] = true
							vbytes += len(c) * 8
						}
					}
				}
			}
			b.ReportMetric(float64(len(vectors))/float64(len(envs)), "vectors/change")
			b.ReportMetric(float64(vbytes)/float64(len(envs)), "usage-bytes/change")
		})
	}
}
