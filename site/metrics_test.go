package site

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"atoll/crdt"
	"atoll/peering"
)

// openTestSite opens site "a" of a federation of sites a (EU), b (US) and c (EU) with one
// operator, without running it. It returns the site and the signers of b and c.
func openTestSite(t *testing.T) (s *Site, b, c *crdt.Signer, genesis []byte) {
	t.Helper()
	dir := t.TempDir()
	pub, err := NewKeyFile(filepath.Join(dir, "a.key"))
	if err != nil {
		t.Fatal(err)
	}
	seed := func(name string) *crdt.Signer { return crdt.SignerFromSeed([]byte(strings.Repeat(name, 32)[:32])) }
	admin, op := seed("admin"), seed("operator")
	b, c = seed("b"), seed("c")
	env, err := crdt.NewGenesis(crdt.CharterSpec{Name: "test", Threshold: 1,
		Admins: []crdt.Member{{Name: "admin", Key: admin.Public()}},
		Sites: []crdt.SiteInfo{{Name: "a", Key: pub, Region: "r1", Jurisdiction: "EU"},
			{Name: "b", Key: b.Public(), Region: "r2", Jurisdiction: "US"}, {Name: "c", Key: c.Public(), Region: "r3", Jurisdiction: "EU"}},
		Operators: []crdt.OperatorInfo{{Name: "op", Key: op.Public(), Namespaces: []string{"*"}}},
	}, admin)
	if err != nil {
		t.Fatal(err)
	}
	genesis = env.Encode()
	if err := os.WriteFile(filepath.Join(dir, "genesis.atoll"), genesis, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Name: "a", Identity: filepath.Join(dir, "a.key"), Genesis: filepath.Join(dir, "genesis.atoll"),
		Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data")}
	s, err = Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, b, c, genesis
}

// TestMetricsCollector feeds a site that is open but not running: a peer's change, a
// forged and a malformed one, its own writes, and peers in and out of sync; then checks
// what /metrics says.
func TestMetricsCollector(t *testing.T) {
	s, b, _, genesis := openTestSite(t)
	rb, err := crdt.NewReplica(crdt.Config{Genesis: genesis, Self: b.Public()})
	if err != nil {
		t.Fatal(err)
	}
	status := func(site, f, v string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindStatus, Key: crdt.StatusKey("web", "front", site, "c1"), Field: f, Value: []byte(v)}
	}
	fromB, _, err := rb.Write(b, []crdt.Op{status("b", "desired", "3"), status("b", "ready", "2")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	next, _, err := rb.Write(b, []crdt.Op{status("b", "ready", "3")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	forged := next.Encode()
	forged[len(forged)-10] ^= 1 // inside the signature
	if !s.receivePush("b", [][]byte{fromB.Encode(), forged, []byte("garbage")}) {
		t.Fatal("peer b refused after two invalid changes")
	}
	health := func(cluster, v string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindCluster, Key: crdt.ClusterKey("a", cluster), Field: "health", Value: []byte(v)}
	}
	if _, err := s.Write([]crdt.Op{health("c1", "healthy"), health("c2", "unhealthy"), status("a", "desired", "2"), status("a", "ready", "1")}); err != nil {
		t.Fatal(err)
	}

	// b is live and advertises this site's heads; c is live and has advertised a change
	// this site has lacked for 10 s.
	now := time.Now()
	s.mu.Lock()
	s.core.PeerUp("b", crdt.PubKey{}, "", now)
	s.core.PeerUp("c", crdt.PubKey{}, "", now)
	var heads [][32]byte
	for _, h := range s.rep.Heads() {
		heads = append(heads, h)
	}
	s.core.Advertised("b", peering.NewMeta(s.rep.Len(), heads))
	s.core.Advertised("c", peering.NewMeta(s.rep.Len()+1, [][32]byte{{1}}))
	s.core.Due(now.Add(-10 * time.Second))
	s.mu.Unlock()

	got := scrape(t, s)
	for _, tc := range []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"atoll_site_info", map[string]string{"site": "a", "region": "r1", "jurisdiction": "EU", "federation": "test"}, 1},
		{"atoll_changes_held", nil, 3},
		{"atoll_changes_pending", nil, 0},
		{"atoll_changes_applied_total", nil, 2},
		{"atoll_changes_rejected_total", map[string]string{"reason": crdt.ReasonSignature}, 1},
		{"atoll_changes_rejected_total", map[string]string{"reason": crdt.ReasonMalformed}, 1},
		{"atoll_changes_rejected_total", map[string]string{"reason": crdt.ReasonAuthority}, 0},
		{"atoll_peer_live", map[string]string{"peer": "b"}, 1},
		{"atoll_peer_in_sync", map[string]string{"peer": "b"}, 1},
		{"atoll_peer_in_sync", map[string]string{"peer": "c"}, 0},
		{"atoll_peer_lag_seconds", map[string]string{"peer": "b"}, 0},
		{"atoll_replicas", map[string]string{"site": "a", "state": "desired"}, 2},
		{"atoll_replicas", map[string]string{"site": "a", "state": "ready"}, 1},
		{"atoll_replicas", map[string]string{"site": "b", "state": "ready"}, 2},
		{"atoll_replicas", map[string]string{"site": "c", "state": "desired"}, 0},
		{"atoll_member_cluster_healthy", map[string]string{"cluster": "c1"}, 1},
		{"atoll_member_cluster_healthy", map[string]string{"cluster": "c2"}, 0},
		{"atoll_push_changes_total", map[string]string{"direction": "in"}, 3},
		{"atoll_reconcile_duration_seconds", nil, 0}, // sample count
		{"atoll_reconcile_errors_total", nil, 0},
	} {
		v, ok := find(got, tc.metric, tc.labels)
		if !ok {
			t.Errorf("%s%v missing", tc.metric, tc.labels)
		} else if v != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.metric, tc.labels, v, tc.want)
		}
	}
	if lag, _ := find(got, "atoll_peer_lag_seconds", map[string]string{"peer": "c"}); lag < 10 {
		t.Errorf("atoll_peer_lag_seconds{peer=c} = %v, want at least 10", lag)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if got[name] == nil {
			t.Errorf("%s missing: the Go and process collectors are registered", name)
		}
	}
	if got["atoll_transport_bytes_total"] != nil {
		t.Error("transport metrics before the transport exists")
	}

	// Once c is lost it is neither live nor in sync, and its lag is unknown.
	s.mu.Lock()
	s.core.PeerDown("c", time.Now())
	s.mu.Unlock()
	got = scrape(t, s)
	if v, ok := find(got, "atoll_peer_live", map[string]string{"peer": "c"}); !ok || v != 0 {
		t.Errorf("atoll_peer_live{peer=c} = %v, %v after it was lost", v, ok)
	}
	if _, ok := find(got, "atoll_peer_lag_seconds", map[string]string{"peer": "c"}); ok {
		t.Error("atoll_peer_lag_seconds{peer=c} exported for a lost peer")
	}
}

// scrape serves GET /metrics and parses the text format.
func scrape(t *testing.T, s *Site) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	s.metrics.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// find returns the value of the sample of a family whose labels include labels: a
// gauge's or counter's value, a histogram's sample count.
func find(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
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
		for k, v := range labels {
			if have[k] != v {
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
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}
