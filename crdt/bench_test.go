package crdt

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// Benchmarks of the replicated state. docs/BENCHMARKS.md has the commands and the numbers.
//
// The heavy fixtures (100,000 signed changes for BenchmarkSync, 100,000 objects for
// BenchmarkDigest, up to 500,000 changes for BenchmarkMemory) are signed once per process
// and cached; replicas are built from them with Restore, which skips signature checks, so
// that setup stays in seconds.
// Every timed loop is written to give sensible numbers with -benchtime=1x as well as with
// the default benchtime.

// benchWrite prepares a change on top of r's heads, signs it and stores it with Restore
// (no signature check: the cost of checking is the caller's to measure). It returns the
// encoded envelope, which r's stored header shares.
func benchWrite(tb testing.TB, r *Replica, author *Signer, ops []Op) []byte {
	tb.Helper()
	env, err := Sign(r.Prepare(ops, nil), nil, author)
	if err != nil {
		tb.Fatal(err)
	}
	raw := env.Encode()
	if err := r.Restore(raw); err != nil {
		tb.Fatal(err)
	}
	return raw
}

// benchStatusKeys is how many workloads the status changes of benchExtend cycle through.
const benchStatusKeys = 10_000

// benchExtend writes n one-op status changes on r, authored in turn by the named sites;
// seq numbers them so that every call writes new values.
func benchExtend(tb testing.TB, f *fed, r *Replica, sites []string, n, seq int) [][]byte {
	tb.Helper()
	out := make([][]byte, 0, n)
	for i := seq; i < seq+n; i++ {
		site := sites[i%len(sites)]
		op := set(KindStatus, StatusKey("shop", "w"+strconv.Itoa(i%benchStatusKeys), site, "c1"), "ready", strconv.Itoa(i))
		out = append(out, benchWrite(tb, r, f.sites[site], []Op{op}))
	}
	return out
}

// benchRestore returns a new replica of f, identified as site, holding envs (in causal order).
func benchRestore(tb testing.TB, f *fed, site string, envs [][]byte) *Replica {
	tb.Helper()
	r := f.replica(tb, site)
	for _, raw := range envs {
		if err := r.Restore(raw); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

var benchSites = []string{"eu-west", "eu-north", "us-east", "ap-south"}

// benchFixture is built once per process, by the first benchmark that needs it.
type benchFixture[T any] struct {
	once  sync.Once
	v     T
	built bool
}

func (x *benchFixture[T]) get(tb testing.TB, build func(testing.TB) T) T {
	tb.Helper()
	x.once.Do(func() { x.v, x.built = build(tb), true })
	if !x.built {
		tb.Fatal("the fixture failed to build in an earlier benchmark")
	}
	return x.v
}

// benchChanges is a federation and encoded changes of it, in causal order.
type benchChanges struct {
	f    *fed
	envs [][]byte
}

// benchApplyFixture is 2,000 one-op status changes written by the four sites of the test
// federation on one replica, in the order it wrote them.
var benchApplyFixture benchFixture[benchChanges]

func buildApplyFixture(tb testing.TB) benchChanges {
	f := newFed(tb)
	src := f.replica(tb, "eu-west")
	var envs [][]byte
	for i := range 2_000 {
		site := benchSites[i%len(benchSites)]
		op := set(KindStatus, StatusKey("shop", "w"+strconv.Itoa(i), site, "c1"), "ready", strconv.Itoa(i))
		envs = append(envs, mustWrite(tb, src, f.sites[site], op).Encode())
	}
	return benchChanges{f, envs}
}

// BenchmarkApply receives already-signed one-op status changes from another replica into a
// fresh replica: decode, structure checks, the author's signature (one Ed25519 verify),
// authority, Lamport check, store and state update.
func BenchmarkApply(b *testing.B) {
	benchApply(b, func(r *Replica, raw []byte) error {
		if res := r.Receive(raw); len(res.Stored) != 1 {
			return fmt.Errorf("receive: %+v", res)
		}
		return nil
	})
}

// BenchmarkApplyNoVerify is BenchmarkApply through Restore, which skips the signature
// check: the difference is the cost of Ed25519 verification.
func BenchmarkApplyNoVerify(b *testing.B) {
	benchApply(b, (*Replica).Restore)
}

func benchApply(b *testing.B, apply func(*Replica, []byte) error) {
	x := benchApplyFixture.get(b, buildApplyFixture)
	f, envs := x.f, x.envs
	for b.Loop() {
		b.StopTimer()
		r := f.replica(b, "us-east")
		b.StartTimer()
		for _, raw := range envs {
			if err := apply(r, raw); err != nil {
				b.Fatal(err)
			}
		}
	}
	changes := float64(len(envs) * b.N)
	b.ReportMetric(changes/b.Elapsed().Seconds(), "changes/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/changes, "ns/change")
}

// BenchmarkChangeBytes reports the encoded size of typical changes, each on top of one
// dependency (every further concurrent head a writer has seen adds 32 bytes). The loop only
// encodes; the metrics are the point.
func BenchmarkChangeBytes(b *testing.B) {
	f := newFed(b)
	body := bytes.Repeat([]byte(`{"name":"app","image":"registry.example/bank/ledger:1.4.2","env":[]}`), 2048/68+1)[:2048]
	header5 := func(key string) []Op {
		return []Op{
			set(KindWorkload, key, "apiVersion", "apps/v1"),
			set(KindWorkload, key, "kind", "Deployment"),
			set(KindWorkload, key, "replicas", "3"),
			set(KindWorkload, key, "placement", "spread:eu-west,us-east"),
			set(KindWorkload, key, "generation", "7"),
		}
	}
	cases := []struct {
		name   string
		author *Signer
		ops    []Op
		bodies [][]byte
		bound  []string
	}{
		{"status-1-field", f.sites["eu-west"], []Op{set(KindStatus, StatusKey("shop", "web", "eu-west", "c1"), "ready", "3")}, nil, nil},
		{"workload-5-fields", f.ops["shopdev"], header5("shop/web"), nil, nil},
		{"workload-sealed-2KiB", f.ops["root"], append(append(header5("bank/ledger"),
			set(KindWorkload, "bank/ledger", "bound", "EU")),
			SealOp(KindWorkload, "bank/ledger", "template", body)), [][]byte{body}, []string{"EU"}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			r := f.replica(b, "eu-west")
			env, _, err := r.Write(tc.author, tc.ops, tc.bodies, tc.bound)
			if err != nil {
				b.Fatal(err)
			}
			var n int
			for b.Loop() {
				n = len(env.Encode())
			}
			b.ReportMetric(float64(n), "bytes/change")
			b.ReportMetric(float64(len(env.Header)), "header-bytes")
			b.ReportMetric(float64(len(env.EncodeHeaderOnly())), "withheld-bytes")
		})
	}
}

// benchDigestObjects is the state size of BenchmarkDigest.
const benchDigestObjects = 100_000

// benchDigestFixture is 100 changes of 1,000 ops each, writing one field of 100,000
// distinct status objects.
var benchDigestFixture benchFixture[benchChanges]

func buildDigestFixture(tb testing.TB) benchChanges {
	f := newFed(tb)
	r := f.replica(tb, "")
	var envs [][]byte
	for c := range benchDigestObjects / 1000 {
		ops := make([]Op, 1000)
		for i := range ops {
			ops[i] = set(KindStatus, benchDigestKey(c*1000+i), "ready", "3")
		}
		envs = append(envs, benchWrite(tb, r, f.sites["eu-west"], ops))
	}
	return benchChanges{f, envs}
}

func benchDigestKey(i int) string { return StatusKey("shop", fmt.Sprintf("w%06d", i), "eu-west", "c1") }

// BenchmarkDigest measures Replica.Digest on a state of 100,000 objects: when nothing
// changed, after a change to one object (the per-object hash cache spares all others), and
// cold, on a replica just restored from its store (every object hashed, keys sorted).
func BenchmarkDigest(b *testing.B) {
	x := benchDigestFixture.get(b, buildDigestFixture)
	f, envs := x.f, x.envs
	b.Run("unchanged", func(b *testing.B) {
		r := benchRestore(b, f, "", envs)
		r.Digest()
		for b.Loop() {
			r.Digest()
		}
	})
	b.Run("1-changed", func(b *testing.B) {
		r := benchRestore(b, f, "", envs)
		r.Digest()
		i := 0
		for b.Loop() {
			b.StopTimer()
			benchWrite(b, r, f.sites["eu-west"], []Op{set(KindStatus, benchDigestKey(i*7919%benchDigestObjects), "ready", strconv.Itoa(i))})
			i++
			b.StartTimer()
			r.Digest()
		}
	})
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			r := benchRestore(b, f, "", envs)
			b.StartTimer()
			r.Digest()
		}
	})
}

// benchSyncChanges is the size of the union of the two replicas in BenchmarkSync.
const benchSyncChanges = 100_000

// benchSyncFixture is a chain of 100,000 one-op status changes written in turn by the four
// sites of the test federation, starting from the genesis.
var benchSyncFixture benchFixture[benchChanges]

func buildSyncFixture(tb testing.TB) benchChanges {
	f := newFed(tb)
	return benchChanges{f, benchExtend(tb, f, f.replica(tb, ""), benchSites, benchSyncChanges-1, 0)}
}

// BenchmarkSync runs one whole sync session between two replicas whose union
// holds 100,000 changes and which differ by d changes: split between both sides (d/2 each;
// 1 each for d=1), or all on the initiator's side, or all on the responder's. Receiving
// includes verifying each change's signature.
//
// Each iteration first writes the difference (untimed) on top of what both sides share,
// so the shared part grows by d per iteration after the first: run with -benchtime=1x (or
// a few x) for the exact sizes; the "changes" metric is the mean union size.
func BenchmarkSync(b *testing.B) {
	x := benchSyncFixture.get(b, buildSyncFixture)
	f, base := x.f, x.envs
	for _, d := range []int{1, 100, 10_000} {
		variants := []struct {
			name             string
			initiator, other int
		}{
			{"split", max(1, d-d/2), max(1, d/2)},
			{"initiator-ahead", d, 0},
			{"responder-ahead", 0, d},
		}
		for _, v := range variants {
			b.Run(fmt.Sprintf("d=%d/%s", d, v.name), func(b *testing.B) {
				common := len(base) - v.initiator - v.other
				ini := benchRestore(b, f, "eu-west", base[:common])
				resp := benchRestore(b, f, "us-east", base[:common])
				var sum SyncStats
				var union int
				seq := benchSyncChanges
				for b.Loop() {
					b.StopTimer()
					benchExtend(b, f, ini, []string{"eu-west"}, v.initiator, seq)
					benchExtend(b, f, resp, []string{"us-east"}, v.other, seq+v.initiator)
					seq += v.initiator + v.other
					union += resp.Len() + v.initiator
					b.StartTimer()
					st := runSync(b, ini, resp, uint64(seq)*0x9e3779b97f4a7c15)
					b.StopTimer()
					if ini.Len() != resp.Len() {
						b.Fatalf("not converged: %s / %s", ini, resp)
					}
					sum.Messages += st.Messages
					sum.BytesSent += st.BytesSent
					sum.BytesReceived += st.BytesReceived
					sum.PayloadSent += st.PayloadSent
					sum.PayloadRecv += st.PayloadRecv
					sum.Symbols += st.Symbols
					b.StartTimer()
				}
				if ini.Digest() != resp.Digest() {
					b.Fatalf("digests differ: %s / %s", ini, resp)
				}
				n := float64(b.N)
				payload := sum.PayloadSent + sum.PayloadRecv
				b.ReportMetric(float64(sum.Bytes())/n, "bytes")
				b.ReportMetric(float64(payload)/n, "payload-bytes")
				b.ReportMetric(float64(sum.Bytes())/float64(payload), "bytes/payload")
				b.ReportMetric(float64(sum.Messages)/n, "messages")
				b.ReportMetric(float64(sum.Messages)/n/2, "round-trips")
				b.ReportMetric(float64(sum.Symbols)/n, "symbols")
				b.ReportMetric(float64(union)/n, "changes")
			})
		}
	}
}

// benchMemSites is how many sites (one cluster each) report status in BenchmarkMemory.
const benchMemSites = 50

// benchMemFed is a federation of one admin and 50 sites s00..s49, in three jurisdictions.
var benchMemFed = sync.OnceValue(func() *fed {
	f := &fed{sites: map[string]*Signer{}, ops: map[string]*Signer{}}
	admin := key("bench admin")
	f.admins = []*Signer{admin}
	spec := CharterSpec{Name: "bench", Threshold: 1, Admins: []Member{{"admin", admin.Public()}}}
	for i := range benchMemSites {
		name := fmt.Sprintf("s%02d", i)
		k := key("bench site " + name)
		f.sites[name] = k
		spec.Sites = append(spec.Sites, SiteInfo{Name: name, Key: k.Public(), Region: "r" + name, Jurisdiction: []string{"EU", "US", "IN"}[i%3]})
	}
	env, err := NewGenesis(spec, admin)
	if err != nil {
		panic(err)
	}
	f.genesis = env
	return f
})

// benchMemStatus returns the status ops one site writes for workloads [from, to): three
// fields each, as a site reports a Deployment's rollout; round makes each update new.
func benchMemStatus(site string, from, to, round int) []Op {
	ops := make([]Op, 0, 3*(to-from))
	v := strconv.Itoa(3 + round)
	for w := from; w < to; w++ {
		k := StatusKey("shop", fmt.Sprintf("web-%05d", w), site, "c1")
		ops = append(ops,
			set(KindStatus, k, "desired", v),
			set(KindStatus, k, "ready", v),
			set(KindStatus, k, "available", v))
	}
	return ops
}

// benchMemSpec is one BenchmarkMemory input: every site writes the status of workloads,
// perChange workloads to a change, updates times over.
type benchMemSpec struct {
	workloads, perChange, updates int
}

// benchMemChanges signs the input. Each site writes a chain of its own (one dependency: its
// previous change), as sites writing concurrently would; the chains are signed in
// parallel. The result is in a causal order: round robin over the sites.
func benchMemChanges(spec benchMemSpec) [][]byte {
	f := benchMemFed()
	gen := f.genesis
	chains := make([][][]byte, benchMemSites)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for s := range next {
				name := fmt.Sprintf("s%02d", s)
				prev, lamport := gen.ID, uint64(1)
				for u := range spec.updates {
					for w := 0; w < spec.workloads; w += spec.perChange {
						lamport++
						ops := benchMemStatus(name, w, min(w+spec.perChange, spec.workloads), u)
						env, err := Sign(&Change{Lamport: lamport, Deps: []Hash{prev}, Ops: ops}, nil, f.sites[name])
						if err != nil {
							panic(err)
						}
						chains[s] = append(chains[s], env.Encode())
						prev = env.ID
					}
				}
			}
		})
	}
	for s := range benchMemSites {
		next <- s
	}
	close(next)
	wg.Wait()
	var out [][]byte
	for i := range chains[0] {
		for s := range chains {
			out = append(out, chains[s][i])
		}
	}
	return out
}

var benchMemCache struct {
	sync.Mutex
	m map[benchMemSpec][][]byte
}

func benchMemInput(spec benchMemSpec) [][]byte {
	benchMemCache.Lock()
	defer benchMemCache.Unlock()
	if envs, ok := benchMemCache.m[spec]; ok {
		return envs
	}
	envs := benchMemChanges(spec)
	if benchMemCache.m == nil {
		benchMemCache.m = map[benchMemSpec][][]byte{}
	}
	benchMemCache.m[spec] = envs
	return envs
}

// BenchmarkMemory loads a replica (Restore, as at start-up) with the status of W workloads
// on 50 sites of one cluster each: W×50 status records of three fields. "per-workload"
// writes one change per workload per site (3 ops each: the whole change DAG is held, which
// is what a long-running replica holds); "batched" writes one change per 100 workloads per
// site (300 ops each: mostly the state); "updates=2" writes every record twice, one change
// per workload per site each time, so the difference with "per-workload" is what one more
// status update costs when nothing is ever compacted. The metrics are the live heap the
// replica adds (HeapAlloc after GC; the input is copied in, as from a store, so it counts);
// ns/op is the load time.
func BenchmarkMemory(b *testing.B) {
	f := benchMemFed()
	for _, tc := range []struct {
		name string
		spec benchMemSpec
	}{
		{"records=100k/per-workload", benchMemSpec{2_000, 1, 1}},
		{"records=100k/per-workload/updates=2", benchMemSpec{2_000, 1, 2}},
		{"records=500k/per-workload", benchMemSpec{10_000, 1, 1}},
		{"records=500k/batched", benchMemSpec{10_000, 100, 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			envs := benchMemInput(tc.spec)
			records := tc.spec.workloads * benchMemSites
			var alloc, inuse uint64
			for b.Loop() {
				b.StopTimer()
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				r := f.replica(b, "s00")
				for _, raw := range envs {
					if err := r.Restore(bytes.Clone(raw)); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				if r.Len() != len(envs)+1 {
					b.Fatalf("%d changes stored, want %d", r.Len(), len(envs)+1)
				}
				runtime.KeepAlive(r)
				alloc += after.HeapAlloc - before.HeapAlloc
				inuse += after.HeapInuse - before.HeapInuse
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(alloc)/n/float64(records), "bytes/status-record")
			b.ReportMetric(float64(alloc)/n/float64(len(envs)), "bytes/change")
			b.ReportMetric(float64(alloc)/n/1e6, "MB")
			b.ReportMetric(float64(inuse)/n/1e6, "MB-inuse")
			b.ReportMetric(float64(len(envs)), "changes")
		})
	}
}
