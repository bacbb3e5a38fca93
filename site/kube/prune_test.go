package kube_test

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"atoll/site/kube"
)

// leftBehind are objects as an earlier Atoll process would have left them in a namespace
// (NS in their workload labels), of kinds outside any fixed list, and their neighbours that no prune may touch.
const leftBehind = `apiVersion: batch/v1
kind: Job
metadata:
  name: old-job
  labels: {atoll.io/managed-by: atoll, atoll.io/workload: NS.old-job}
  annotations: {atoll.io/rendered: 0123456789abcdef, atoll.io/change: c0}
spec:
  template:
    metadata:
      # The Job's pods carry the same labels and annotation, and an owner: the
      # controller's objects are never pruned, the garbage collector removes them.
      labels: {app: old-job, atoll.io/managed-by: atoll, atoll.io/workload: NS.old-job}
      annotations: {atoll.io/rendered: 0123456789abcdef}
    spec:
      restartPolicy: Never
      containers:
      - {name: run, image: registry.invalid/run:1}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: old-ingress
  labels: {atoll.io/managed-by: atoll, atoll.io/workload: NS.old-ingress}
  annotations: {atoll.io/rendered: 0123456789abcdef, atoll.io/change: c0}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: theirs
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: copy
  labels: {atoll.io/managed-by: atoll, atoll.io/workload: NS.web}
data: {note: "Atoll's labels copied, as a controller copies a Service's onto its Endpoints"}
`

var (
	jobs      = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	ingresses = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	cms       = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// TestPruneSweepsEveryKind: after a restart (a new Applier), the first Prune finds
// Atoll's objects of every kind the cluster serves through discovery (a Job and an
// Ingress here, which no fixed list held), as the site's own RBAC allows: kinds it may
// not list are skipped and logged, not an error. It deletes exactly Atoll's objects
// that are not kept, a Job with its pods. The next Prune lists only the kinds the Applier
// applied; so does one with nothing kept (unjoin), which deletes the rest.
func TestPruneSweepsEveryKind(t *testing.T) {
	c := memberCluster(t)
	ctx := deadline(t, 2*time.Minute)
	cs, dyn := admin(t, c)
	ns := namespace("swept")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for doc := range strings.SplitSeq(leftBehind, "\n---\n") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(strings.ReplaceAll(doc, "NS.", ns+".")), &u.Object); err != nil {
			t.Fatal(err)
		}
		gvr := map[string]schema.GroupVersionResource{"Job": jobs, "Ingress": ingresses, "ConfigMap": cms}[u.GetKind()]
		if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, &u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	jobPods := metav1.ListOptions{LabelSelector: "app=old-job"}
	until(ctx, t, "the Job's pod", func() (bool, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, jobPods)
		return err == nil && len(l.Items) > 0, err
	})

	var lists atomic.Int64
	log := newRecords()
	a := newApplier(t, c, time.Hour, slog.New(log), func(rt http.RoundTripper) http.RoundTripper { return counting{rt, &lists} })
	kept, key, err := a.Apply(ctx, render(t, ns, "kept", "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n", -1))
	if err != nil || kept == nil {
		t.Fatalf("apply the kept ConfigMap: %v", err)
	}

	lists.Store(0)
	deleted, err := a.Prune(ctx, map[string]bool{key: true})
	if err != nil {
		t.Fatalf("first prune: %v", err)
	}
	// Atoll's objects that other tests left in the shared cluster may go too.
	want := []string{kube.ObjectKey(ingresses, ns, "old-ingress"), kube.ObjectKey(jobs, ns, "old-job")}
	if got := inNamespace(deleted, ns); !slices.Equal(got, want) {
		t.Errorf("first prune deleted %v in %s, want %v", got, ns, want)
	}
	if n := lists.Load(); n < 20 {
		t.Errorf("first prune made %d lists; want one per namespaced kind the cluster serves (over 20)", n)
	}
	if r, ok := log.find("prune: resource skipped, swept again at the next resync", "resource", "roles.rbac.authorization.k8s.io"); !ok || r.Level != slog.LevelDebug {
		t.Errorf("no debug record of roles skipped (the site may not list them): %v, %v", r, ok)
	}
	gone := func(gvr schema.GroupVersionResource, name string) func() (bool, error) {
		return func() (bool, error) {
			_, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}
	}
	until(ctx, t, "old-ingress to be gone", gone(ingresses, "old-ingress"))
	until(ctx, t, "old-job to be gone", gone(jobs, "old-job"))
	until(ctx, t, "the Job's pods to be collected", func() (bool, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, jobPods)
		return err == nil && len(l.Items) == 0, err
	})
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{ingresses, "theirs"}, {cms, "copy"}, {cms, "kept"}} {
		if _, err := dyn.Resource(o.gvr).Namespace(ns).Get(ctx, o.name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s %s: %v; want it left alone", o.gvr.Resource, o.name, err)
		}
	}

	lists.Store(0)
	if deleted, err := a.Prune(ctx, map[string]bool{key: true}); err != nil || len(inNamespace(deleted, ns)) != 0 {
		t.Errorf("second prune: deleted %v, %v; want nothing", deleted, err)
	}
	if n := lists.Load(); n != 0 {
		t.Errorf("second prune made %d lists; want none: the kind the Applier applied (configmaps) is read from its cache", n)
	}

	lists.Store(0)
	deleted, err = a.Prune(ctx, nil)
	if err != nil || !slices.Equal(inNamespace(deleted, ns), []string{key}) {
		t.Errorf("prune with nothing kept: deleted %v, %v; want %s", deleted, err, key)
	}
	if n := lists.Load(); n != 1 {
		t.Errorf("prune with nothing kept made %d lists; want 1, from the API server", n)
	}
	if _, err := dyn.Resource(cms).Namespace(ns).Get(ctx, "copy", metav1.GetOptions{}); err != nil {
		t.Errorf("copy: %v; want it left alone", err)
	}
}
