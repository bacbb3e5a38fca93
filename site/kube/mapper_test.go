package kube

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
)

// TestUnknownKindWaitsWithoutRediscovering: a kind the member does not serve (a custom
// resource whose CRD is not established, or never will be) is a Waiting, and asking
// again at once does not make the Applier discover the member's whole API again: a
// template of a kind that never comes cannot turn every pass into a discovery.
func TestUnknownKindWaitsWithoutRediscovering(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api":
			_, _ = w.Write([]byte(`{"kind":"APIVersions","versions":["v1"]}`))
		case "/apis":
			_, _ = w.Write([]byte(`{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`))
		case "/api/v1":
			_, _ = w.Write([]byte(`{"kind":"APIResourceList","groupVersion":"v1","resources":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	a, err := NewApplier(&rest.Config{Host: srv.URL}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w", "namespace": "shop"}}}
	ask := func() {
		t.Helper()
		if _, _, err := a.resource(u); err == nil {
			t.Fatal("an unknown kind was mapped")
		} else if _, ok := IsWaiting(err); !ok {
			t.Fatalf("an unknown kind: %v, want a Waiting", err)
		}
	}
	ask()
	first := requests.Load()
	if first == 0 {
		t.Fatal("no discovery at all")
	}
	for range 20 {
		ask()
	}
	if got := requests.Load(); got != first {
		t.Fatalf("%d discovery requests after 20 more asks within %v, want none (%d before)", got-first, mapperReset, first)
	}
	a.lastReset = time.Now().Add(-mapperReset) // as if mapperReset had passed
	ask()
	if requests.Load() == first {
		t.Fatal("no discovery once mapperReset passed: a CRD installed since would never be seen")
	}
}
