package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"atoll/crdt"
	"atoll/deploy/testenv"
	"atoll/site"
)

const (
	// The attacks of an operator granted only the namespace shop, signed by hand.
	rootBinding = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: root}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: shop}]
`
	hostPathTemplate = `apiVersion: apps/v1
kind: Deployment
metadata: {name: evil}
spec:
  replicas: 1
  selector: {matchLabels: {app: evil}}
  template:
    metadata: {labels: {app: evil}}
    spec:
      hostPID: true
      hostNetwork: true
      volumes: [{name: root, hostPath: {path: /}}]
      containers: [{name: c, image: registry.invalid/evil:1, volumeMounts: [{name: root, mountPath: /host}]}]
`
	payNamespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: pay}\n"
	paySecret    = "apiVersion: v1\nkind: Secret\nmetadata: {name: db-creds}\nstringData: {password: hunter2}\n"
)

// TestAdmissionEdge: an operator granted only the namespace shop signs, bypassing the
// CLI, a ClusterRoleBinding to cluster-admin (as a Deployment, and as itself with every
// kind allowed at the site), a Deployment with hostPath /, hostPID and hostNetwork, a
// Namespace named like another team's, and a ConfigMap in that team's namespace. The site
// running the real member cluster refuses each (the cluster's RESTMapper says which kinds
// are cluster-scoped), records why (status seen at the other site, audit record, event,
// metric), and the other team's namespace and Secret survive every prune; when that
// namespace is deleted in the cluster, the site creates it again. Workloads that break no
// rule carry on throughout.
func TestAdmissionEdge(t *testing.T) {
	if _, err := testenv.BinDir(); err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	env, err := testenv.Start(t.Context(), testenv.Options{Dir: shortTempDir(t), Clusters: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	f := start(t, Options{Sites: 2, HTTP: true,
		Operators: []OperatorSpec{{"shop", []string{"shop"}}, {"pay", []string{"pay"}}},
		Tune: func(_ int, c *site.Config) {
			c.Observe, c.Resync = site.Duration(500*time.Millisecond), site.Duration(2*time.Second)
			// Every namespaced kind allowed: what refuses a cluster-scoped one is the
			// member cluster's RESTMapper, not the list.
			c.Admission.Kinds = []string{"*"}
		}})
	ctx := deadline(t, 4*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := joinAtoll(ctx, f, 0, "c0", env.Clusters()[0]); err != nil {
		t.Fatal(err)
	}
	cs := clientset(t, env.Clusters()[0].Kubeconfig) // the test's own admin view
	shop, err := newOperatorAs(f, f.Operators["shop"])
	if err != nil {
		t.Fatal(err)
	}
	pay, err := newOperatorAs(f, f.Operators["pay"])
	if err != nil {
		t.Fatal(err)
	}
	wops := func(key, apiVersion, kind, replicas, template string) []crdt.Op {
		set := func(f, v string) crdt.Op {
			return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: key, Field: f, Value: []byte(v)}
		}
		ops := []crdt.Op{set("apiVersion", apiVersion), set("kind", kind), set("template", template)}
		if replicas != "" {
			ops = append(ops, set("replicas", replicas))
		}
		return ops
	}
	if err := pay.write(ctx, 0, wops("pay/secret.db-creds", "v1", "Secret", "", paySecret)...); err != nil {
		t.Fatal(err)
	}
	if err := shop.write(ctx, 0, wops("shop/web", "apps/v1", "Deployment", "2", webTemplate)...); err != nil {
		t.Fatal(err)
	}
	secretUID := func() string {
		s, err := cs.CoreV1().Secrets("pay").Get(ctx, "db-creds", metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return string(s.UID)
	}
	if err := poll(ctx, func() bool { return secretUID() != "" }); err != nil {
		t.Fatal("pay's Secret never created:", err)
	}
	first := secretUID()

	attacks := []struct {
		key, apiVersion, kind, replicas, template string
		want                                      string // in the refusal
	}{
		{"shop/web2", "apps/v1", "Deployment", "1", rootBinding, "the template is a rbac.authorization.k8s.io/v1 ClusterRoleBinding, the workload a apps/v1 Deployment"},
		{"shop/clusterrolebinding.root", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", rootBinding, "ClusterRoleBinding is cluster-scoped in this cluster"},
		{"shop/evil", "apps/v1", "Deployment", "1", hostPathTemplate, `violates PodSecurity "baseline"`},
		{"shop/namespace.pay", "v1", "Namespace", "", payNamespace, "a Namespace is never created, adopted or deleted through a namespaced workload"},
		{"shop/configmap.x", "v1", "ConfigMap", "", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: pay}\n", `namespace "pay" is not the workload's namespace "shop"`},
	}
	for _, a := range attacks {
		if err := shop.write(ctx, 1, wops(a.key, a.apiVersion, a.kind, a.replicas, a.template)...); err != nil {
			t.Fatalf("%s: %v", a.key, err)
		}
	}
	// The refusals, as the other site sees them in describe.
	for _, a := range attacks {
		ns, name, _ := strings.Cut(a.key, "/")
		var conds []string
		err := poll(ctx, func() bool {
			p, err := f.Client(1).Placement(ctx, ns, name)
			conds = p.Conditions
			return err == nil && slices.ContainsFunc(p.Conditions, func(c string) bool {
				return strings.HasPrefix(c, "refused by "+f.Names[0]+"/c0: ") && strings.Contains(c, a.want)
			})
		})
		if err != nil {
			t.Fatalf("%s: describe at %s never showed the refusal %q; conditions %q", a.key, f.Names[1], a.want, conds)
		}
	}
	// A workload written after the attacks is applied: passes go on, and each clean pass
	// prunes, so pay's namespace and Secret have been through prunes by then.
	if err := shop.write(ctx, 0, wops("shop/configmap.after", "v1", "ConfigMap", "", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n")...); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, func() bool {
		_, err := cs.CoreV1().ConfigMaps("shop").Get(ctx, "after", metav1.GetOptions{})
		return err == nil
	}); err != nil {
		t.Fatal("a later workload was never applied:", err)
	}
	waitPasses(t, ctx, f, 0, 2)
	if got := secretUID(); got != first {
		t.Fatalf("pay's Secret: uid %q, want %q (deleted or replaced)", got, first)
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "pay", metav1.GetOptions{})
	if err != nil || ns.DeletionTimestamp != nil {
		t.Fatalf("namespace pay: %v %v", err, ns.DeletionTimestamp)
	}
	// Nothing of the attacks reached the cluster.
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "root", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("ClusterRoleBinding root: %v, want not found", err)
	}
	if _, err := cs.AppsV1().Deployments("shop").Get(ctx, "evil", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Deployment shop/evil: %v, want not found", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("pay").Get(ctx, "x", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("ConfigMap pay/x: %v, want not found", err)
	}
	sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
		User: "system:serviceaccount:shop:default", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"},
		ResourceAttributes: &authv1.ResourceAttributes{Verb: "*", Group: "*", Resource: "*"}}}, metav1.CreateOptions{})
	if err != nil || sar.Status.Allowed {
		t.Fatalf("can shop:default do '*' '*'? %v (%v)", sar.Status.Allowed, err)
	}
	// Recorded where the refusals happened: audit, events, metric.
	recs, err := f.Client(0).Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range attacks {
		if !slices.ContainsFunc(recs, func(r site.AuditRecord) bool {
			return r.Type == "refused" && r.Workload == a.key && strings.Contains(r.Reason, a.want)
		}) {
			t.Errorf("no audit record of the refusal of %s", a.key)
		}
	}
	evs, err := events(ctx, f, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range attacks {
		if !slices.ContainsFunc(evs, func(e site.Event) bool { return e.Kind == "admission" && e.Object == a.key }) {
			t.Errorf("no admission event for %s", a.key)
		}
	}
	m, err := scrapeMetrics(ctx, f.HTTP(), f.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := sample(m, "atoll_workloads_refused_total", "why", "admission"); got < float64(len(attacks)) {
		t.Errorf("atoll_workloads_refused_total{why=admission} = %v, want at least %d", got, len(attacks))
	}

	// The namespace deleted by hand in the cluster comes back, with pay's Secret.
	if err := cs.CoreV1().Namespaces().Delete(ctx, "pay", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, func() bool { u := secretUID(); return u != "" && u != first }); err != nil {
		t.Fatal("namespace pay and its Secret were not created again:", err)
	}
	// And the well-behaved workload ran all along.
	if err := poll(ctx, func() bool {
		d, err := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 2
	}); err != nil {
		t.Fatal("shop/web not ready:", err)
	}
}

// joinAtoll joins a testenv cluster to site i under name, with the least-privilege
// kubeconfig a production site is given.
func joinAtoll(ctx context.Context, f *Fed, i int, name string, c testenv.Cluster) error {
	kc, err := os.ReadFile(c.AtollKubeconfig)
	if err != nil {
		return err
	}
	return f.Client(i).JoinCluster(ctx, site.JoinRequest{Name: name, Kubeconfig: string(kc)})
}

// waitPasses waits until site i has finished n more reconcile passes.
func waitPasses(t *testing.T, ctx context.Context, f *Fed, i, n int) {
	t.Helper()
	count := func() float64 {
		m, err := scrapeMetrics(ctx, f.HTTP(), f.URL(i))
		if err != nil {
			return -1
		}
		n, _ := sample(m, "atoll_reconcile_duration_seconds")
		return n
	}
	start := count()
	if err := poll(ctx, func() bool { return count() >= start+float64(n) }); err != nil {
		t.Fatalf("%s: %d more reconcile passes never finished: %v", f.Names[i], n, err)
	}
}

// events reads site i's recent events.
func events(ctx context.Context, f *Fed, i int) ([]site.Event, error) {
	var evs []site.Event
	if _, err := getJSON(ctx, f.HTTP(), f.URL(i)+"/v1/events", &evs); err != nil {
		return nil, fmt.Errorf("events of %s: %w", f.Names[i], err)
	}
	return evs, nil
}
