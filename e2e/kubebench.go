package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"atoll/crdt"
	"atoll/deploy/testenv"
	"atoll/site"
	"atoll/site/kube"
)

// KubeReport is the outcome of RunKube.
type KubeReport struct {
	Workloads         int       `json:"workloads"`
	ClientGoSeconds   float64   `json:"client_go_seconds"`   // plain create loop, same apiserver, same rate limits
	AtollSeconds      float64   `json:"atoll_seconds"`       // from submitting the workloads until every Deployment exists
	ThroughputRatio   float64   `json:"throughput_ratio"`    // client_go_seconds / atoll_seconds
	WriteToDeployment Quantiles `json:"write_to_deployment"` // write at one site until the Deployment exists in another site's cluster
	// The same writes, stage by stage: from the write until the Deployment has every
	// replica ready, and until the writer's site holds the status that says so; and
	// DirectReady, a Deployment of the same replicas created with client-go in the same
	// cluster, from the create until every replica is ready (the member's own pace).
	WriteToReady  Quantiles `json:"write_to_ready"`
	ExistToReady  Quantiles `json:"exist_to_ready"`
	ReadyToStatus Quantiles `json:"ready_to_status_at_writer"`
	WriteToStatus Quantiles `json:"write_to_status_at_writer"`
	DirectReady   Quantiles `json:"direct_create_to_ready"`
	// The first write is left out of the quantiles above and reported alone: it is the
	// first workload of its namespace and kind in the cluster, so its pass also creates
	// the namespace and starts the Applier's informer for Deployments.
	FirstWriteToDeploymentMS float64 `json:"first_write_to_deployment_ms"`
	FirstWriteToStatusMS     float64 `json:"first_write_to_status_at_writer_ms"`
}

const benchTemplate = `apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers: [{name: app, image: registry.invalid/app:1, resources: {requests: {cpu: 1m, memory: 1Mi}}}]
`

// RunKube measures Atoll's reconciler against a plain client-go loop on one real cluster,
// and the latency from a workload write at one site to its Deployment at another.
func RunKube(ctx context.Context, o Options, workloads, samples int) (KubeReport, error) {
	rep := KubeReport{Workloads: workloads}
	env, err := testenv.Start(ctx, testenv.Options{Dir: filepath.Join(o.Dir, "kube"), Clusters: 1, NodesPerCluster: 24, NodeCPU: "64", NodeMemory: "256Gi"})
	if err != nil {
		return rep, err
	}
	defer env.Stop()
	kc := env.Clusters()[0].Kubeconfig
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return rep, err
	}
	cfg.QPS, cfg.Burst = kube.ApplyQPS, kube.ApplyBurst
	cfg.WarningHandler = rest.NoWarnings{} // Pod Security warns on every create: noise here
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return rep, err
	}
	// Baseline: a plain create loop.
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "base"}}, metav1.CreateOptions{}); err != nil {
		return rep, err
	}
	start := time.Now()
	for i := range workloads {
		if _, err := cs.AppsV1().Deployments("base").Create(ctx, deployment(fmt.Sprintf("w%d", i)), metav1.CreateOptions{}); err != nil {
			return rep, err
		}
	}
	rep.ClientGoSeconds = time.Since(start).Seconds()
	// Let the baseline's rollouts finish, so both runs meet an equally idle control plane.
	if err := waitReady(ctx, cs, "base", workloads); err != nil {
		return rep, err
	}

	f, err := startPair(ctx, o, env)
	if err != nil {
		return rep, err
	}
	defer f.Stop()
	if err := f.waitFor(ctx, "cluster healthy", func(map[int]site.State) bool {
		obj, err := f.Client(0).Object(ctx, "cluster", f.Names[1]+"/c0")
		return err == nil && obj["health"].Value == "healthy"
	}); err != nil {
		return rep, err
	}
	op, err := newOperatorFor(f)
	if err != nil {
		return rep, err
	}
	// Latency: one workload at a time, written at site 0, applied by site 1 (the whole
	// share: only site 1 has a cluster, and an even split gives each site one replica of 2).
	var lat, ready, existReady, readyStatus, status, direct []time.Duration
	every := func(cond func() (bool, error)) error {
		for {
			ok, err := cond()
			if ok || err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	deploymentReady := func(ns, name string) func() (bool, error) {
		return func() (bool, error) {
			d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil && d.Status.ReadyReplicas == 2 && d.Status.ObservedGeneration == d.Generation, err
		}
	}
	for i := range samples + 1 { // sample 0 is the first write, reported alone
		name := fmt.Sprintf("l%d", i)
		start := time.Now()
		if err := op.write(ctx, 0, workloadOps("lat", name, 2)...); err != nil {
			return rep, err
		}
		if err := every(func() (bool, error) {
			_, err := cs.AppsV1().Deployments("lat").Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil, err
		}); err != nil {
			return rep, err
		}
		exists := time.Now()
		if err := every(deploymentReady("lat", name)); err != nil {
			return rep, err
		}
		readyAt := time.Now()
		key := crdt.StatusKey("lat", name, f.Names[1], "c0")
		if err := every(func() (bool, error) {
			obj, err := f.Client(0).Object(ctx, "status", key)
			return err == nil && obj["ready"].Value == "2", nil
		}); err != nil {
			return rep, err
		}
		statusAt := time.Now()
		if i == 0 {
			rep.FirstWriteToDeploymentMS = float64(exists.Sub(start).Microseconds()) / 1000
			rep.FirstWriteToStatusMS = float64(statusAt.Sub(start).Microseconds()) / 1000
		} else {
			lat = append(lat, exists.Sub(start))
			ready, existReady = append(ready, readyAt.Sub(start)), append(existReady, readyAt.Sub(exists))
			status, readyStatus = append(status, statusAt.Sub(start)), append(readyStatus, statusAt.Sub(readyAt))
		}
		// The member's own pace: the same Deployment created directly.
		d := deployment("d" + name)
		two := int32(2)
		d.Spec.Replicas = &two
		t0 := time.Now()
		if _, err := cs.AppsV1().Deployments("lat").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return rep, err
		}
		if err := every(deploymentReady("lat", d.Name)); err != nil {
			return rep, err
		}
		if i > 0 {
			direct = append(direct, time.Since(t0))
		}
	}
	rep.WriteToDeployment = quantiles(lat)
	rep.WriteToReady, rep.ExistToReady, rep.ReadyToStatus, rep.WriteToStatus = quantiles(ready), quantiles(existReady), quantiles(readyStatus), quantiles(status)
	rep.DirectReady = quantiles(direct)

	// Throughput: all workloads in changes of 100, then wait for every Deployment.
	start = time.Now()
	for i := 0; i < workloads; i += 100 {
		var ops []crdt.Op
		for j := i; j < min(i+100, workloads); j++ {
			ops = append(ops, workloadOps("atoll", fmt.Sprintf("w%d", j), 2)...)
		}
		if err := op.write(ctx, 0, ops...); err != nil {
			return rep, err
		}
	}
	for {
		list, err := cs.AppsV1().Deployments("atoll").List(ctx, metav1.ListOptions{})
		if err != nil {
			return rep, err
		}
		if len(list.Items) >= workloads {
			break
		}
		select {
		case <-ctx.Done():
			return rep, fmt.Errorf("%d of %d Deployments after %v: %w", len(list.Items), workloads, time.Since(start), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	rep.AtollSeconds = time.Since(start).Seconds()
	rep.ThroughputRatio = rep.ClientGoSeconds / rep.AtollSeconds
	return rep, nil
}

// startPair starts two sites, site 1 running env's one cluster as c0, and returns once
// they see each other and the cluster is joined. The caller stops them.
func startPair(ctx context.Context, o Options, env *testenv.Env) (*Fed, error) {
	o.Sites = 2
	f, err := Start(ctx, o)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(env.Clusters()[0].AtollKubeconfig)
	if err == nil {
		err = f.WaitMembers(ctx)
	}
	if err == nil {
		err = f.Client(1).JoinCluster(ctx, site.JoinRequest{Name: "c0", Kubeconfig: string(b)})
	}
	if err != nil {
		_ = f.Stop()
		return nil, err
	}
	return f, nil
}

// waitReady waits until n Deployments in ns have all their replicas ready.
func waitReady(ctx context.Context, cs *kubernetes.Clientset, ns string, n int) error {
	for {
		list, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, d := range list.Items {
			if d.Status.ReadyReplicas == *d.Spec.Replicas {
				ready++
			}
		}
		if ready >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d Deployments ready in %s: %w", ready, n, ns, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func deployment(name string) *appsv1.Deployment {
	one := int32(1)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}}
	d.Spec.Replicas = &one
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	d.Spec.Template.Labels = map[string]string{"app": name}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "registry.invalid/app:1",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m"), corev1.ResourceMemory: resource.MustParse("1Mi")}}}}
	return d
}

func workloadOps(ns, name string, replicas int) []crdt.Op {
	key := ns + "/" + name
	set := func(f, v string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: key, Field: f, Value: []byte(v)}
	}
	return []crdt.Op{set("apiVersion", "apps/v1"), set("kind", "Deployment"), set("replicas", fmt.Sprint(replicas)),
		set("template", strings.ReplaceAll(benchTemplate, "%s", name))}
}

// Operator writes workloads as one of the federation's operators, each change on top of
// its last, signed by hand: no CLI check stands between it and the sites.
type Operator struct {
	f   *Fed
	key *crdt.Signer
	rep *crdt.Replica
}

// newOperatorFor writes as the federation's operator, which may write in every namespace.
func newOperatorFor(f *Fed) (*Operator, error) { return newOperatorAs(f, f.Operator) }

// newOperatorAs writes as the operator whose key is key.
func newOperatorAs(f *Fed, key *crdt.Signer) (*Operator, error) {
	genesis, err := os.ReadFile(filepath.Join(f.opts.Dir, "genesis.atoll"))
	if err != nil {
		return nil, err
	}
	rep, err := crdt.NewReplica(crdt.Config{Genesis: genesis, Self: key.Public()})
	if err != nil {
		return nil, err
	}
	return &Operator{f: f, key: key, rep: rep}, nil
}

func (o *Operator) write(ctx context.Context, at int, ops ...crdt.Op) error {
	return o.writeBound(ctx, at, nil, nil, ops...)
}

// writeBound writes a change bounded to jurisdictions, with the bodies of its sealed ops.
// Workloads it writes carry their placement embedded, as atoll apply wrote them before
// policies were stored: the zero placement (divided over every site) unless ops give one.
func (o *Operator) writeBound(ctx context.Context, at int, bound []string, bodies [][]byte, ops ...crdt.Op) error {
	env, err := crdt.Sign(o.rep.Prepare(embedPlacement(ops), bound), bodies, o.key)
	if err != nil {
		return err
	}
	if res := o.rep.ReceiveEnvelope(env); len(res.Rejected) > 0 {
		return res.Rejected[0].Err
	}
	// A site admits a client's change only on a past it holds (quotas count it there):
	// wait until the operator's last change, submitted maybe elsewhere, has reached it.
	for _, d := range env.Change.Deps {
		if d == o.rep.Genesis() {
			continue
		}
		if held, err := o.f.Client(at).Has(ctx, d.Hex(), 30*time.Second); err != nil || !held {
			return fmt.Errorf("%s does not hold %s: %v", o.f.Names[at], d, err)
		}
	}
	_, err = o.f.Client(at).Submit(ctx, env.Encode())
	return err
}

// embedPlacement adds the zero placement to every workload whose apiVersion, kind,
// replicas or template ops writes and whose placement they do not.
func embedPlacement(ops []crdt.Op) []crdt.Op {
	ops = slices.Clip(ops) // appending must not write into the caller's array
	writes, placed := map[string]bool{}, map[string]bool{}
	var keys []string
	for _, op := range ops {
		switch {
		case op.Kind != crdt.KindWorkload:
		case op.Field == "placement" || op.Type == crdt.OpRemove:
			placed[op.Key] = true
		case slices.Contains([]string{"apiVersion", "kind", "replicas", "template"}, op.Field) && !writes[op.Key]:
			writes[op.Key] = true
			keys = append(keys, op.Key)
		}
	}
	for _, k := range keys {
		if !placed[k] {
			ops = append(ops, crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: k, Field: "placement", Value: []byte("{}")})
		}
	}
	return ops
}

// writeWorkload writes a Deployment of the bench template with replicas; with a bound
// (a jurisdiction), bounded to it, its template sealed.
func (o *Operator) writeWorkload(ctx context.Context, at int, ns, name string, replicas int, bound string) error {
	if bound == "" {
		return o.write(ctx, at, workloadOps(ns, name, replicas)...)
	}
	key := crdt.WorkloadKey(ns, name)
	tmpl := []byte(strings.ReplaceAll(benchTemplate, "%s", name))
	set := func(f, v string) crdt.Op {
		return crdt.Op{Type: crdt.OpSet, Kind: crdt.KindWorkload, Key: key, Field: f, Value: []byte(v)}
	}
	return o.writeBound(ctx, at, []string{bound}, [][]byte{tmpl}, set("apiVersion", "apps/v1"), set("kind", "Deployment"),
		set("replicas", fmt.Sprint(replicas)), set("bound", bound), crdt.SealOp(crdt.KindWorkload, key, "template", tmpl))
}
