package testenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"atoll/deploy/kubeproc"
)

// startTimeout bounds Start when ctx has no earlier deadline. A cluster is ready in about
// 4 s on an idle 2-core machine; this leaves room for many clusters on a busy one.
const startTimeout = 3 * time.Minute

// Options describe the member clusters to start.
type Options struct {
	// Dir is the working directory: certificates, kubeconfigs, configs, logs, PID files, and
	// etcd's data while it runs. Required. The caller removes it.
	Dir string
	// Clusters is the number of member clusters, named member-0, member-1, ...; at least 1.
	// Each costs about 510 MB of memory idle; plan for at most 6-8 on a 2-core test machine.
	Clusters int
	// Names, if set, names the clusters instead (one per cluster, distinct DNS labels);
	// each cluster's files are under Dir/<name>.
	Names []string
	// NodesPerCluster is the number of fake Nodes in each cluster (default 2).
	NodesPerCluster int
	// NodeCPU and NodeMemory are each fake Node's capacity and allocatable, as Kubernetes
	// quantities (default "8" cores and "32Gi"). Each Node also holds 110 pods.
	NodeCPU, NodeMemory string
	// NodeExtended are extended resources each fake Node of a cluster advertises in its
	// capacity and allocatable, by cluster name (member-0, ... or Names), then resource
	// name, in whole units: {"member-0": {"nvidia.com/gpu": "4"}} gives every Node of
	// member-0 four GPUs. kwok keeps them as set and kube-scheduler counts them, so pods
	// asking for more stay Pending. Clusters not named advertise none.
	NodeExtended map[string]map[string]string
	// Logger receives progress: a line per ready cluster with its start-up time
	// (default: discarded).
	Logger *slog.Logger
	// BinDir is the directory of the binaries (default: BinDir()).
	BinDir string
	// APIServerOnly runs only etcd and each cluster's kube-apiserver: no controller
	// manager, scheduler, kwok, Nodes or RBAC for the user atoll (its kubeconfig is still
	// written, with no grants). Start returns once every apiserver is ready (/readyz).
	// For tests that only store objects.
	APIServerOnly bool
}

// withDefaults fills the zero fields that have defaults.
func (o Options) withDefaults() Options {
	if o.NodesPerCluster == 0 {
		o.NodesPerCluster = 2
	}
	if o.NodeCPU == "" {
		o.NodeCPU = "8"
	}
	if o.NodeMemory == "" {
		o.NodeMemory = "32Gi"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// quantity is the common form of a Kubernetes resource quantity.
var quantity = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$`)

// Validate reports the first invalid field of defaulted Options; it changes nothing.
func (o Options) Validate() error {
	switch {
	case o.Dir == "":
		return errors.New("testenv: Options.Dir is empty")
	case o.Clusters < 1:
		return fmt.Errorf("testenv: Options.Clusters is %d, want at least 1", o.Clusters)
	case o.NodesPerCluster < 1:
		return fmt.Errorf("testenv: Options.NodesPerCluster is %d, want at least 1", o.NodesPerCluster)
	case !quantity.MatchString(o.NodeCPU):
		return fmt.Errorf("testenv: Options.NodeCPU %q is not a quantity such as 8 or 500m", o.NodeCPU)
	case !quantity.MatchString(o.NodeMemory):
		return fmt.Errorf("testenv: Options.NodeMemory %q is not a quantity such as 32Gi", o.NodeMemory)
	case len(o.Names) > 0 && len(o.Names) != o.Clusters:
		return fmt.Errorf("testenv: Options.Names has %d names for %d clusters", len(o.Names), o.Clusters)
	}
	for i, n := range o.Names {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 || slices.Contains(o.Names[:i], n) {
			return fmt.Errorf("testenv: Options.Names[%d] %q: want distinct DNS labels", i, n)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(o.NodeExtended)) {
		if !slices.Contains(o.names(), c) {
			return fmt.Errorf("testenv: Options.NodeExtended[%q]: no such cluster (clusters: %v)", c, o.names())
		}
		for _, r := range slices.Sorted(maps.Keys(o.NodeExtended[c])) {
			v := o.NodeExtended[c][r]
			if errs := validation.IsQualifiedName(r); len(errs) > 0 || !strings.Contains(r, "/") || strings.Contains(r, "kubernetes.io/") {
				return fmt.Errorf("testenv: Options.NodeExtended[%q][%q]: not an extended resource name such as nvidia.com/gpu", c, r)
			}
			if !wholeUnits.MatchString(v) {
				return fmt.Errorf("testenv: Options.NodeExtended[%q][%q] = %q: want a whole number of units such as 4", c, r, v)
			}
		}
	}
	return nil
}

// wholeUnits is an extended resource's amount: a whole number.
var wholeUnits = regexp.MustCompile(`^[0-9]+$`)

// names are the clusters' names, in order.
func (o Options) names() []string {
	if len(o.Names) > 0 {
		return o.Names
	}
	out := make([]string, o.Clusters)
	for i := range out {
		out[i] = "member-" + strconv.Itoa(i)
	}
	return out
}

// Cluster is how to reach one member cluster.
type Cluster struct {
	Name       string // member-0, member-1, ... or Options.Names
	Kubeconfig string // path of a kubeconfig with an admin token (group system:masters)
	// AtollKubeconfig is the path of a kubeconfig of the user atoll, which holds only
	// what member.RBAC grants: what a site is given in production. Join sites with it.
	AtollKubeconfig string
	APIServer       string // https://127.0.0.1:port
}

// Env is a running set of member clusters sharing one etcd.
type Env struct {
	opts     Options // defaulted; Dir is absolute
	bin      string
	log      *slog.Logger
	etcdURL  string
	etcdData string

	mu      sync.Mutex
	etcd    *kubeproc.Process
	members []*member
	stopped bool
}

// Start starts etcd and opts.Clusters member clusters, in parallel, and returns once every
// apiserver is ready (/readyz), every component healthy, every fake Node Ready and the
// controller manager's controllers running (the default ServiceAccount exists), so a
// Deployment applied next gets Ready Pods in about a second. On error it stops whatever
// it started.
func Start(ctx context.Context, o Options) (*Env, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	bin := o.BinDir
	if bin == "" {
		var err error
		if bin, err = BinDir(); err != nil {
			return nil, err
		}
	}
	var err error
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, startTimeout,
		fmt.Errorf("testenv: Start took over %v", startTimeout))
	defer cancel()
	begin := time.Now()

	// Hold every port until all are picked, so that no two are the same.
	ports, err := kubeproc.FreePorts(2 + componentsPerCluster*o.Clusters)
	if err != nil {
		return nil, err
	}
	e := &Env{opts: o, bin: bin, log: o.Logger}
	for i, name := range o.names() {
		e.members = append(e.members, newMember(o.Dir, name, ports[2+componentsPerCluster*i:]))
	}
	ok := false
	defer func() {
		if !ok {
			_ = e.Stop()
		}
	}()

	if err := e.startEtcd(ctx, ports[0], ports[1]); err != nil {
		return nil, err
	}
	ctx, cancelMembers := context.WithCancelCause(ctx)
	defer cancelMembers(nil)
	errs := make([]error, len(e.members))
	var wg sync.WaitGroup
	for i, m := range e.members {
		wg.Go(func() {
			if errs[i] = e.startMember(ctx, m); errs[i] != nil {
				cancelMembers(fmt.Errorf("testenv: %s failed", m.Name))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ok = true
	e.log.Info("clusters ready", "clusters", len(e.members), "took", time.Since(begin).Round(time.Millisecond))
	return e, nil
}

// Clusters lists the member clusters, stopped ones included, in order.
func (e *Env) Clusters() []Cluster {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Cluster, len(e.members))
	for i, m := range e.members {
		out[i] = m.Cluster
	}
	return out
}

// StopCluster stops every process of one cluster, its apiserver included, so the cluster
// is down (for health tests). The other clusters and etcd keep running.
func (e *Env) StopCluster(name string) error {
	e.mu.Lock()
	var m *member
	for _, c := range e.members {
		if c.Name == name {
			m = c
		}
	}
	e.mu.Unlock()
	if m == nil {
		return fmt.Errorf("testenv: no cluster %q", name)
	}
	err := kubeproc.StopAll(e.log, m.processes())
	e.log.Info("cluster stopped", "cluster", name)
	return err
}

// Stop stops every cluster, then etcd, and removes etcd's data. It reports processes that
// could not be stopped and those that had exited before being asked to. Calling it again
// does nothing.
func (e *Env) Stop() error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	members, etcd := e.members, e.etcd
	e.mu.Unlock()

	var all []*kubeproc.Process
	for _, m := range members {
		all = append(all, m.processes()...)
	}
	// etcd only once no apiserver is left: one whose etcd is gone hangs in shutdown.
	errs := []error{kubeproc.StopInOrder(e.log, all, []*kubeproc.Process{etcd})}
	for _, m := range members {
		m.closeClients()
	}
	if e.etcdData != "" {
		errs = append(errs, os.RemoveAll(e.etcdData))
	}
	return errors.Join(errs...)
}

// startEtcd starts the etcd all clusters share, with its data in a new directory under
// Dir and no fsync (test data), and waits until it is healthy.
func (e *Env) startEtcd(ctx context.Context, clientPort, peerPort int) error {
	data, err := os.MkdirTemp(e.opts.Dir, "etcd-data-")
	if err != nil {
		return err
	}
	e.etcdData = data
	cfg := kubeproc.Etcd{
		Bin:        filepath.Join(e.bin, "etcd"),
		Name:       "atoll-testenv",
		DataDir:    data,
		ClientPort: clientPort,
		PeerPort:   peerPort,
		LogPath:    filepath.Join(e.opts.Dir, "etcd.log"),
		PIDPath:    filepath.Join(e.opts.Dir, "etcd.pid"),
		NoFsync:    true,
	}
	e.etcdURL = cfg.URL()
	p, err := cfg.Start(ctx, e.log)
	if p != nil {
		e.mu.Lock()
		e.etcd = p
		e.mu.Unlock()
	}
	return err
}
