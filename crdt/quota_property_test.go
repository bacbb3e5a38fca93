package crdt

import (
	"maps"
	"math/rand/v2"
	"strconv"
	"testing"
)

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
