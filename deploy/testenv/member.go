package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"atoll/deploy/kubeproc"
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

	api    *kubeproc.Client // the apiserver, with the admin token; set by writeFiles
	health *kubeproc.Client // the cluster's CA, no token, for /healthz of the other components

	mu    sync.Mutex
	procs []*kubeproc.Process // in start order: apiserver first
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
		APIServer:       kubeproc.LocalURL(m.apiPort),
	}
	return m
}

func (m *member) path(elem ...string) string {
	return filepath.Join(append([]string{m.dir}, elem...)...)
}

func (m *member) processes() []*kubeproc.Process {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.procs)
}

func (m *member) closeClients() {
	for _, c := range []*kubeproc.Client{m.api, m.health} {
		if c != nil {
			c.Close()
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
	apiserver, err := m.apiserver(e.bin, e.etcdURL).Start(ctx, e.log, m.api)
	if apiserver != nil {
		m.add(apiserver)
	}
	if err != nil {
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
	procs := make([]*kubeproc.Process, len(components))
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
		if err := kubeproc.WaitHealthy(ctx, procs[i], m.health.At(kubeproc.LocalURL(c.port)), "/healthz"); err != nil {
			return err
		}
	}
	want := e.opts.NodesPerCluster
	err = kubeproc.Poll(ctx, m.Name+" Nodes Ready", 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		for _, p := range append(procs, apiserver) {
			if _, err := p.Exited(); err != nil {
				return false, kubeproc.Permanent(err)
			}
		}
		ready, err := readyNodes(ctx, m.api)
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
	err = kubeproc.Poll(ctx, m.Name+" ServiceAccount default/default", 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		if _, err := procs[0].Exited(); err != nil {
			return false, kubeproc.Permanent(err)
		}
		err := m.api.Do(ctx, http.MethodGet, "/api/v1/namespaces/default/serviceaccounts/default", nil, nil)
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
func (e *Env) spawnComponent(m *member, component string, args []string) (*kubeproc.Process, error) {
	p, err := kubeproc.Spawn(e.log, m.Name+"/"+component, m.path(component+".log"), m.path(component+".pid"),
		filepath.Join(e.bin, component), args...)
	if p != nil {
		m.add(p)
	}
	return p, err
}

// add records a started process of m, to be stopped with it.
func (m *member) add(p *kubeproc.Process) {
	m.mu.Lock()
	m.procs = append(m.procs, p)
	m.mu.Unlock()
}

// writeFiles makes the cluster's CA, serving certificate (shared by the four components,
// which all listen on 127.0.0.1), service-account keys and tokens, and writes them with the
// kubeconfigs and configuration files.
func (m *member) writeFiles() error {
	if err := os.MkdirAll(m.path("pki"), 0o700); err != nil {
		return err
	}
	ca, err := kubeproc.NewCA(m.Name+"-ca", certValidity)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.IssueServing(m.Name, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		certValidity)
	if err != nil {
		return err
	}
	saKey, saPub, err := kubeproc.NewServiceAccountKey()
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{
		kubeproc.CACertFile: ca.CertPEM, kubeproc.CAKeyFile: ca.KeyPEM,
		kubeproc.ServingCertFile: certPEM, kubeproc.ServingKeyFile: keyPEM,
		kubeproc.SAKeyFile: saKey, kubeproc.SAPubFile: saPub,
	} {
		if err := os.WriteFile(m.path("pki", name), b, 0o600); err != nil {
			return err
		}
	}

	// One token per client. The controller manager and the scheduler are bound to their
	// roles by RBAC's bootstrap policy; kwok writes Node and Pod status, Leases and Events
	// of every namespace, so it is an admin like kwokctl makes it.
	users := []kubeproc.TokenUser{
		{Name: "admin", Groups: []string{"system:masters"}},
		{Name: "system:kube-controller-manager"},
		{Name: "system:kube-scheduler"},
		{Name: "kwok", Groups: []string{"system:masters"}},
		{Name: "atoll"}, // bound by member.RBAC only, as in production (docs/DEPLOY.md)
	}
	kubeconfigs := []string{m.Kubeconfig, m.path("kube-controller-manager.kubeconfig"),
		m.path("kube-scheduler.kubeconfig"), m.path("kwok.kubeconfig"), m.AtollKubeconfig}
	for i := range users {
		users[i].Token = rand.Text()
		if err := kubeproc.WriteKubeconfig(kubeconfigs[i], m.Name, m.APIServer, ca.CertPEM, users[i].Name, users[i].Token); err != nil {
			return err
		}
	}
	if err := kubeproc.WriteTokenFile(m.path("pki", kubeproc.TokenFile), users); err != nil {
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

	if m.api, err = kubeproc.NewClient(m.APIServer, ca.CertPEM, users[0].Token); err != nil {
		return err
	}
	m.health, err = kubeproc.NewClient("", ca.CertPEM, "")
	return err
}

// apiserver is how to run m's kube-apiserver: on the clusters' shared etcd under its own
// prefix, with RBAC and Node authorization, and as a production cluster, kubelets limited
// to their own Node and Pods, and Pod Security enforced at baseline outside kube-system
// (admission.yaml).
func (m *member) apiserver(bin, etcdURL string) kubeproc.APIServer {
	return kubeproc.APIServer{
		Bin:         filepath.Join(bin, "kube-apiserver"),
		Name:        m.Name + "/kube-apiserver",
		Dir:         m.dir,
		Port:        m.apiPort,
		EtcdURL:     etcdURL,
		EtcdPrefix:  "/atoll-testenv/" + m.Name, // the clusters share one etcd
		ServiceCIDR: serviceCIDR,
		Extra: []string{
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--admission-control-config-file=" + m.path("admission.yaml"),
		},
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
	for r, v := range o.NodeExtended[m.Name] {
		res[r] = v
	}
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
		err := m.api.Do(ctx, http.MethodPost, "/api/v1/nodes", n, nil)
		if kubeproc.IsStatus(err, http.StatusConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("testenv: %s: creating Node %s: %w", m.Name, name, err)
		}
	}
	return nil
}
