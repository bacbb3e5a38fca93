package deploy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"atoll/deploy/testenv"
	"atoll/site"
	"atoll/site/kube"
)

const chart = "helm/atoll"

// helmBin is the helm CLI `make helm` builds (hack/helm/build.sh --print-dir). make test
// builds it first, so its absence is a failure, not a skip.
func helmBin(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bash", "../hack/helm/build.sh", "--print-dir").Output()
	if err != nil {
		t.Fatalf("hack/helm/build.sh --print-dir: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "helm")
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("no helm CLI at %s: run `make helm` (make test builds it first)", p)
	}
	return p
}

// runHelm runs helm and returns its standard output, or an error with its standard error.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), helmBin(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), errors.New(strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// objects is a rendering of the chart, one object per document.
type objects []*unstructured.Unstructured

func decode(t *testing.T, manifest string) objects {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out objects
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decoding the rendered chart: %v", err)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func (o objects) of(kind string) objects {
	var out objects
	for _, u := range o {
		if u.GetKind() == kind {
			out = append(out, u)
		}
	}
	return out
}

func (o objects) names() []string {
	var out []string
	for _, u := range o {
		out = append(out, u.GetKind()+"/"+u.GetName())
	}
	slices.Sort(out)
	return out
}

// one returns the only object of a kind and name, converted to T.
func one[T any](t *testing.T, o objects, kind, name string) *T {
	t.Helper()
	for _, u := range o.of(kind) {
		if u.GetName() == name {
			v := new(T)
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, v); err != nil {
				t.Fatalf("%s/%s: %v", kind, name, err)
			}
			return v
		}
	}
	t.Fatalf("no %s/%s in %v", kind, name, o.names())
	return nil
}

// render runs helm template on the chart in namespace atoll.
func render(t *testing.T, release string, args ...string) (string, objects) {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", release, chart, "--namespace", "atoll"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %s: %v", strings.Join(args, " "), err)
	}
	return out, decode(t, out)
}

// haArgs are the values of case (b): ci/ha-values.yaml plus a real key and a charter
// given on the command line, so the chart creates their Secrets.
func haArgs(t *testing.T) (args []string, key []byte) {
	t.Helper()
	keyPath := filepath.Join(t.TempDir(), "eu-west.key")
	if _, err := site.NewKeyFile(keyPath); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"-f", chart + "/ci/ha-values.yaml", "--set-file", "identity.pem=" + keyPath,
		"--set", "genesis.base64=" + base64.StdEncoding.EncodeToString([]byte("a genesis"))}, key
}

func TestChartLint(t *testing.T) {
	ha, _ := haArgs(t)
	for _, args := range [][]string{{"-f", chart + "/ci/minimal-values.yaml"}, {"-f", chart + "/ci/kubeapi-values.yaml"}, ha} {
		if out, err := runHelm(t, append([]string{"lint", "--strict", chart}, args...)...); err != nil {
			t.Errorf("helm lint %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// fileSource names what the container sees at a file path: "secret/<name>/<key>" or
// "configMap/<name>/<key>", through the volume mounted over the path's directory.
func fileSource(t *testing.T, pod corev1.PodSpec, file string) string {
	t.Helper()
	c := pod.Containers[0]
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, m.MountPath+"/")
		if m.SubPath != "" && m.MountPath == file {
			rel, ok = m.SubPath, true
		}
		if !ok {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != m.Name {
				continue
			}
			var kind, name string
			var items []corev1.KeyToPath
			switch {
			case v.Secret != nil:
				kind, name, items = "secret", v.Secret.SecretName, v.Secret.Items
			case v.ConfigMap != nil:
				kind, name, items = "configMap", v.ConfigMap.Name, v.ConfigMap.Items
			default:
				return "volume " + v.Name
			}
			key := rel
			for _, it := range items {
				if it.Path == rel {
					key = it.Key
				}
			}
			if len(items) > 0 && key == rel && !slices.ContainsFunc(items, func(it corev1.KeyToPath) bool { return it.Path == rel }) {
				return "missing " + rel + " in " + kind + "/" + name
			}
			return kind + "/" + name + "/" + key
		}
		return "claim " + m.Name // not a pod volume: a volumeClaimTemplate's
	}
	return "not mounted"
}

// siteConfig reads the site.yaml of the ConfigMap as atoll site would, completed as the
// pod's command line does, and checks that it is valid and runnable.
func siteConfig(t *testing.T, o objects, name, podName string, sts *appsv1.StatefulSet) site.Config {
	t.Helper()
	cm := one[corev1.ConfigMap](t, o, "ConfigMap", name)
	p := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(p, []byte(cm.Data["site.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := site.LoadConfig(p) // as clients (atoll backup, cluster join) read it
	if err != nil {
		t.Fatalf("site.yaml of the ConfigMap:\n%s\n%v", cm.Data["site.yaml"], err)
	}
	args := sts.Spec.Template.Spec.Containers[0].Args
	if slices.Contains(args, "--replica-id=$(POD_NAME)") {
		cfg.Replica.ID = podName
	}
	if slices.Contains(args, "--advertise=$(POD_IP):7946") {
		cfg.Advertise = "10.244.0.7:7946"
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("site.yaml with the pod's flags: %v", err)
	}
	if err := cfg.Runnable(); err != nil {
		t.Fatalf("site.yaml with the pod's flags %q: %v", args, err)
	}
	return cfg
}

// checkPod checks what every rendering shares: probes, ports, security, mounts.
func checkPod(t *testing.T, sts *appsv1.StatefulSet, cfg site.Config) {
	t.Helper()
	pod := sts.Spec.Template.Spec
	if pod.Containers[0].Name != "atoll" || len(pod.Containers) != 1 && cfg.KubeAPI == nil {
		t.Fatalf("containers %d, the first %q", len(pod.Containers), pod.Containers[0].Name)
	}
	c := pod.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port.String() != "http" {
		t.Errorf("liveness probe %+v: want GET /healthz on port http", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port.String() != "http" {
		t.Errorf("readiness probe %+v: want GET /readyz on port http", c.ReadinessProbe)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if !strings.HasSuffix(cfg.HTTP, ":8080") || ports["http"] != 8080 || !strings.HasSuffix(cfg.Listen, ":7946") || ports["peer-tcp"] != 7946 || ports["peer-udp"] != 7946 {
		t.Errorf("site.yaml http %s, listen %s; container ports %v", cfg.HTTP, cfg.Listen, ports)
	}
	if c.Args[0] != "site" || !slices.Contains(c.Args, "--config=/etc/atoll/site.yaml") || fileSource(t, pod, "/etc/atoll/site.yaml") != "configMap/"+sts.Name+"/site.yaml" {
		t.Errorf("args %q; /etc/atoll/site.yaml from %s", c.Args, fileSource(t, pod, "/etc/atoll/site.yaml"))
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want requests and a memory limit", c.Resources)
	}
	sc, psc := c.SecurityContext, pod.SecurityContext
	if sc == nil || psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("security contexts: pod %+v, container %+v", psc, sc)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < 30 {
		t.Errorf("terminationGracePeriodSeconds %v: want at least 30", g)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement || sts.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		t.Errorf("podManagementPolicy %q, update strategy %q", sts.Spec.PodManagementPolicy, sts.Spec.UpdateStrategy.Type)
	}
	if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 ||
		a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("affinity %+v: want pod anti-affinity across nodes, preferred", a)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || fileSource(t, pod, cfg.DataDir+"/atoll.db") != "claim data" || sts.Spec.VolumeClaimTemplates[0].Name != "data" {
		t.Errorf("data dir %s from %s; claims %d", cfg.DataDir, fileSource(t, pod, cfg.DataDir+"/atoll.db"), len(sts.Spec.VolumeClaimTemplates))
	}
	if got := fileSource(t, pod, "/tmp/x"); got != "volume tmp" {
		t.Errorf("/tmp (backups stage there on a read-only root): %s", got)
	}
	for _, cl := range cfg.Clusters {
		if got := fileSource(t, pod, cl.Kubeconfig); strings.HasPrefix(got, "not") || strings.HasPrefix(got, "missing") {
			t.Errorf("cluster %s: kubeconfig %s is %s", cl.Name, cl.Kubeconfig, got)
		}
	}
}

// checkPeers checks the headless Service and the replicas' Raft addresses in site.yaml.
func checkPeers(t *testing.T, o objects, release string, sts *appsv1.StatefulSet, cfg site.Config) {
	t.Helper()
	svc := one[corev1.Service](t, o, "Service", release+"-peers")
	if svc.Spec.ClusterIP != "None" || !svc.Spec.PublishNotReadyAddresses || sts.Spec.ServiceName != svc.Name {
		t.Errorf("peers Service: clusterIP %q, publishNotReadyAddresses %v; StatefulSet serviceName %q", svc.Spec.ClusterIP, svc.Spec.PublishNotReadyAddresses, sts.Spec.ServiceName)
	}
	var protos []string
	for _, p := range svc.Spec.Ports {
		if p.Port == 7946 {
			protos = append(protos, string(p.Protocol))
		}
	}
	if !slices.Equal(protos, []string{"TCP", "UDP"}) {
		t.Errorf("peers Service ports %+v: want 7946 TCP and UDP", svc.Spec.Ports)
	}
	n := int(*sts.Spec.Replicas)
	if n == 1 {
		if cfg.Replica != nil {
			t.Errorf("one replica with a replica section %+v", cfg.Replica)
		}
		return
	}
	if cfg.Replica == nil || len(cfg.Replica.Peers) != n {
		t.Fatalf("replica section %+v: want %d peers", cfg.Replica, n)
	}
	for i, p := range cfg.Replica.Peers {
		pod := sts.Name + "-" + string(rune('0'+i))
		if want := pod + "." + svc.Name + ".atoll.svc.cluster.local:7946"; p.ID != pod || p.Address != want {
			t.Errorf("replica peer %d: %+v; want id %s at %s", i, p, pod, want)
		}
	}
}

// TestChartDefaults renders case (a): the defaults, one replica.
func TestChartDefaults(t *testing.T) {
	_, o := render(t, "us-east", "-f", chart+"/ci/minimal-values.yaml")
	sts := one[appsv1.StatefulSet](t, o, "StatefulSet", "us-east")
	cfg := siteConfig(t, o, "us-east", "us-east-0", sts)
	checkPod(t, sts, cfg)
	checkPeers(t, o, "us-east", sts, cfg)
	if *sts.Spec.Replicas != 1 || cfg.Name != "us-east" {
		t.Errorf("replicas %d, site %q", *sts.Spec.Replicas, cfg.Name)
	}
	pod := sts.Spec.Template.Spec
	if got := fileSource(t, pod, cfg.Identity); got != "secret/us-east-identity/identity.key" {
		t.Errorf("identity from %s", got)
	}
	if got := fileSource(t, pod, cfg.Genesis); got != "secret/atoll-genesis/genesis.atoll" {
		t.Errorf("genesis from %s", got)
	}
	// Nothing asked of the cluster it runs in: no RBAC at all, no token in the pod.
	for _, kind := range []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "PodDisruptionBudget", "Secret"} {
		if got := o.of(kind); len(got) > 0 {
			t.Errorf("one replica with existing Secrets renders %v", got.names())
		}
	}
	sa := one[corev1.ServiceAccount](t, o, "ServiceAccount", "us-east")
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken || pod.ServiceAccountName != sa.Name {
		t.Errorf("service account %q automount %v, pod's %v", pod.ServiceAccountName, sa.AutomountServiceAccountToken, pod.AutomountServiceAccountToken)
	}
	args := pod.Containers[0].Args
	if !slices.Contains(args, "--advertise=$(POD_IP):7946") || slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--replica-id") }) {
		t.Errorf("args %q: want --advertise with the pod IP, no --replica-id", args)
	}
	if svc := one[corev1.Service](t, o, "Service", "us-east"); svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].Port != 8080 {
		t.Errorf("API Service %s port %d", svc.Spec.Type, svc.Spec.Ports[0].Port)
	}
	if got := o.names(); !slices.Equal(got, []string{"ConfigMap/us-east", "Service/us-east", "Service/us-east-peers", "ServiceAccount/us-east", "StatefulSet/us-east"}) {
		t.Errorf("objects %v", got)
	}
}

// TestChartHA renders case (b): 3 replicas, member kubeconfigs from Secrets, the local
// cluster managed, the API on a LoadBalancer.
func TestChartHA(t *testing.T) {
	args, key := haArgs(t)
	_, o := render(t, "eu-west", args...)
	sts := one[appsv1.StatefulSet](t, o, "StatefulSet", "eu-west")
	cfg := siteConfig(t, o, "eu-west", "eu-west-2", sts)
	checkPod(t, sts, cfg)
	checkPeers(t, o, "eu-west", sts, cfg)
	pod := sts.Spec.Template.Spec
	if *sts.Spec.Replicas != 3 || cfg.Replica.ID != "eu-west-2" || cfg.Jurisdiction != "EU" || cfg.Resync.D() != 10*time.Minute || cfg.Membership.ProbeInterval.D() != 2*time.Second {
		t.Errorf("replicas %d; site.yaml %+v", *sts.Spec.Replicas, cfg)
	}
	// Each pod advertises its own load balancer, from site.yaml: no --advertise.
	if got := cfg.AdvertiseAddr(); got != "198.51.100.12:7946" || slices.ContainsFunc(pod.Containers[0].Args, func(a string) bool { return strings.HasPrefix(a, "--advertise") }) {
		t.Errorf("pod 2 advertises %q; args %q", got, pod.Containers[0].Args)
	}
	for i := range 3 {
		name := "eu-west-" + string(rune('0'+i)) + "-peer"
		svc := one[corev1.Service](t, o, "Service", name)
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.Selector["statefulset.kubernetes.io/pod-name"] != "eu-west-"+string(rune('0'+i)) || len(svc.Spec.Ports) != 2 {
			t.Errorf("Service %s: %+v", name, svc.Spec)
		}
	}

	// The key and the charter: Secrets created from the values, mounted where site.yaml says.
	if got := fileSource(t, pod, cfg.Identity); got != "secret/eu-west-identity/identity.key" {
		t.Errorf("identity from %s", got)
	}
	if s := one[corev1.Secret](t, o, "Secret", "eu-west-identity"); !bytes.Equal(s.Data["identity.key"], key) {
		t.Errorf("identity Secret holds %q", s.Data["identity.key"])
	}
	if got := fileSource(t, pod, cfg.Genesis); got != "secret/eu-west-genesis/genesis.atoll" {
		t.Errorf("genesis from %s", got)
	}

	// Member clusters: each from its Secret and key; the local one through the service account.
	want := map[string]string{
		"prod-1":        "secret/prod-1-kubeconfig/kubeconfig",
		"gpu-1":         "secret/gpu-kubeconfigs/gpu-1.kubeconfig",
		"eu-west-local": "configMap/eu-west-local-kubeconfig/kubeconfig",
	}
	for _, cl := range cfg.Clusters {
		if got := fileSource(t, pod, cl.Kubeconfig); got != want[cl.Name] {
			t.Errorf("cluster %s: kubeconfig from %s, want %s", cl.Name, got, want[cl.Name])
		}
		delete(want, cl.Name)
	}
	if len(want) > 0 || cfg.Clusters[1].Taints[0] != "gpu=true:NoSchedule" || cfg.Clusters[2].Labels["tier"] != "dev" {
		t.Errorf("clusters of site.yaml %+v; missing %v", cfg.Clusters, want)
	}
	local := one[corev1.ConfigMap](t, o, "ConfigMap", "eu-west-local-kubeconfig")
	kc, err := clientcmd.Load([]byte(local.Data["kubeconfig"]))
	if err != nil || kc.AuthInfos["atoll"] == nil || kc.AuthInfos["atoll"].TokenFile != "/var/run/secrets/kubernetes.io/serviceaccount/token" || kc.Clusters["local"].Server != "https://kubernetes.default.svc" {
		t.Errorf("local kubeconfig %v: %+v", err, kc)
	}
	if pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Error("managing the local cluster needs the service account token in the pod")
	}
	role := one[rbacv1.ClusterRole](t, o, "ClusterRole", "atoll-eu-west")
	can := func(group, resource, verb string) bool {
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
				return true
			}
		}
		return false
	}
	for _, c := range [][3]string{{"", "nodes", "watch"}, {"", "pods", "list"}, {"apps", "deployments", "patch"}, {"apps", "deployments", "delete"}, {"", "services", "create"}, {"", "namespaces", "create"}} {
		if !can(c[0], c[1], c[2]) {
			t.Errorf("ClusterRole cannot %s %s.%s", c[2], c[1], c[0])
		}
	}
	// Every rule a site is given in a member cluster (atoll cluster rbac) is here too.
	for doc := range strings.SplitSeq(string(kube.RBAC), "\n---\n") {
		var member rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &member); err != nil {
			t.Fatal(err)
		}
		for _, r := range member.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						if !can(g, res, v) {
							t.Errorf("ClusterRole cannot %s %s.%s, which site/kube/rbac.yaml grants", v, res, g)
						}
					}
				}
			}
		}
	}
	if can("", "nodes", "delete") || can("", "namespaces", "delete") || can("rbac.authorization.k8s.io", "clusterroles", "create") {
		t.Errorf("ClusterRole grants more than the site needs: %+v", role.Rules)
	}
	binding := one[rbacv1.ClusterRoleBinding](t, o, "ClusterRoleBinding", "atoll-eu-west")
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != pod.ServiceAccountName || binding.Subjects[0].Namespace != "atoll" {
		t.Errorf("ClusterRoleBinding %+v", binding)
	}

	pdb := one[policyv1.PodDisruptionBudget](t, o, "PodDisruptionBudget", "eu-west")
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PDB %+v: want maxUnavailable 1", pdb.Spec)
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if sts.Spec.Template.Labels[k] != v {
			t.Errorf("PDB selects %s=%s, the pods are %v", k, v, sts.Spec.Template.Labels)
		}
	}
	if svc := one[corev1.Service](t, o, "Service", "eu-west"); svc.Spec.Type != corev1.ServiceTypeLoadBalancer || !slices.Equal(svc.Spec.LoadBalancerSourceRanges, []string{"10.0.0.0/8"}) {
		t.Errorf("API Service %+v", svc.Spec)
	}
	claim := sts.Spec.VolumeClaimTemplates[0].Spec
	if claim.StorageClassName == nil || *claim.StorageClassName != "fast-ssd" || claim.Resources.Requests.Storage().String() != "5Gi" {
		t.Errorf("claim %+v", claim)
	}
}

// TestChartRefuses: values that cannot work fail the render with a message naming them.
func TestChartRefuses(t *testing.T) {
	minimal := []string{"template", "x", chart, "-f", chart + "/ci/minimal-values.yaml"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "replicas=2"}, "replicas is 2: want 1 (one process) or 3 (Raft)"},
		{[]string{"--set", "site.name="}, "site.name is required"},
		{[]string{"--set", "identity.existingSecret="}, "identity.existingSecret (or identity.pem) is required"},
		{[]string{"--set", "terminationGracePeriodSeconds=5"}, "at least 30"},
		{[]string{"--set", "peers.external.advertise={10.0.0.1:7946,10.0.0.2:7946}"}, "want one per replica (1)"},
		{[]string{"--set", "clusters[0].name=a,clusters[0].secret=s,clusters[1].name=a,clusters[1].secret=t"}, "clusters: a twice"},
		{[]string{"--set", "peers.external.type=ClusterIP"}, "want LoadBalancer or NodePort"},
		{[]string{"--set", "kubeAPI.enabled=true"}, "kubeAPI.operatorKey.existingSecret (or kubeAPI.operatorKey.pem) is required"},
		{[]string{"--set", "kubeAPI.enabled=true,kubeAPI.operatorKey.existingSecret=k,site.extraConfig.kubeAPI.operatorKey=x"}, "use kubeAPI"},
	} {
		if _, err := runHelm(t, append(slices.Clone(minimal), tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want an error with %q", tc.args, err, tc.want)
		}
	}
}

// TestManifestsUpToDate: deploy/manifests is what make manifests renders now.
func TestManifestsUpToDate(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "bash", "../hack/helm/manifests.sh", "--check")
	cmd.Env = append(os.Environ(), "HELM="+helmBin(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/manifests is stale (run make manifests): %v\n%s", err, out)
	}
}

// TestChartDryRun submits every object of each rendering, and of deploy/manifests, to a
// real kube-apiserver with a server-side dry run, in a namespace that warns about pods
// below the restricted Pod Security Standard.
func TestChartDryRun(t *testing.T) {
	bin, err := testenv.BinDir()
	if err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	helmBin(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	env, err := testenv.Start(ctx, testenv.Options{Dir: t.TempDir(), Clusters: 1, NodesPerCluster: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	kc := env.Clusters()[0].Kubeconfig
	kubectl := func(stdin string, args ...string) (stdout, stderr string, err error) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig=" + kc}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var eb bytes.Buffer
		cmd.Stderr = &eb
		out, err := cmd.Output()
		return string(out), eb.String(), err
	}
	if _, stderr, err := kubectl(`{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "atoll", "labels": {
		"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "latest"}}}`, "apply", "-f", "-"); err != nil {
		t.Fatalf("creating namespace atoll: %v\n%s", err, stderr)
	}
	// dryRun applies a rendering and checks the server accepted each object; it returns
	// kubectl's warnings, or the refusal.
	dryRun := func(name, manifest string) (string, error) {
		want := decode(t, manifest)
		out, stderr, err := kubectl(manifest, "apply", "--dry-run=server", "-o", "json", "-f", "-")
		if err != nil {
			return stderr, err
		}
		var list struct {
			Kind  string                   `json:"kind"`
			Items []map[string]interface{} `json:"items"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("%s: kubectl output: %v", name, err)
		}
		var got objects
		for _, it := range list.Items {
			got = append(got, &unstructured.Unstructured{Object: it})
		}
		if len(want) == 1 && list.Kind != "List" { // a single object comes back bare
			got = decode(t, out)
		}
		if !slices.Equal(got.names(), want.names()) {
			t.Errorf("%s: the apiserver returned %v, want %v", name, got.names(), want.names())
		}
		// Server defaulting ran on what came back: something only the apiserver fills in.
		for _, u := range got.of("StatefulSet") {
			sts := new(appsv1.StatefulSet)
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, sts); err != nil {
				t.Fatal(err)
			}
			if sts.Spec.RevisionHistoryLimit == nil || sts.Spec.Template.Spec.Containers[0].TerminationMessagePath == "" {
				t.Errorf("%s: StatefulSet %s not defaulted by the apiserver", name, sts.Name)
			}
		}
		return stderr, nil
	}

	ha, _ := haArgs(t)
	cases := map[string]func() string{
		"defaults": func() string { m, _ := render(t, "us-east", "-f", chart+"/ci/minimal-values.yaml"); return m },
		"ha":       func() string { m, _ := render(t, "eu-west", ha...); return m },
		"kubeapi":  func() string { m, _ := render(t, "us-east", "-f", chart+"/ci/kubeapi-values.yaml"); return m },
	}
	for _, f := range []string{"single-replica.yaml", "three-replica.yaml"} {
		cases["manifests/"+f] = func() string {
			b, err := os.ReadFile(path.Join("manifests", f))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	for name, manifest := range cases {
		stderr, err := dryRun(name, manifest())
		if err != nil {
			t.Errorf("%s: the apiserver refused: %v\n%s", name, err, stderr)
		} else if stderr != "" {
			t.Logf("%s: kubectl says: %s", name, stderr)
		}
		if strings.Contains(stderr, "PodSecurity") {
			t.Errorf("%s: the pods would violate the restricted Pod Security Standard:\n%s", name, stderr)
		}
	}

	// helm itself against the cluster: its kubeVersion constraint met by the server's
	// version, and the notes rendered.
	out, err := runHelm(t, append([]string{"install", "eu-west", chart, "--namespace", "atoll", "--dry-run=server", "--kubeconfig", kc}, ha...)...)
	if err != nil {
		t.Errorf("helm install --dry-run=server: %v", err)
	} else if !strings.Contains(out, "NOTES:\nAtoll site eu-west: 3 replicas under Raft in namespace atoll.") || !strings.Contains(out, "kubectl -n atoll port-forward svc/eu-west 8080:8080") {
		t.Errorf("helm install output, notes missing or wrong:\n%s", out)
	}

	// Both checks can fail: the apiserver refuses an invalid object, and warns about a
	// container that may escalate its privileges.
	m, _ := render(t, "us-east", "-f", chart+"/ci/minimal-values.yaml", "--set-string", "persistence.size=lots")
	if stderr, err := dryRun("bad size", m); err == nil || !strings.Contains(stderr, "quantities must match") {
		t.Errorf("a claim of %q was not refused: %v %s", "lots", err, stderr)
	}
	m, _ = render(t, "us-east", "-f", chart+"/ci/minimal-values.yaml", "--set", "securityContext.allowPrivilegeEscalation=true")
	if stderr, err := dryRun("escalating", m); err != nil || !strings.Contains(stderr, `would violate PodSecurity "restricted:latest"`) || !strings.Contains(stderr, "allowPrivilegeEscalation") {
		t.Errorf("no Pod Security warning for a container allowed to escalate: %v %q", err, stderr)
	}
}
