package e2e

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// TestLargeSite measures one real site process holding a large state: 100,000 workloads
// over 50 clusters, each reporting status from ATOLL_LARGE_PER of them (default 3; 50
// is every workload on every cluster), written through its APIs as for the soak. It
// reports the site's memory with that state and the time to open it again (SIGTERM,
// start, API up). A benchmark, not a timed test (docs/BENCHMARKS.md, "A large site"):
//
//	ATOLL_LARGE=1 go test -run 'TestLargeSite$' -v -timeout 3h ./e2e/
func TestLargeSite(t *testing.T) {
	if os.Getenv("ATOLL_LARGE") == "" {
		t.Skip("a site with 100,000 workloads: ATOLL_LARGE=1")
	}
	per := 3
	if v, err := strconv.Atoi(os.Getenv("ATOLL_LARGE_PER")); err == nil && v > 0 {
		per = v
	}
	workloads := 100_000
	if v, err := strconv.Atoi(os.Getenv("ATOLL_LARGE_WORKLOADS")); err == nil && v > 0 {
		workloads = v
	}
	began := time.Now()
	s := newSoak(t, soakSpec{sites: 1, workloads: workloads, clusters: 50, perWorkload: min(per, 50), rounds: 1, batch: 500})
	ctx := deadline(t, 3*time.Hour)
	s.round(ctx, 0, func(int) bool { return true })
	written := s.sample(ctx, 0, 0)
	t.Logf("wrote %d workloads and %d status records in %v; data file %d B", workloads, written.soft, time.Since(began).Round(time.Second), written.file)
	measure := func(when string) {
		heap := metricValue(ctx, t, s.f, 0, "go_memstats_heap_alloc_bytes")
		rss := metricValue(ctx, t, s.f, 0, "process_resident_memory_bytes")
		t.Logf("%s: heap %.0f MB, resident %.0f MB", when, heap/1e6, rss/1e6)
	}
	measure("after writing")
	for i := range 3 {
		if err := s.f.StopSite(0); err != nil {
			t.Fatal(err)
		}
		opened := time.Now()
		if err := s.f.StartSite(ctx, 0); err != nil {
			t.Fatal(err)
		}
		took := time.Since(opened)
		st, err := s.f.Client(0).State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Soft < int(written.soft) {
			t.Fatalf("restart %d: %d soft records held, want %d", i, st.Soft, written.soft)
		}
		t.Logf("restart %d: API up in %v holding %d changes and %d soft records", i, took.Round(time.Millisecond), st.Changes, st.Soft)
		measure("after restart " + strconv.Itoa(i))
	}
}
