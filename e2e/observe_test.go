package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"atoll/site"
)

// TestObserve: `atoll observe` joins with the charter's observer key, pulls the whole
// state, serves the same view as a site with bounded bodies redacted, takes no writes,
// and follows liveness; the sites do not count it as a peer.
func TestObserve(t *testing.T) {
	f, op, ctx := startWithFront(t, Options{Sites: 3, HTTP: true, Observers: []string{"watch"}}, 90*time.Second)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	if err := f.StartObserver(ctx, "watch", httpAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(f.opts.Dir, "watch.log"))
			t.Logf("--- watch.log\n%s", b)
		}
	})
	url := "http://" + httpAddr

	if err := op.writeWorkload(ctx, 0, "web", "ledger", 2, "EU"); err != nil {
		t.Fatal(err)
	}

	// The observer converges on the sites' digest and sees both workloads.
	var v site.View
	err = poll(ctx, func() bool {
		var s0 site.View
		if _, err := getJSON(ctx, f.HTTP(), f.URL(0)+"/v1/view", &s0); err != nil {
			return false
		}
		code, err := getJSON(ctx, f.HTTP(), url+"/v1/view", &v)
		return err == nil && code == 200 && v.Digest == s0.Digest && len(v.Workloads) == 2
	})
	if err != nil {
		t.Fatalf("observer never converged: %d workloads, digest %s", len(v.Workloads), v.Digest)
	}
	if v.Role != "observer" || v.Site != "watch" {
		t.Errorf("observer view: role %q, site %q", v.Role, v.Site)
	}
	for _, w := range v.Workloads {
		if w.Workload == "web/ledger" && !w.Redacted {
			t.Error("the observer holds the body of a workload bounded to EU")
		}
		if w.Workload == "web/front" && (w.Redacted || w.Replicas != 3) {
			t.Errorf("web/front at the observer: redacted %v, replicas %d", w.Redacted, w.Replicas)
		}
	}
	if i := slices.IndexFunc(v.Sites, func(s site.SiteView) bool { return !s.Live }); i >= 0 {
		t.Errorf("observer sees %s not live", v.Sites[i].Name)
	}
	// Read-only: no POST /v1/changes, and the sites do not take it for a peer.
	resp, err := f.HTTP().Post(url+"/v1/changes", "application/octet-stream", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusBadRequest {
		t.Errorf("POST /v1/changes at the observer answered %s: it must not take changes", resp.Status)
	}
	st, err := f.Client(0).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Live) != 2 {
		t.Errorf("s00 counts %v live: the observer must not be a peer", st.Live)
	}

	// Liveness: a stopped site shows as lost at the observer.
	if err := f.StopSite(2); err != nil {
		t.Fatal(err)
	}
	lost := func(ctx context.Context) bool {
		var v site.View
		_, err := getJSON(ctx, f.HTTP(), url+"/v1/view", &v)
		return err == nil && slices.ContainsFunc(v.Sites, func(s site.SiteView) bool { return s.Name == f.Names[2] && !s.Live })
	}
	if err := poll(ctx, func() bool { return lost(ctx) }); err != nil {
		t.Fatal("the observer never saw s02 lost")
	}
}
