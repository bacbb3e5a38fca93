package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"atoll/crdt"
	"atoll/site"
)

// Status churn with real site processes. The member clusters are simulated: each site
// publishes its clusters' health and its workloads' status through its local write API
// as soft records (WriteRequest.Soft), which is what its reconciler does for a real
// cluster, without the cluster. Only status changes, so nothing else of a real cluster
// would be exercised.

// soakSpec sizes a churn run.
type soakSpec struct {
	sites, workloads, clusters int // clusters in all, spread over the sites
	perWorkload                int // clusters each workload reports status from
	rounds                     int // every status object is updated once per round
	away                       int // rounds site 1 is stopped for, in the middle
	batch                      int // status objects per write
}

// soakSample is what one site looks like after a round.
type soakSample struct {
	round           int
	updates         int     // status updates written so far, federation-wide
	file            int64   // bytes of the data file
	heap            float64 // go_memstats_heap_alloc_bytes
	softBytes, soft uint64
	wireOut         uint64 // the site's transport stream bytes sent
	written         uint64 // soft records the site wrote
}

type soak struct {
	t    *testing.T
	f    *Fed
	spec soakSpec
	// objects[i] are the status keys site i writes.
	objects [][]string
	updates int
	// progress, if set, is called with site 0's sample after every round.
	progress func(soakSample)
}

func newSoak(t *testing.T, spec soakSpec) *soak {
	f := start(t, Options{Sites: spec.sites, HTTP: true})
	ctx := deadline(t, 2*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	op, err := newOperatorFor(f)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < spec.workloads; i += 500 {
		var ops []crdt.Op
		for w := i; w < min(i+500, spec.workloads); w++ {
			ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: soakNamespace(w) + "/w" + strconv.Itoa(w), Field: "replicas", Value: []byte("2")},
				crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: soakNamespace(w) + "/w" + strconv.Itoa(w), Field: "kind", Value: []byte("Deployment")})
		}
		if err := op.write(ctx, 0, ops...); err != nil {
			t.Fatal(err)
		}
	}
	s := &soak{t: t, f: f, spec: spec, objects: make([][]string, spec.sites)}
	for i := range spec.sites { // clusters first: a status is held only once its cluster is known
		var ops []site.WriteOp
		for c := i; c < spec.clusters; c += spec.sites {
			key := crdt.ClusterKey(f.Names[i], "k"+strconv.Itoa(c))
			ops = append(ops, site.WriteOp{Op: "set", Kind: "cluster", Key: key, Field: "health", Value: "healthy"},
				site.WriteOp{Op: "set", Kind: "cluster", Key: key, Field: "available/cpu", Value: "64"})
		}
		if _, err := f.Client(i).Write(ctx, site.WriteRequest{Soft: true, Ops: ops}); err != nil {
			t.Fatal(err)
		}
	}
	for w := range spec.workloads {
		for j := range spec.perWorkload {
			c := (w + j*7) % spec.clusters
			i := c % spec.sites
			s.objects[i] = append(s.objects[i], crdt.StatusKey(soakNamespace(w), "w"+strconv.Itoa(w), f.Names[i], "k"+strconv.Itoa(c)))
		}
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// soakNamespace is workload w's namespace: 10,000 workloads each, a namespace's quota.
func soakNamespace(w int) string {
	if w < 10_000 {
		return "soak"
	}
	return "soak" + strconv.Itoa(w/10_000)
}

// round updates every status object of the running sites once.
func (s *soak) round(ctx context.Context, r int, running func(int) bool) {
	for i, keys := range s.objects {
		if !running(i) {
			continue
		}
		for lo := 0; lo < len(keys); lo += s.spec.batch {
			var ops []site.WriteOp
			for _, key := range keys[lo:min(lo+s.spec.batch, len(keys))] {
				v := strconv.Itoa(r % 3)
				ops = append(ops, site.WriteOp{Op: "set", Kind: "status", Key: key, Field: "ready", Value: v},
					site.WriteOp{Op: "set", Kind: "status", Key: key, Field: "available", Value: v},
					site.WriteOp{Op: "set", Kind: "status", Key: key, Field: "observed", Value: strconv.Itoa(r)})
			}
			res, err := s.f.Client(i).Write(ctx, site.WriteRequest{Soft: true, Ops: ops})
			if err != nil {
				s.t.Fatal(err)
			}
			s.updates += res.Soft
		}
	}
}

func (s *soak) sample(ctx context.Context, i, round int) soakSample {
	c, err := site.ReadConfig(s.f.Config(i))
	if err != nil {
		s.t.Fatal(err)
	}
	fi, err := os.Stat(c.DataFile())
	if err != nil {
		s.t.Fatal(err)
	}
	st, err := s.f.Client(i).State(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return soakSample{round: round, updates: s.updates, file: fi.Size(), heap: metricValue(ctx, s.t, s.f, i, "go_memstats_heap_alloc_bytes"),
		softBytes: st.Counters["softBytes"], soft: uint64(st.Soft), wireOut: st.Transport.StreamBytesOut, written: st.Counters["softWritten"]}
}

// run churns spec.rounds rounds, with site 1 stopped for spec.away rounds in the middle,
// and returns site 0's samples and what site 1 exchanged to catch up.
func (s *soak) run(ctx context.Context) (samples []soakSample, catchUp uint64, lacked int) {
	spec := s.spec
	stopAt := (spec.rounds - spec.away) / 2
	down := false
	for r := range spec.rounds {
		if r == stopAt && spec.away > 0 {
			if err := s.f.WaitConverged(ctx); err != nil {
				s.t.Fatal(err)
			}
			if err := s.f.StopSite(1); err != nil {
				s.t.Fatal(err)
			}
			down = true
		}
		if down && r == stopAt+spec.away {
			lacked = 0
			for i, keys := range s.objects {
				if i != 1 {
					lacked += len(keys)
				}
			}
			if err := s.f.StartSite(ctx, 1); err != nil {
				s.t.Fatal(err)
			}
			if err := s.f.WaitConverged(ctx); err != nil {
				s.t.Fatal(err)
			}
			catchUp = s.sample(ctx, 1, r).softBytes
			down = false
		}
		s.round(ctx, r, func(i int) bool { return !(down && i == 1) })
		samples = append(samples, s.sample(ctx, 0, r))
		if s.progress != nil {
			s.progress(samples[len(samples)-1])
		}
	}
	if err := s.f.WaitConverged(ctx); err != nil {
		s.t.Fatal(err)
	}
	return samples, catchUp, lacked
}

// TestStatusChurnFlat updates 2,000 status objects 20 times each at 2 sites, one of them
// stopped for 8 rounds, and checks that status costs what is live, not its history: the
// data file does not grow with the updates after the first rounds (as changes, 32,000
// updates would add about 25 MB), and the site that was away catches up in bytes on the
// order of the live records it lacked, not of the updates it missed.
func TestStatusChurnFlat(t *testing.T) {
	spec := soakSpec{sites: 2, workloads: 500, clusters: 4, perWorkload: 4, rounds: 20, away: 8, batch: 250}
	s := newSoak(t, spec)
	ctx := deadline(t, 5*time.Minute)
	samples, catchUp, lacked := s.run(ctx)
	warm, last := samples[3], samples[len(samples)-1]
	for _, x := range samples {
		t.Logf("round %2d: %6d updates, data file %7d B, heap %6.1f MB, %d records", x.round, x.updates, x.file, x.heap/1e6, x.soft)
	}
	updates := last.updates - warm.updates
	growth := last.file - warm.file
	before := samples[(spec.rounds-spec.away)/2-1] // the last round before site 1 stopped
	t.Logf("site 0 sent %.0f B on its streams per status update it wrote, rounds %d-%d (to its one peer, TLS included)",
		float64(before.wireOut-warm.wireOut)/float64(before.written-warm.written), warm.round+1, before.round)
	t.Logf("after warm-up: %d updates, data file %+d B (%.1f B per update); catch-up after %d rounds away: %d B for %d live records lacked (%.0f B each)",
		updates, growth, float64(growth)/float64(updates), spec.away, catchUp, lacked, float64(catchUp)/float64(lacked))
	if growth > 4<<20 {
		t.Errorf("the data file grew by %d B over %d status updates after warm-up", growth, updates)
	}
	missed := spec.away * lacked
	if perRecord := float64(catchUp) / float64(lacked); perRecord > 600 {
		t.Errorf("catching up took %d B for %d live records lacked (%d updates missed): %.0f B per record, want the latest record only", catchUp, lacked, missed, perRecord)
	}
	if last.soft < uint64(spec.workloads*spec.perWorkload) {
		t.Errorf("site 0 holds %d soft records, want at least %d", last.soft, spec.workloads*spec.perWorkload)
	}
}

// TestSoak is the long churn (docs/BENCHMARKS.md): ATOLL_SOAK=1 go test -run TestSoak ./e2e/
func TestSoak(t *testing.T) {
	if os.Getenv("ATOLL_SOAK") == "" {
		t.Skip("the long churn: ATOLL_SOAK=1")
	}
	rounds, _ := strconv.Atoi(os.Getenv("ATOLL_SOAK_ROUNDS"))
	spec := soakSpec{sites: 3, workloads: 10_000, clusters: 50, perWorkload: 2, rounds: max(rounds, 60), batch: 1000}
	spec.away = spec.rounds / 4
	s := newSoak(t, spec)
	ctx := deadline(t, 3*time.Hour)
	start := time.Now()
	s.progress = func(x soakSample) {
		fmt.Printf("soak\t%d\t%d\t%d\t%.0f\t%d\t%v\n", x.round, x.updates, x.file, x.heap, x.softBytes, time.Since(start).Round(time.Second))
	}
	samples, catchUp, lacked := s.run(ctx)
	if err := s.f.StopSite(0); err != nil {
		t.Fatal(err)
	}
	opened := time.Now()
	if err := s.f.StartSite(ctx, 0); err != nil {
		t.Fatal(err)
	}
	st, err := s.f.Client(0).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("site 0 restarted (API up) in %v holding %d changes and %d soft records", time.Since(opened).Round(time.Millisecond), st.Changes, st.Soft)
	n := len(samples)
	half := samples[n/2:]
	h0, h1 := half[0], half[len(half)-1]
	t.Logf("second half: site 0 sent %.0f B on its streams per status update it wrote, per peer (TLS, sessions, changes and memberlist streams included)",
		float64(h1.wireOut-h0.wireOut)/float64(h1.written-h0.written)/float64(spec.sites-1))
	t.Logf("%d status objects, %d updates in %v; second half: data file %d -> %d B, heap %.1f -> %.1f MB; catch-up after %d rounds away: %d B for %d live records lacked (%.0f B each; %d updates missed)",
		s.spec.workloads*s.spec.perWorkload, samples[n-1].updates, time.Since(start).Round(time.Second), half[0].file, half[len(half)-1].file,
		half[0].heap/1e6, half[len(half)-1].heap/1e6, spec.away, catchUp, lacked, float64(catchUp)/float64(lacked), spec.away*lacked)
}
