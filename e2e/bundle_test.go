package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"atoll/deploy/testenv"
	"atoll/site"
	"atoll/site/kube"
)

// operatorBundle is what a platform team ships to every cluster: a CRD, the operator's
// ClusterRole and its binding, its Namespace, its Deployment and one custom resource,
// placed everywhere by one ClusterPropagationPolicy.
const operatorBundle = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: widget-operator}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: widget-operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: widget-operator}
subjects: [{kind: ServiceAccount, name: default, namespace: widgets}]
---
apiVersion: v1
kind: Namespace
metadata: {name: widgets, labels: {team: platform}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: widget-operator, namespace: widgets}
spec:
  replicas: 1
  selector: {matchLabels: {app: widget-operator}}
  template:
    metadata: {labels: {app: widget-operator}}
    spec:
      containers: [{name: operator, image: registry.invalid/widget-operator:1}]
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: first, namespace: widgets}
spec: {size: 3}
---
apiVersion: config.karmada.io/v1alpha1
kind: ResourceInterpreterCustomization
metadata: {name: widgets}
spec:
  target: {apiVersion: example.com/v1, kind: Widget}
  customizations:
    healthInterpretation:
      luaScript: |
        function InterpretHealth(observedObj)
          return observedObj.status ~= nil and observedObj.status.phase == "Ready"
        end
    replicaResource:
      luaScript: |
        function GetReplicas(obj)
          return obj.spec.size, nil
        end
    replicaRevision:
      luaScript: |
        function ReviseReplica(obj, desiredReplica)
          obj.spec.size = desiredReplica
          return obj
        end
    statusReflection:
      luaScript: |
        function ReflectStatus(observedObj)
          if observedObj.status == nil then return nil end
          return {phase = observedObj.status.phase, members = observedObj.status.members}
        end
    dependencyInterpretation:
      luaScript: |
        function GetDependencies(desiredObj)
          if desiredObj.spec.configRef == nil then return {} end
          return {{apiVersion = "v1", kind = "ConfigMap", namespace = desiredObj.metadata.namespace, name = desiredObj.spec.configRef}}
        end
    statusAggregation:
      luaScript: |
        function AggregateStatus(desiredObj, statusItems)
          local ready, members = 0, 0
          for i = 1, #statusItems do
            local st = statusItems[i].status
            if st ~= nil and st.phase == "Ready" then ready = ready + 1 end
            if st ~= nil and st.members ~= nil then members = members + st.members end
          end
          desiredObj.status = {readyClusters = ready, members = members}
          return desiredObj
        end
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: pool, namespace: widgets}
spec: {size: 4, configRef: pool-config}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: pool-config, namespace: widgets}
data: {members: "4"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: spare, namespace: widgets}
data: {unused: "yes"}
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: pool, namespace: widgets}
spec:
  resourceSelectors: [{apiVersion: example.com/v1, kind: Widget, name: pool}]
  propagateDeps: true
  placement:
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
        - {targetCluster: {clusterNames: [c0]}, weight: 1}
        - {targetCluster: {clusterNames: [c1]}, weight: 1}
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: widget-operator}
spec:
  resourceSelectors:
  - {apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, name: widgets.example.com}
  - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, name: widget-operator}
  - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRoleBinding, name: widget-operator}
  - {apiVersion: v1, kind: Namespace, name: widgets}
  - {apiVersion: apps/v1, kind: Deployment, namespace: widgets}
  - {apiVersion: example.com/v1, kind: Widget, namespace: widgets}
  placement:
    replicaScheduling: {replicaSchedulingType: Duplicated}
`

// bundleRBAC is what a member cluster's owner grants Atoll beyond atoll-member for the
// bundle: cluster-scoped kinds, and what the bundle's ClusterRole grants (Kubernetes
// lets a user create a role only with the permissions it holds, or escalate).
var bundleRBAC = rbacv1.ClusterRole{
	ObjectMeta: metav1.ObjectMeta{Name: "atoll-cluster-scope"},
	Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles", "clusterrolebindings"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete", "escalate", "bind"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"}},
		{APIGroups: []string{"example.com"}, Resources: []string{"widgets"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	},
}

var (
	gvrCRD       = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	gvrRole      = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	gvrBinding   = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
	gvrNamespace = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrDeploy    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrWidget    = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
)

// TestOperatorBundle: an operator bundle of cluster-scoped and namespaced objects reaches
// the cluster already joined and then a newly joined one, in order (the Namespace before
// the Deployment in it, the CRD before its custom resource, which waits for it), with
// Atoll's labels, under a charter whose operator is granted cluster scope and a site
// whose admission names the cluster-scoped kinds (site/kube TestAdmit: a site that does
// not name them refuses them).
func TestOperatorBundle(t *testing.T) {
	env := startClusters(t, testenv.Options{Clusters: 2})
	clusterKinds := []string{"Namespace", "apiextensions.k8s.io/CustomResourceDefinition",
		"rbac.authorization.k8s.io/ClusterRole", "rbac.authorization.k8s.io/ClusterRoleBinding"}
	f := start(t, Options{Sites: 1, Tune: func(_ int, c *site.Config) {
		c.Admission = kube.Admission{Kinds: append(append([]string{}, kube.DefaultKinds...), "example.com/Widget"), ClusterKinds: clusterKinds}
	}})
	ctx := deadline(t, 4*time.Minute)
	if err := f.WaitMembers(ctx); err != nil {
		t.Fatal(err)
	}
	dyns := make([]dynamic.Interface, 2)
	for i, c := range env.Clusters() {
		cs := clientset(t, c.Kubeconfig)
		if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &bundleRBAC, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "atoll-cluster-scope"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "atoll-cluster-scope"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "atoll"}}}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		cfg.QPS, cfg.Burst = 100, 200
		if dyns[i], err = dynamic.NewForConfig(cfg); err != nil {
			t.Fatal(err)
		}
	}
	join := func(i int) {
		t.Helper()
		kc, err := os.ReadFile(env.Clusters()[i].AtollKubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Client(0).JoinCluster(ctx, site.JoinRequest{Name: fmt.Sprintf("c%d", i), Kubeconfig: string(kc)}); err != nil {
			t.Fatal(err)
		}
	}
	objects := []struct {
		gvr       schema.GroupVersionResource
		ns, name  string
		shortName string
	}{
		{gvrNamespace, "", "widgets", "namespace"},
		{gvrCRD, "", "widgets.example.com", "crd"},
		{gvrRole, "", "widget-operator", "clusterrole"},
		{gvrBinding, "", "widget-operator", "clusterrolebinding"},
		{gvrDeploy, "widgets", "widget-operator", "deployment"},
		{gvrWidget, "widgets", "first", "widget"},
	}
	// holds says which of the bundle's objects cluster i holds with Atoll's label.
	holds := func(i int) string {
		var out []string
		for _, o := range objects {
			ri := dyns[i].Resource(o.gvr).Namespace(o.ns)
			if o.ns == "" {
				ri = dyns[i].Resource(o.gvr)
			}
			u, err := ri.Get(ctx, o.name, metav1.GetOptions{})
			if err == nil && u.GetLabels()[kube.LabelManaged] == "atoll" {
				out = append(out, o.shortName)
			}
		}
		return strings.Join(out, ",")
	}
	all := "namespace,crd,clusterrole,clusterrolebinding,deployment,widget"

	join(0)
	applyText(ctx, t, f, 0, operatorBundle)
	var got string
	if err := poll(ctx, func() bool { got = holds(0); return got == all }); err != nil {
		t.Fatalf("c0 holds %q, want %q", got, all)
	}

	// A newly joined cluster: watch it before the join, to see the order of creation.
	created := map[string]int64{} // shortName -> resourceVersion of its creation (one etcd)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	events := make(chan struct {
		name string
		rv   int64
	}, 64)
	for _, o := range objects[:5] { // the widget resource exists only once its CRD does
		w, err := dyns[1].Resource(o.gvr).Watch(wctx, metav1.ListOptions{FieldSelector: "metadata.name=" + o.name})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for ev := range w.ResultChan() {
				if m, ok := ev.Object.(metav1.Object); ok && ev.Type == watch.Added {
					var rv int64
					fmt.Sscan(m.GetResourceVersion(), &rv)
					events <- struct {
						name string
						rv   int64
					}{o.shortName, rv}
				}
			}
		}()
	}
	join(1)
	if err := poll(ctx, func() bool { got = holds(1); return got == all }); err != nil {
		t.Fatalf("c1 holds %q, want %q", got, all)
	}
	for len(created) < 5 {
		select {
		case e := <-events:
			if _, seen := created[e.name]; !seen {
				created[e.name] = e.rv
			}
		case <-ctx.Done():
			t.Fatalf("creation events seen: %v", created)
		}
	}
	stop()
	// One etcd orders every write of the cluster: the revisions of the creations say in
	// which order the site made them.
	t.Logf("creation order in the new cluster (resourceVersion): %v", created)
	for _, before := range []string{"namespace", "crd", "clusterrole", "clusterrolebinding"} {
		if !(created[before] < created["deployment"]) {
			t.Errorf("the Deployment was created before the %s: %v", before, created)
		}
	}
	if !(created["crd"] < created["clusterrole"]) {
		t.Errorf("the ClusterRole was created before the CRD: %v", created)
	}
	// The Namespace is the template's (adopted if the site had made it for a workload).
	ns, err := dyns[1].Resource(gvrNamespace).Get(ctx, "widgets", metav1.GetOptions{})
	if err != nil || ns.GetLabels()["team"] != "platform" {
		t.Fatalf("namespace widgets: %v, labels %v", err, ns.GetLabels())
	}
	// The widget's health, as the stored customization interprets it, in each cluster:
	// unhealthy until its operator (the test, here) says Ready in that cluster.
	ready := func() int {
		v, err := f.Client(0).View(ctx)
		if err != nil {
			return -1
		}
		for _, w := range v.Workloads {
			if w.Namespace == "widgets" && w.Name == "widget.first" {
				return w.Ready
			}
		}
		return -1
	}
	var n int
	if err := poll(ctx, func() bool { n = ready(); return n == 0 }); err != nil {
		t.Fatalf("the widget reports %d ready before any cluster's is Ready, want 0", n)
	}
	// markReady is the widget's operator in cluster i saying it is Ready.
	markReady := func(i int, name string) {
		t.Helper()
		if err := poll(ctx, func() bool {
			w, err := dyns[i].Resource(gvrWidget).Namespace("widgets").Get(ctx, name, metav1.GetOptions{})
			if err != nil || unstructured.SetNestedField(w.Object, "Ready", "status", "phase") != nil ||
				unstructured.SetNestedField(w.Object, int64(3), "status", "members") != nil {
				return false
			}
			_, err = dyns[i].Resource(gvrWidget).Namespace("widgets").Update(ctx, w, metav1.UpdateOptions{})
			return err == nil // a conflict with the site's apply: again
		}); err != nil {
			t.Fatalf("widget %s in c%d: not marked Ready", name, i)
		}
	}
	// The pool is divided 1:1 by the customization's replica operations: size 2 in each,
	// once the new cluster's share is healthy (make-before-break: c0 keeps its 4 until then).
	markReady(1, "pool")
	markReady(0, "pool")
	size := func(i int) int64 {
		w, err := dyns[i].Resource(gvrWidget).Namespace("widgets").Get(ctx, "pool", metav1.GetOptions{})
		if err != nil {
			return -1
		}
		n, _, _ := unstructured.NestedInt64(w.Object, "spec", "size")
		return n
	}
	var sizes [2]int64
	if err := poll(ctx, func() bool { sizes = [2]int64{size(0), size(1)}; return sizes == [2]int64{2, 2} }); err != nil {
		t.Fatalf("pool sizes %v, want [2 2]", sizes)
	}
	// propagateDeps through the customization's dependencyInterpretation: the ConfigMap
	// the pool names follows it to both clusters; the one nothing names goes nowhere.
	configMaps := func(i int) string {
		var out []string
		for _, name := range []string{"pool-config", "spare"} {
			cm, err := dyns[i].Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("widgets").Get(ctx, name, metav1.GetOptions{})
			if err == nil && cm.GetLabels()[kube.LabelManaged] == "atoll" {
				out = append(out, name)
			}
		}
		return strings.Join(out, ",")
	}
	var cms [2]string
	if err := poll(ctx, func() bool {
		cms = [2]string{configMaps(0), configMaps(1)}
		return cms == [2]string{"pool-config", "pool-config"}
	}); err != nil {
		t.Fatalf("ConfigMaps in widgets %q, want pool-config in each cluster and no spare", cms)
	}
	for i, want := range []int{3, 6} { // Duplicated: size 3 in each cluster
		markReady(i, "first")
		if err := poll(ctx, func() bool { n = ready(); return n == want }); err != nil {
			t.Fatalf("after c%d's widget is Ready: %d ready, want %d", i, n, want)
		}
	}
	// The site reflects the widget's status in each cluster as the customization says,
	// and describe aggregates it with its statusAggregation.
	var last site.Placement
	if err := poll(ctx, func() bool {
		p, err := f.Client(0).Placement(ctx, "widgets", "widget.first")
		last = p
		return err == nil && string(p.Status) == `{"members":6,"readyClusters":2}`
	}); err != nil {
		t.Fatalf("aggregated status %s (%+v), want members 6 and 2 clusters ready", last.Status, last)
	}
	reflected := 0
	for _, sp := range last.Sites {
		for _, c := range sp.Clusters {
			if string(c.Reflected) == `{"members":3,"phase":"Ready"}` {
				reflected++
			}
		}
	}
	if reflected != 2 {
		t.Fatalf("reflected status per cluster: %+v, want both clusters' {members 3, phase Ready}", last.Sites)
	}
}
