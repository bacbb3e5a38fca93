package kube_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"atoll/deploy/testenv"
	"atoll/site/kube"
)

// One member cluster (kube-apiserver, controller manager, scheduler, kwok) serves every
// test of this package that needs one; it starts with the first of them and stops after
// the last.
var shared struct {
	once sync.Once
	env  *testenv.Env
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.env != nil {
		shared.env.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// memberCluster returns the shared member cluster, started on first use; the test is
// skipped when the Kubernetes binaries were not built.
func memberCluster(t *testing.T) testenv.Cluster {
	t.Helper()
	if _, err := testenv.BinDir(); err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "atk"); shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared.env, shared.err = testenv.Start(ctx, testenv.Options{Dir: shared.dir, Clusters: 1})
	})
	if shared.err != nil {
		t.Fatalf("member cluster: %v", shared.err)
	}
	return shared.env.Clusters()[0]
}

// namespaces counts the namespaces tests made, so that each has its own even when a test
// runs again (-count) in the shared cluster.
var namespaces atomic.Int64

// namespace returns a new namespace name starting with base.
func namespace(base string) string { return fmt.Sprintf("%s-%d", base, namespaces.Add(1)) }

func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func restConfig(t *testing.T, kubeconfig string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// admin returns clients with the cluster's admin token, to act as the cluster's users do.
func admin(t *testing.T, c testenv.Cluster) (*kubernetes.Clientset, *dynamic.DynamicClient) {
	t.Helper()
	cfg := restConfig(t, c.Kubeconfig)
	cfg.WarningHandler = rest.NoWarnings{} // Pod Security's warnings about test pods
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, dyn
}

// newApplier returns an Applier acting as the user atoll, who holds only the member
// RBAC (rbac.yaml), as a site does; it is stopped when the test ends.
func newApplier(t *testing.T, c testenv.Cluster, resync time.Duration, log *slog.Logger, wrap func(http.RoundTripper) http.RoundTripper) *kube.Applier {
	t.Helper()
	cfg := restConfig(t, c.AtollKubeconfig)
	cfg.WrapTransport = wrap
	cfg.WarningHandler = rest.NoWarnings{}
	a, err := kube.NewApplier(cfg, resync, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	return a
}

// until calls cond every 100 ms until it returns true, and fails the test naming what it
// waited for if ctx ends first.
func until(ctx context.Context, t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	for {
		ok, err := cond()
		if err != nil {
			last = err
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)", what, context.Cause(ctx), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// counting is a transport that counts the list requests (GET, not watch) it carries for
// Atoll's label.
type counting struct {
	next  http.RoundTripper
	lists *atomic.Int64
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	q := r.URL.Query()
	if r.Method == http.MethodGet && q.Get("labelSelector") == kube.LabelManaged+"=atoll" && q.Get("watch") != "true" {
		c.lists.Add(1)
	}
	return c.next.RoundTrip(r)
}

// records is a slog handler that keeps every record, at every level.
type records struct {
	mu   *sync.Mutex
	recs *[]slog.Record
}

func newRecords() records { return records{mu: &sync.Mutex{}, recs: &[]slog.Record{}} }

func (h records) Enabled(context.Context, slog.Level) bool { return true }
func (h records) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h records) WithGroup(string) slog.Handler            { return h }
func (h records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.recs = append(*h.recs, r.Clone())
	return nil
}

// find returns the first record with message msg and the attribute key=value.
func (h records) find(msg, key, value string) (slog.Record, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range *h.recs {
		found := false
		r.Attrs(func(a slog.Attr) bool {
			found = a.Key == key && a.Value.String() == value
			return !found
		})
		if found && r.Message == msg {
			return r, true
		}
	}
	return slog.Record{}, false
}

func render(t *testing.T, ns, name, template string, replicas int) *unstructured.Unstructured {
	t.Helper()
	u, err := kube.NewTemplates().Render(kube.Workload{Namespace: ns, Name: name, Template: []byte(template), Replicas: 10, Change: "c1"}, nil, replicas)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// inNamespace returns the keys (ObjectKey) of namespace ns, sorted.
func inNamespace(keys []string, ns string) []string {
	var out []string
	for _, k := range keys {
		if strings.Contains(k, "/"+ns+"/") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
