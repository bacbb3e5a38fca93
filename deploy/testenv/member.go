package testenv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// componentsPerCluster is the number of ports a cluster listens on: apiserver, controller
// manager, scheduler, kwok.
const componentsPerCluster = 4

// podsPerNode is each fake Node's pod capacity, the kubelet's default.
const podsPerNode = "110"

// member is one member cluster: its files, clients and processes.
type member struct {
	Cluster
	dir                                  string
	apiPort, cmPort, schedPort, kwokPort int

	api    *apiClient // the apiserver, with the admin token; set by writeFiles
	health *apiClient // the cluster's CA, no token, for /healthz of the other components

	mu    sync.Mutex
	procs []*process // in start order: apiserver first
}

func newMember(dir, name string, ports []int) *member {
	m := &member{
		dir:     filepath.Join(dir, name),
		apiPort: ports[0], cmPort: ports[1], schedPort: ports[2], kwokPort: ports[3],
	}
	m.Cluster = Cluster{
		Name:            name,
		Kubeconfig:      m.path("admin.kubeconfig"),
		AtollKubeconfig: m.path("atoll.kubeconfig"),
		APIServer:       localURL(m.apiPort),
	}
	return m
}

func localURL(port int) string { return "https://127.0.0.1:" + strconv.Itoa(port) }

func (m *member) path(elem ...string) string {
	return filepath.Join(append([]string{m.dir}, elem...)...)
}

func (m *member) processes() []*process {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.procs)
}

func (m *member) closeClients() {
	for _, c := range []*apiClient{m.api, m.health} {
		if c != nil {
			c.close()
		}
	}
}

// startMember writes the cluster's files, starts its apiserver and waits until it is
// ready, starts the controller manager, scheduler and kwok, creates the fake Nodes, and
// waits until the components are healthy, the Nodes Ready and the controllers running.
func (e *Env) startMember(ctx context.Context, m *member) error {
	begin := time.Now()
	if err := m.writeFiles(); err != nil {
		return fmt.Errorf("testenv: %s: writing files: %w", m.Name, err)
	}
	apiserver, err := e.spawnComponent(m, "kube-apiserver", m.apiserverArgs(e.etcdURL))
	if err != nil {
		return err
	}
	if err := waitHealthy(ctx, apiserver.name, apiserver, m.api, "/readyz"); err != nil {
		return err
	}
	apiReady := time.Since(begin)
	if e.opts.APIServerOnly {
		e.log.Info("cluster ready", "cluster", m.Name, "apiserver", m.APIServer, "took", apiReady.Round(time.Millisecond))
		return nil
	}

	components := []struct {
		name string
		args []string
		port int
	}{
		{"kube-controller-manager", m.controllerManagerArgs(), m.cmPort},
		{"kube-scheduler", m.schedulerArgs(), m.schedPort},
		{"kwok", m.kwokArgs(), m.kwokPort},
	}
	procs := make([]*process, len(components))
	for i, c := range components {
		if procs[i], err = e.spawnComponent(m, c.name, c.args); err != nil {
			return err
		}
	}
	if err := m.createNodes(ctx, e.opts); err != nil {
		return err
	}
	if err := m.createAtollRBAC(ctx); err != nil {
		return err
	}
	for i, c := range components {
		if err := waitHealthy(ctx, procs[i].name, procs[i], m.health.at(localURL(c.port)), "/healthz"); err != nil {
			return err
		}
	}
	want := e.opts.NodesPerCluster
	err = poll(ctx, m.Name+" Nodes Ready", 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		for _, p := range append(procs, apiserver) {
			if _, err := p.exited(); err != nil {
				return false, &permanentError{err}
			}
		}
		ready, err := m.api.readyNodes(ctx)
		if err != nil {
			return false, err
		}
		if len(ready) < want {
			return false, fmt.Errorf("%d of %d Nodes Ready", len(ready), want)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	// The controller manager reports healthy before its controllers run; the default
	// ServiceAccount, without which no Pod is admitted, shows that they do.
	err = poll(ctx, m.Name+" ServiceAccount default/default", 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		if _, err := procs[0].exited(); err != nil {
			return false, &permanentError{err}
		}
		err := m.api.do(ctx, http.MethodGet, "/api/v1/namespaces/default/serviceaccounts/default", nil, nil)
		return err == nil, err
	})
	if err != nil {
		return err
	}
	e.log.Info("cluster ready", "cluster", m.Name, "apiserver", m.APIServer,
		"apiserver_ready", apiReady.Round(time.Millisecond), "took", time.Since(begin).Round(time.Millisecond))
	return nil
}

// spawnComponent starts a component of m from the binary directory, its log and PID file
// in m's directory.
func (e *Env) spawnComponent(m *member, component string, args []string) (*process, error) {
	p, err := spawn(e.log, m.Name+"/"+component, m.path(component+".log"), m.path(component+".pid"),
		filepath.Join(e.bin, component), args...)
	if p != nil {
		m.mu.Lock()
		m.procs = append(m.procs, p)
		m.mu.Unlock()
	}
	return p, err
}

// writeFiles makes the cluster's CA, serving certificate (shared by the four components,
// which all listen on 127.0.0.1), service-account keys and tokens, and writes them with the
// kubeconfigs and configuration files.
func (m *member) writeFiles() error {
	if err := os.MkdirAll(m.path("pki"), 0o700); err != nil {
		return err
	}
	ca, err := newCA(m.Name)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.issueServing(m.Name, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"})
	if err != nil {
		return err
	}
	saKey, saPub, err := newServiceAccountKey()
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{
		"ca.crt": ca.certPEM, "ca.key": ca.keyPEM,
		"serving.crt": certPEM, "serving.key": keyPEM,
		"sa.key": saKey, "sa.pub": saPub,
	} {
		if err := os.WriteFile(m.path("pki", name), b, 0o600); err != nil {
			return err
		}
	}

	// One token per client. The controller manager and the scheduler are bound to their
	// roles by RBAC's bootstrap policy; kwok writes Node and Pod status, Leases and Events
	// of every namespace, so it is an admin like kwokctl makes it.
	users := []tokenUser{
		{name: "admin", groups: []string{"system:masters"}},
		{name: "system:kube-controller-manager"},
		{name: "system:kube-scheduler"},
		{name: "kwok", groups: []string{"system:masters"}},
		{name: "atoll"}, // bound by member.RBAC only, as in production (docs/DEPLOY.md)
	}
	kubeconfigs := []string{m.Kubeconfig, m.path("kube-controller-manager.kubeconfig"),
		m.path("kube-scheduler.kubeconfig"), m.path("kwok.kubeconfig"), m.AtollKubeconfig}
	for i := range users {
		users[i].token = rand.Text()
		if err := writeKubeconfig(kubeconfigs[i], m.Name, m.APIServer, ca.certPEM, users[i].name, users[i].token); err != nil {
			return err
		}
	}
	if err := writeTokenFile(m.path("pki", "tokens.csv"), users); err != nil {
		return err
	}
	if err := os.WriteFile(m.path("admission.yaml"), []byte(admissionConfig), 0o600); err != nil {
		return err
	}
	if err := writeSchedulerConfig(m.path("kube-scheduler.yaml"), kubeconfigs[2]); err != nil {
		return err
	}
	if err := writeKwokConfig(m.path("kwok.yaml"), m.kwokPort, m.path("pki", "serving.crt"), m.path("pki", "serving.key")); err != nil {
		return err
	}

	if m.api, err = newAPIClient(m.APIServer, ca.certPEM, users[0].token); err != nil {
		return err
	}
	m.health, err = newAPIClient("", ca.certPEM, "")
	return err
}

func (m *member) apiserverArgs(etcdURL string) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--etcd-prefix=/atoll-testenv/" + m.Name, // the clusters share one etcd
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(m.apiPort),
		"--endpoint-reconciler-type=none", // otherwise a loopback advertise address is fatal
		"--tls-cert-file=" + m.path("pki", "serving.crt"),
		"--tls-private-key-file=" + m.path("pki", "serving.key"),
		"--client-ca-file=" + m.path("pki", "ca.crt"),
		"--token-auth-file=" + m.path("pki", "tokens.csv"),
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + m.path("pki", "sa.pub"),
		"--service-account-signing-key-file=" + m.path("pki", "sa.key"),
		"--service-cluster-ip-range=" + serviceCIDR,
		"--cert-dir=" + m.path("pki"),
		// As a production cluster: kubelets limited to their own Node and Pods, and Pod
		// Security enforced at baseline outside kube-system (admission.yaml).
		"--enable-admission-plugins=NodeRestriction",
		"--admission-control-config-file=" + m.path("admission.yaml"),
	}
}

func (m *member) controllerManagerArgs() []string {
	return []string{
		"--kubeconfig=" + m.path("kube-controller-manager.kubeconfig"),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(m.cmPort),
		"--tls-cert-file=" + m.path("pki", "serving.crt"),
		"--tls-private-key-file=" + m.path("pki", "serving.key"),
		"--leader-elect=false",
		// With false, each controller would act as the controller manager's own user,
		// which RBAC denies: Deployments would never get a ReplicaSet.
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + m.path("pki", "sa.key"),
		"--root-ca-file=" + m.path("pki", "ca.crt"),
		"--cluster-signing-cert-file=" + m.path("pki", "ca.crt"),
		"--cluster-signing-key-file=" + m.path("pki", "ca.key"),
		"--cluster-name=" + m.Name,
		// Higher than the defaults (20, 30): with per-controller credentials the controller
		// manager makes a ServiceAccount and a token for each of its ~40 controllers before
		// starting any, which at 20 requests/s delays every controller by about 5 s.
		"--kube-api-qps=" + strconv.Itoa(clientQPS),
		"--kube-api-burst=" + strconv.Itoa(clientBurst),
	}
}

func (m *member) schedulerArgs() []string {
	return []string{
		"--config=" + m.path("kube-scheduler.yaml"),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(m.schedPort),
		"--tls-cert-file=" + m.path("pki", "serving.crt"),
		"--tls-private-key-file=" + m.path("pki", "serving.key"),
	}
}

func (m *member) kwokArgs() []string {
	return []string{
		"--kubeconfig=" + m.path("kwok.kubeconfig"),
		"--config=" + m.path("kwok.yaml"),
		"--manage-nodes-with-annotation-selector=" + fakeNodeSelector, // also in kwok.yaml
	}
}

// createNodes creates the fake Nodes, with their capacity in the status (a Node's status
// may be set on create), annotated so that kwok manages them. Existing Nodes are kept.
func (m *member) createNodes(ctx context.Context, o Options) error {
	res := map[string]string{"cpu": o.NodeCPU, "memory": o.NodeMemory, "pods": podsPerNode}
	for j := range o.NodesPerCluster {
		name := m.Name + "-node-" + strconv.Itoa(j)
		n := map[string]any{
			"apiVersion": "v1",
			"kind":       "Node",
			"metadata": map[string]any{
				"name":        name,
				"annotations": map[string]string{fakeNodeAnnotation: fakeNodeValue},
				"labels": map[string]string{
					"kubernetes.io/hostname": name,
					"kubernetes.io/os":       "linux",
					"kubernetes.io/arch":     "amd64",
					"type":                   "kwok",
				},
			},
			"status": map[string]any{"capacity": res, "allocatable": res},
		}
		err := m.api.do(ctx, http.MethodPost, "/api/v1/nodes", n, nil)
		if se, ok := errors.AsType[*statusError](err); ok && se.code == http.StatusConflict {
			continue
		}
		if err != nil {
			return fmt.Errorf("testenv: %s: creating Node %s: %w", m.Name, name, err)
		}
	}
	return nil
}
