package e2e

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"atoll/deploy/kubeproc"
	"atoll/deploy/testenv"
)

// karmadaPlane is a Karmada control plane on loopback, laid out as Karmada's own
// installation lays it out, every part a real process:
//
//   - etcd, and kube-apiserver as Karmada's API server, with the aggregation layer on and
//     the ServiceAccount admission off, as Karmada runs it;
//   - kube-controller-manager with the few controllers Karmada runs beside it (namespace,
//     garbage collector, service account tokens, ...): no Deployment controller, so a
//     template stays a template;
//   - Karmada's aggregated API server, serving cluster.karmada.io (the Cluster kind is no
//     CRD) through an APIService and an ExternalName Service, as Karmada registers it;
//   - Karmada's webhook, registered for the policies, bindings and Works it gives
//     permanent IDs to and checks;
//   - karmada-controller-manager and karmada-scheduler, which place the templates.
//
// The Kubernetes binaries come from make kube, Karmada's from make karmada. Every
// component uses one admin token (system:masters), as Karmada's components share its
// admin kubeconfig.
type karmadaPlane struct {
	dir        string
	Kubeconfig string // the admin kubeconfig of Karmada's API server
	kubeBin    string
	log        *slog.Logger
	// stages are the processes in the order they stop: Karmada's controllers, then the
	// servers, then etcd (an apiserver whose etcd is gone hangs in shutdown).
	controllers, servers, etcd []*kubeproc.Process
}

// The names Karmada's installation uses, which its components and its clusters' Secrets
// expect.
const (
	karmadaSystem      = "karmada-system"  // Karmada's own namespace
	karmadaClusterNS   = "karmada-cluster" // where member clusters' credentials are kept
	aggregatedService  = "karmada-aggregated-apiserver"
	karmadaAdminToken  = "admin"
	frontProxyClientCN = "front-proxy-client"
)

// karmadaKubeControllers are the kube-controller-manager controllers Karmada runs beside
// its API server (its kube-controller-manager Deployment's --controllers).
const karmadaKubeControllers = "namespace,garbagecollector,serviceaccount-token,ttl-after-finished,bootstrapsigner,tokencleaner,csrcleaner,csrsigning,clusterrole-aggregation"

// karmadaBuild returns the directory hack/karmada/build.sh fills (bin/, crds/). make test
// builds it first, so its absence is a failure.
func karmadaBuild(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bash", "../hack/karmada/build.sh", "--print-dir").Output()
	if err != nil {
		t.Fatalf("hack/karmada/build.sh --print-dir: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Fatalf("no Karmada build in %s: run `make karmada` (make test builds it first)", dir)
	}
	return dir
}

// startKarmada starts a Karmada control plane from the build in karmadaDir and returns
// once each component is healthy, its CRDs are established, the Cluster API is served
// and the webhook gives policies their permanent IDs. It is stopped when the test ends;
// if the test failed, the tail of each component's log is printed.
func startKarmada(ctx context.Context, t *testing.T, karmadaDir string) *karmadaPlane {
	t.Helper()
	kubeBin, err := testenv.BinDir()
	if err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	k := &karmadaPlane{dir: shortTempDir(t), kubeBin: kubeBin, log: slog.New(slog.DiscardHandler)}
	k.Kubeconfig = k.path("admin.kubeconfig")
	t.Cleanup(func() {
		if err := k.stop(); err != nil {
			t.Log(err)
		}
		if t.Failed() {
			for _, name := range []string{"karmada-controller-manager", "karmada-scheduler", "karmada-webhook",
				"karmada-aggregated-apiserver", "kube-controller-manager", "kube-apiserver"} {
				b, _ := os.ReadFile(k.path(name + ".log"))
				if len(b) > 5000 {
					b = b[len(b)-5000:]
				}
				t.Logf("--- karmada/%s.log (tail)\n%s", name, b)
			}
		}
	})
	if err := k.start(ctx, filepath.Join(karmadaDir, "bin"), filepath.Join(karmadaDir, "crds")); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *karmadaPlane) path(elem ...string) string {
	return filepath.Join(append([]string{k.dir}, elem...)...)
}

// ports of a Karmada control plane, by use.
type karmadaPorts struct {
	etcd, etcdPeer, apiserver, kubeCM, aggregated, webhook, webhookHealth, cmHealth, schedHealth int
}

func (k *karmadaPlane) start(ctx context.Context, bin, crds string) error {
	p, err := kubeproc.FreePorts(9)
	if err != nil {
		return err
	}
	ports := karmadaPorts{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]}
	ca, err := k.writePKI()
	if err != nil {
		return err
	}
	server := kubeproc.LocalURL(ports.apiserver)
	if err := kubeproc.WriteKubeconfig(k.Kubeconfig, "karmada-apiserver", server, ca, "admin", karmadaAdminToken); err != nil {
		return err
	}
	api, err := kubeproc.NewClient(server, ca, karmadaAdminToken)
	if err != nil {
		return err
	}
	defer api.Close()
	health, err := kubeproc.NewClient("", ca, "")
	if err != nil {
		return err
	}
	defer health.Close()
	plain, err := kubeproc.NewClient("", nil, "")
	if err != nil {
		return err
	}
	defer plain.Close()

	etcd := kubeproc.Etcd{Bin: filepath.Join(k.kubeBin, "etcd"), Name: "karmada-etcd", DataDir: k.path("etcd-data"),
		ClientPort: ports.etcd, PeerPort: ports.etcdPeer, LogPath: k.path("etcd.log"), PIDPath: k.path("etcd.pid"), NoFsync: true}
	proc, err := etcd.Start(ctx, k.log)
	k.add(&k.etcd, proc)
	if err != nil {
		return err
	}
	apiserver := kubeproc.APIServer{
		Bin: filepath.Join(k.kubeBin, "kube-apiserver"), Name: "karmada/kube-apiserver", Dir: k.dir,
		Port: ports.apiserver, EtcdURL: etcd.URL(), ServiceCIDR: "10.0.0.0/24",
		Extra: []string{
			"--authorization-mode=Node,RBAC",
			"--disable-admission-plugins=StorageObjectInUseProtection,ServiceAccount",
			// The aggregation layer, for Karmada's aggregated API server.
			"--proxy-client-cert-file=" + k.path("pki", "front-proxy-client.crt"),
			"--proxy-client-key-file=" + k.path("pki", "front-proxy-client.key"),
			"--requestheader-client-ca-file=" + k.path("pki", "front-proxy-ca.crt"),
			"--requestheader-allowed-names=" + frontProxyClientCN,
			"--requestheader-username-headers=X-Remote-User",
			"--requestheader-group-headers=X-Remote-Group",
			"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		},
	}
	proc, err = apiserver.Start(ctx, k.log, api)
	k.add(&k.servers, proc)
	if err != nil {
		return err
	}

	kubeCM, err := k.spawn(&k.servers, filepath.Join(k.kubeBin, "kube-controller-manager"),
		"--kubeconfig="+k.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports.kubeCM),
		"--tls-cert-file="+k.path("pki", kubeproc.ServingCertFile),
		"--tls-private-key-file="+k.path("pki", kubeproc.ServingKeyFile),
		"--leader-elect=false",
		"--controllers="+karmadaKubeControllers,
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+k.path("pki", kubeproc.SAKeyFile),
		"--root-ca-file="+k.path("pki", kubeproc.CACertFile),
		"--cluster-signing-cert-file="+k.path("pki", kubeproc.CACertFile),
		"--cluster-signing-key-file="+k.path("pki", kubeproc.CAKeyFile),
		"--cluster-name=karmada",
	)
	if err != nil {
		return err
	}
	if err := kubeproc.WaitHealthy(ctx, kubeCM, health.At(kubeproc.LocalURL(ports.kubeCM)), "/healthz"); err != nil {
		return err
	}

	// Karmada's CRDs and namespaces.
	if _, err := k.kubectl(ctx, "", "apply", "--server-side", "-f", crds); err != nil {
		return err
	}
	if _, err := k.kubectl(ctx, "", "wait", "--for=condition=Established", "crd", "--all", "--timeout=2m"); err != nil {
		return err
	}
	if _, err := k.kubectl(ctx, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+karmadaSystem+"}\n---\n"+
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: "+karmadaClusterNS+"}\n", "apply", "-f", "-"); err != nil {
		return err
	}

	// The aggregated API server, on the same etcd, registered as Karmada registers it.
	aggregated, err := k.spawn(&k.servers, filepath.Join(bin, "karmada-aggregated-apiserver"),
		"--kubeconfig="+k.Kubeconfig,
		"--authentication-kubeconfig="+k.Kubeconfig,
		"--authorization-kubeconfig="+k.Kubeconfig,
		"--etcd-servers="+etcd.URL(),
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports.aggregated),
		"--tls-cert-file="+k.path("pki", kubeproc.ServingCertFile),
		"--tls-private-key-file="+k.path("pki", kubeproc.ServingKeyFile),
		"--cert-dir="+k.path("pki"),
	)
	if err != nil {
		return err
	}
	if err := kubeproc.WaitHealthy(ctx, aggregated, health.At(kubeproc.LocalURL(ports.aggregated)), "/readyz"); err != nil {
		return err
	}
	if _, err := k.kubectl(ctx, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: %[2]s}
spec: {type: ExternalName, externalName: localhost}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1alpha1.cluster.karmada.io}
spec:
  group: cluster.karmada.io
  version: v1alpha1
  groupPriorityMinimum: 2000
  versionPriority: 10
  caBundle: %[3]s
  service: {name: %[1]s, namespace: %[2]s, port: %[4]d}
`, aggregatedService, karmadaSystem, b64(ca), ports.aggregated), "apply", "-f", "-"); err != nil {
		return err
	}
	if _, err := k.kubectl(ctx, "", "wait", "--for=condition=Available", "apiservice/v1alpha1.cluster.karmada.io", "--timeout=2m"); err != nil {
		return err
	}

	// The webhook, then its configuration, once it serves.
	if err := os.MkdirAll(k.path("webhook"), 0o700); err != nil {
		return err
	}
	for from, to := range map[string]string{kubeproc.ServingCertFile: "tls.crt", kubeproc.ServingKeyFile: "tls.key"} {
		b, err := os.ReadFile(k.path("pki", from))
		if err == nil {
			err = os.WriteFile(k.path("webhook", to), b, 0o600)
		}
		if err != nil {
			return err
		}
	}
	webhook, err := k.spawn(&k.servers, filepath.Join(bin, "karmada-webhook"),
		"--kubeconfig="+k.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports.webhook),
		"--cert-dir="+k.path("webhook"),
		"--metrics-bind-address=0",
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(ports.webhookHealth),
	)
	if err != nil {
		return err
	}
	hook := health.At(kubeproc.LocalURL(ports.webhook))
	err = kubeproc.Poll(ctx, "karmada-webhook serving", 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		if gone, err := webhook.Exited(); gone {
			return false, kubeproc.Permanent(fmt.Errorf("karmada-webhook exited: %v", err))
		}
		// A GET is no admission review: any HTTP answer shows that it serves.
		err := hook.OK(ctx, "/mutate-propagationpolicy")
		_, answered := errors.AsType[*kubeproc.StatusError](err)
		return err == nil || answered, err
	})
	if err != nil {
		return err
	}
	if _, err := k.kubectl(ctx, karmadaWebhooks(kubeproc.LocalURL(ports.webhook), b64(ca)), "apply", "-f", "-"); err != nil {
		return err
	}
	// The API server calls a webhook once it has read its configuration: a policy
	// created, dry run, shows when the permanent ID comes.
	err = kubeproc.Poll(ctx, "the webhook giving policies their permanent IDs", 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		out, err := k.kubectl(ctx, "apiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\nmetadata: {name: probe, namespace: default}\n"+
			"spec:\n  resourceSelectors: [{apiVersion: v1, kind: ConfigMap, name: probe}]\n",
			"create", "--dry-run=server", "-f", "-", "-o", `jsonpath={.metadata.labels.propagationpolicy\.karmada\.io/permanent-id}`)
		return err == nil && out != "", err
	})
	if err != nil {
		return err
	}

	// Karmada's controllers and scheduler.
	cm, err := k.spawn(&k.controllers, filepath.Join(bin, "karmada-controller-manager"),
		"--kubeconfig="+k.Kubeconfig,
		"--leader-elect=false",
		"--cluster-status-update-frequency=2s",
		"--metrics-bind-address=0",
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(ports.cmHealth),
	)
	if err != nil {
		return err
	}
	sched, err := k.spawn(&k.controllers, filepath.Join(bin, "karmada-scheduler"),
		"--kubeconfig="+k.Kubeconfig,
		"--leader-elect=false",
		"--enable-scheduler-estimator=false",
		"--metrics-bind-address=0",
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(ports.schedHealth),
	)
	if err != nil {
		return err
	}
	if err := kubeproc.WaitHealthy(ctx, cm, plain.At("http://127.0.0.1:"+strconv.Itoa(ports.cmHealth)), "/healthz"); err != nil {
		return err
	}
	return kubeproc.WaitHealthy(ctx, sched, plain.At("http://127.0.0.1:"+strconv.Itoa(ports.schedHealth)), "/healthz")
}

// karmadaWebhooks is the webhook configuration for what TestImport makes: Karmada's
// mutating hooks, which give propagation policies, bindings and Works their permanent IDs
// (and defaults), and its validating hooks for the policies.
func karmadaWebhooks(base, caBundle string) string {
	hook := func(name, path, group string, ops []string, resources ...string) string {
		return fmt.Sprintf(`- name: %s
  rules: [{operations: [%s], apiGroups: [%s], apiVersions: ["*"], resources: [%s]}]
  clientConfig: {url: "%s/%s", caBundle: %s}
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
  timeoutSeconds: 3
`, name, strings.Join(ops, ","), group, strings.Join(resources, ","), base, path, caBundle)
	}
	create, write := []string{"CREATE"}, []string{"CREATE", "UPDATE"}
	return "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {name: karmada-mutating}\nwebhooks:\n" +
		hook("propagationpolicy.karmada.io", "mutate-propagationpolicy", "policy.karmada.io", write, "propagationpolicies") +
		hook("clusterpropagationpolicy.karmada.io", "mutate-clusterpropagationpolicy", "policy.karmada.io", write, "clusterpropagationpolicies") +
		hook("overridepolicy.karmada.io", "mutate-overridepolicy", "policy.karmada.io", write, "overridepolicies") +
		hook("resourcebinding.karmada.io", "mutate-resourcebinding", "work.karmada.io", create, "resourcebindings") +
		hook("clusterresourcebinding.karmada.io", "mutate-clusterresourcebinding", "work.karmada.io", create, "clusterresourcebindings") +
		hook("work.karmada.io", "mutate-work", "work.karmada.io", write, "works") +
		"---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: karmada-validating}\nwebhooks:\n" +
		hook("propagationpolicy.karmada.io", "validate-propagationpolicy", "policy.karmada.io", write, "propagationpolicies") +
		hook("clusterpropagationpolicy.karmada.io", "validate-clusterpropagationpolicy", "policy.karmada.io", write, "clusterpropagationpolicies") +
		hook("overridepolicy.karmada.io", "validate-overridepolicy", "policy.karmada.io", write, "overridepolicies") +
		hook("clusteroverridepolicy.karmada.io", "validate-clusteroverridepolicy", "policy.karmada.io", write, "clusteroverridepolicies")
}

// writePKI writes the control plane's CA, one serving certificate for its servers (the
// API server's names and the aggregated API server's Service name, which the API server
// checks), the front proxy's CA and client certificate, service account keys and the
// token file; it returns the CA, PEM.
func (k *karmadaPlane) writePKI() ([]byte, error) {
	if err := os.MkdirAll(k.path("pki"), 0o700); err != nil {
		return nil, err
	}
	ca, err := kubeproc.NewCA("karmada-ca", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.IssueServing("karmada-apiserver", []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			aggregatedService + "." + karmadaSystem + ".svc"}, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	proxyCA, err := kubeproc.NewCA("front-proxy-ca", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	proxyCert, proxyKey, err := proxyCA.IssueClient(frontProxyClientCN, nil, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	saKey, saPub, err := kubeproc.NewServiceAccountKey()
	if err != nil {
		return nil, err
	}
	for name, b := range map[string][]byte{
		kubeproc.CACertFile: ca.CertPEM, kubeproc.CAKeyFile: ca.KeyPEM,
		kubeproc.ServingCertFile: certPEM, kubeproc.ServingKeyFile: keyPEM,
		kubeproc.SAKeyFile: saKey, kubeproc.SAPubFile: saPub,
		"front-proxy-ca.crt": proxyCA.CertPEM, "front-proxy-client.crt": proxyCert, "front-proxy-client.key": proxyKey,
	} {
		if err := os.WriteFile(k.path("pki", name), b, 0o600); err != nil {
			return nil, err
		}
	}
	users := []kubeproc.TokenUser{{Name: "admin", Token: karmadaAdminToken, Groups: []string{"system:masters"}}}
	return ca.CertPEM, kubeproc.WriteTokenFile(k.path("pki", kubeproc.TokenFile), users)
}

// spawn starts a component, its log and PID file in the plane's directory, and records
// it in stage.
func (k *karmadaPlane) spawn(stage *[]*kubeproc.Process, bin string, args ...string) (*kubeproc.Process, error) {
	name := filepath.Base(bin)
	p, err := kubeproc.Spawn(k.log, "karmada/"+name, k.path(name+".log"), k.path(name+".pid"), bin, args...)
	k.add(stage, p)
	return p, err
}

func (k *karmadaPlane) add(stage *[]*kubeproc.Process, p *kubeproc.Process) {
	if p != nil {
		*stage = append(*stage, p)
	}
}

// kubectl runs kubectl against Karmada's API server; its output is returned, and in the
// error if it fails.
func (k *karmadaPlane) kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	return runKubectl(ctx, k.kubeBin, k.Kubeconfig, stdin, args...)
}

func runKubectl(ctx context.Context, bin, kubeconfig, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// join registers a member cluster with Karmada in Push mode, as karmadactl join does:
// a ServiceAccount with cluster-admin in the member cluster, its token and the member's
// CA in a Secret in karmada-cluster, and a Cluster naming its API endpoint and that
// Secret. It returns once Karmada reports the cluster Ready.
func (k *karmadaPlane) join(ctx context.Context, name string, member testenv.Cluster) error {
	sa := "karmada-" + name
	if _, err := runKubectl(ctx, k.kubeBin, member.Kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: %[2]s, namespace: %[1]s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: %[2]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: %[2]s, namespace: %[1]s}]
`, karmadaClusterNS, sa), "apply", "-f", "-"); err != nil {
		return err
	}
	token, err := runKubectl(ctx, k.kubeBin, member.Kubeconfig, "", "create", "token", sa, "-n", karmadaClusterNS, "--duration=24h")
	if err != nil {
		return err
	}
	kc, err := clientcmd.LoadFromFile(member.Kubeconfig)
	if err != nil {
		return err
	}
	cluster := kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster]
	if _, err := k.kubectl(ctx, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %[1]s, namespace: %[2]s}
data: {token: %[3]s, caBundle: %[4]s}
---
apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata: {name: %[1]s}
spec:
  syncMode: Push
  apiEndpoint: %[5]s
  secretRef: {namespace: %[2]s, name: %[1]s}
`, name, karmadaClusterNS, b64([]byte(strings.TrimSpace(token))), b64(cluster.CertificateAuthorityData), member.APIServer),
		"apply", "-f", "-"); err != nil {
		return err
	}
	_, err = k.kubectl(ctx, "", "wait", "--for=condition=Ready", "cluster/"+name, "--timeout=2m")
	return err
}

// stopControllers stops karmada-controller-manager and karmada-scheduler, as the cutover
// does: nothing of Karmada applies to the member clusters any more.
func (k *karmadaPlane) stopControllers() error {
	err := kubeproc.StopAll(k.log, k.controllers)
	k.controllers = nil
	return err
}

// stop stops every process, etcd last, and removes etcd's data.
func (k *karmadaPlane) stop() error {
	err := kubeproc.StopInOrder(k.log, k.controllers, k.servers, k.etcd)
	k.controllers, k.servers, k.etcd = nil, nil, nil
	return errors.Join(err, os.RemoveAll(k.path("etcd-data")))
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
