package kube

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const hostPathDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      hostPID: true
      hostNetwork: true
      volumes: [{name: root, hostPath: {path: /}}]
      containers: [{name: c, image: busybox, volumeMounts: [{name: root, mountPath: /host}]}]
`

const plainDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx}]
`

func TestAdmit(t *testing.T) {
	restricted, err := NewAdmitter(Admission{Namespaces: map[string]string{"bank": "restricted"}})
	if err != nil {
		t.Fatal(err)
	}
	onlyDeploy, err := NewAdmitter(Admission{Kinds: []string{"apps/Deployment"}, PodSecurity: "privileged"})
	if err != nil {
		t.Fatal(err)
	}
	clusterScope, err := NewAdmitter(Admission{ClusterKinds: []string{"Namespace", "rbac.authorization.k8s.io/ClusterRole"}})
	if err != nil {
		t.Fatal(err)
	}
	role := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: []\n"
	wl := func(ns, name, apiVersion, kind, tmpl string) Workload {
		return Workload{Namespace: ns, Name: name, APIVersion: apiVersion, Kind: kind, Template: []byte(tmpl), Replicas: 2}
	}
	for _, tc := range []struct {
		name string
		ad   *Admitter
		w    Workload
		want string // substring of the refusal; "" admits
	}{
		{"plain deployment", restricted, wl("shop", "web", "apps/v1", "Deployment", plainDeployment), ""},
		{"hostPath, hostPID, hostNetwork under baseline", restricted, wl("shop", "web", "apps/v1", "Deployment", hostPathDeployment), `violates PodSecurity "baseline"`},
		{"hostPath allowed where privileged", onlyDeploy, wl("shop", "web", "apps/v1", "Deployment", hostPathDeployment), ""},
		{"restricted namespace", restricted, wl("bank", "web", "apps/v1", "Deployment", plainDeployment), `violates PodSecurity "restricted"`},
		{"kind other than the workload's", restricted, wl("shop", "web", "apps/v1", "Deployment",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: web}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default, namespace: shop}]\n"),
			"the template is a rbac.authorization.k8s.io/v1 ClusterRoleBinding, the workload a apps/v1 Deployment"},
		{"kind not allowed here", restricted, wl("shop", "clusterrolebinding.web", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: web}\n"), "kind rbac.authorization.k8s.io/ClusterRoleBinding is not allowed"},
		{"namespace", restricted, wl("shop", "namespace.pay", "v1", "Namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: pay}\n"), "a Namespace is never created"},
		{"another namespace", restricted, wl("shop", "web", "apps/v1", "Deployment", strings.Replace(plainDeployment, "{name: web}", "{name: web, namespace: pay}", 1)),
			`namespace "pay" is not the workload's namespace "shop"`},
		{"config map keyed by kind", restricted, wl("shop", "configmap.cfg", "v1", "ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n"), ""},
		{"owner references", restricted, wl("shop", "configmap.cfg", "v1", "ConfigMap",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, ownerReferences: [{apiVersion: v1, kind: Secret, name: x, uid: u}]}\n"), "ownerReferences"},
		{"service with external IPs", restricted, wl("shop", "service.web", "v1", "Service",
			"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}], externalIPs: [8.8.8.8]}\n"), "externalIPs"},
		{"kind outside the site's list", onlyDeploy, wl("shop", "configmap.cfg", "v1", "ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"), "kind ConfigMap is not allowed"},
		{"cluster-scoped, not named by the site", restricted, wl("", "clusterrole.r", "rbac.authorization.k8s.io/v1", "ClusterRole", role),
			"cluster-scoped kind rbac.authorization.k8s.io/ClusterRole is not allowed at this site (admission.clusterKinds)"},
		{"cluster-scoped, named by the site", clusterScope, wl("", "clusterrole.r", "rbac.authorization.k8s.io/v1", "ClusterRole", role), ""},
		{"cluster-scoped Namespace, named by the site", clusterScope, wl("", "namespace.pay", "v1", "Namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: pay}\n"), ""},
		{"namespaced Namespace where cluster scope is allowed", clusterScope, wl("shop", "namespace.pay", "v1", "Namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: pay}\n"), "a Namespace is never created"},
		{"cluster-scoped template with a namespace", clusterScope, wl("", "clusterrole.r", "rbac.authorization.k8s.io/v1", "ClusterRole",
			strings.Replace(role, "{name: r}", "{name: r, namespace: shop}", 1)), `cluster-scoped workload sets namespace "shop"`},
		{"namespaced kind as cluster-scoped, not named", clusterScope, wl("", "configmap.c", "v1", "ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"),
			"cluster-scoped kind ConfigMap is not allowed"},
		{"pod template that does not decode", restricted, wl("shop", "web", "apps/v1", "Deployment",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: 7}}}\n"), "does not decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := NewTemplates().Render(tc.w, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			// Twice: the second verdict may come from the Admitter's memory of the first.
			for round := range 2 {
				err = tc.ad.Admit(tc.w, u.DeepCopy())
				if tc.want == "" {
					if err != nil {
						t.Fatalf("round %d: refused: %v", round, err)
					}
					continue
				}
				r, ok := IsRefusal(err)
				if !ok || !strings.Contains(r.Reason, tc.want) {
					t.Fatalf("round %d: got %v, want a refusal containing %q", round, err, tc.want)
				}
			}
		})
	}
}

func TestAdmissionValidate(t *testing.T) {
	for _, a := range []Admission{
		{PodSecurity: "strict"},
		{Namespaces: map[string]string{"shop": "none"}},
		{Kinds: []string{"apps/"}},
		{Kinds: []string{"a b"}},
		{ClusterKinds: []string{"*"}},
		{ClusterKinds: []string{"rbac.authorization.k8s.io/*"}},
	} {
		if err := a.Validate(); err == nil {
			t.Errorf("%+v: valid, want an error", a)
		}
	}
	if err := (Admission{Kinds: []string{"*", "Service", "apps/Deployment"}, PodSecurity: "restricted"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// Render drops what the member cluster sets and keeps a template's own namespace for
// Admit to judge.
func TestRenderDropsServerFields(t *testing.T) {
	w := Workload{Namespace: "shop", Name: "configmap.cfg", Replicas: -1, Template: []byte(
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: pay, uid: u1, resourceVersion: '5'}\nstatus: {x: 1}\n")}
	u, err := NewTemplates().Render(w, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if u.GetNamespace() != "pay" || u.GetUID() != "" || u.GetResourceVersion() != "" || u.Object["status"] != nil {
		t.Fatalf("rendered %v", u.Object)
	}
}

// The shipped RBAC lets a site manage every kind its default admission allows, and holds
// no verb that could bind roles or change namespaces.
func TestRBACCoversDefaultKinds(t *testing.T) {
	granted := map[string][]string{} // group/resource -> verbs
	for doc := range strings.SplitSeq(string(RBAC), "\n---\n") {
		var obj struct {
			Kind  string `json:"kind"`
			Rules []struct {
				APIGroups []string `json:"apiGroups"`
				Resources []string `json:"resources"`
				Verbs     []string `json:"verbs"`
			} `json:"rules"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		for _, r := range obj.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					granted[g+"/"+res] = append(granted[g+"/"+res], r.Verbs...)
				}
			}
		}
	}
	for _, k := range DefaultKinds {
		g, kind, ok := strings.Cut(k, "/")
		if !ok {
			g, kind = "", g
		}
		res := strings.ToLower(kind)
		switch {
		case strings.HasSuffix(res, "y"):
			res = strings.TrimSuffix(res, "y") + "ies"
		case strings.HasSuffix(res, "s"):
			res += "es"
		default:
			res += "s"
		}
		for _, v := range []string{"get", "list", "watch", "create", "patch", "delete"} {
			if !slices.Contains(granted[g+"/"+res], v) {
				t.Errorf("%s: the RBAC does not grant %s on %s/%s", k, v, g, res)
			}
		}
	}
	for key, verbs := range granted {
		if strings.HasPrefix(key, "rbac.authorization.k8s.io/") || slices.Contains(verbs, "*") || slices.Contains(verbs, "bind") || slices.Contains(verbs, "escalate") {
			t.Errorf("%s: %v grants more than a site needs", key, verbs)
		}
	}
	// What the informers read whatever the admission kinds: the observer's nodes and pods,
	// the namespaces EnsureNamespace creates, the HPAs that decide who owns replicas.
	for _, res := range []string{"/nodes", "/pods", "/namespaces", "autoscaling/horizontalpodautoscalers"} {
		for _, v := range []string{"get", "list", "watch"} {
			if !slices.Contains(granted[res], v) {
				t.Errorf("the RBAC does not grant %s on %s", v, res)
			}
		}
	}
	if v := granted["/namespaces"]; slices.Contains(v, "delete") || slices.Contains(v, "patch") || slices.Contains(v, "update") {
		t.Errorf("namespaces: %v, want no update, patch or delete", v)
	}
}
