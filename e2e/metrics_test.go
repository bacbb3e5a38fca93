package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"atoll/crdt"
)

// scrapeMetrics fetches and parses a site's GET /metrics.
func scrapeMetrics(ctx context.Context, hc *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// sample returns the value of the first sample of family name whose labels include
// labels (a histogram's sample count), and whether there is one.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics: every site serves /metrics in the Prometheus text format; a workload
// counts as applied everywhere, a forged change as one rejection for a bad signature where
// it was submitted, and peers are in sync once converged, out of sync across a partition,
// and in sync again after it heals.
func TestMetrics(t *testing.T) {
	f, op, ctx := startWithFront(t, Options{Sites: 3, HTTP: true}, 2*time.Minute)
	env, err := crdt.Sign(op.rep.Prepare(workloadOps("web", "forged", 1), nil), nil, f.Operator)
	if err != nil {
		t.Fatal(err)
	}
	forged := env.Encode()
	forged[len(forged)-10] ^= 1 // inside the signature
	if _, err := f.Client(0).Submit(ctx, forged); err == nil {
		t.Fatal("site 0 accepted a change with a flipped signature byte")
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	// inSync reports whether site i sees each listed peer in sync (want true) or out of it.
	inSync := func(i int, want bool, peers ...int) (bool, string) {
		fams, err := scrapeMetrics(ctx, f.HTTP(), f.URL(i))
		if err != nil {
			return false, err.Error()
		}
		for _, j := range peers {
			v, ok := sample(fams, "atoll_peer_in_sync", "peer", f.Names[j])
			if !ok || (v == 1) != want {
				return false, fmt.Sprintf("%s: atoll_peer_in_sync{peer=%q} = %v (present %v)", f.Names[i], f.Names[j], v, ok)
			}
		}
		return true, ""
	}
	waitInSync := func(i int, want bool, peers ...int) {
		t.Helper()
		var why string
		if err := poll(ctx, func() bool { ok, w := inSync(i, want, peers...); why = w; return ok }); err != nil {
			t.Fatalf("%v; last: %s", err, why)
		}
	}
	for i := range 3 {
		waitInSync(i, true, others(i, 3)...)
	}

	for i := range 3 {
		fams, err := scrapeMetrics(ctx, f.HTTP(), f.URL(i))
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := sample(fams, "atoll_changes_applied_total"); v < 1 {
			t.Errorf("%s: atoll_changes_applied_total = %v, want the workload counted", f.Names[i], v)
		}
		if v, _ := sample(fams, "atoll_changes_held"); v < 2 {
			t.Errorf("%s: atoll_changes_held = %v", f.Names[i], v)
		}
		wantSig := 0.0
		if i == 0 {
			wantSig = 1 // submitted there; never stored, so never passed on
		}
		for _, reason := range crdt.RejectReasons() {
			want := 0.0
			if reason == crdt.ReasonSignature {
				want = wantSig
			}
			if v, ok := sample(fams, "atoll_changes_rejected_total", "reason", reason); !ok || v != want {
				t.Errorf("%s: atoll_changes_rejected_total{reason=%q} = %v (present %v), want %v", f.Names[i], reason, v, ok, want)
			}
		}
		for _, j := range others(i, 3) {
			if v, ok := sample(fams, "atoll_peer_lag_seconds", "peer", f.Names[j]); !ok || v < 0 {
				t.Errorf("%s: atoll_peer_lag_seconds{peer=%q} = %v (present %v)", f.Names[i], f.Names[j], v, ok)
			}
			if v, _ := sample(fams, "atoll_peer_live", "peer", f.Names[j]); v != 1 {
				t.Errorf("%s: atoll_peer_live{peer=%q} = %v", f.Names[i], f.Names[j], v)
			}
		}
		if v, _ := sample(fams, "atoll_site_info", "site", f.Names[i]); v != 1 {
			t.Errorf("%s: atoll_site_info missing", f.Names[i])
		}
		if v, _ := sample(fams, "atoll_reconcile_duration_seconds"); v < 1 {
			t.Errorf("%s: no reconcile pass observed", f.Names[i])
		}
		for _, name := range []string{"atoll_transport_bytes_total", "go_goroutines", "process_resident_memory_bytes"} {
			if fams[name] == nil {
				t.Errorf("%s: %s missing", f.Names[i], name)
			}
		}
	}

	// Across a partition, site 0 sees site 2 out of sync once it writes, and site 1 still
	// in sync; after healing, every site sees every peer in sync again.
	if err := f.Partition(ctx, []int{0, 1}, []int{2}); err != nil {
		t.Fatal(err)
	}
	if err := op.write(ctx, 0, workloadOps("web", "back", 2)...); err != nil {
		t.Fatal(err)
	}
	waitInSync(0, false, 2)
	waitInSync(0, true, 1)
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		waitInSync(i, true, others(i, 3)...)
	}
}

// others returns 0..n-1 without i.
func others(i, n int) []int {
	var out []int
	for j := range n {
		if j != i {
			out = append(out, j)
		}
	}
	return out
}
