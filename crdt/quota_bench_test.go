package crdt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

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
