package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
)

// Observer watches one member cluster's nodes and pods with informers and probes its
// API server's /readyz.
type Observer struct {
	name    string
	labels  map[string]string
	taints  []string
	cs      kubernetes.Interface
	nodes   listers.NodeLister
	pods    listers.PodLister
	synced  []func() bool
	version string
	cancel  context.CancelFunc
}

// NewObserver starts informers on a cluster. They run until Stop.
func NewObserver(ctx context.Context, e Entry, cfg *rest.Config) (*Observer, error) {
	name, lbls := e.Name, e.Labels
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	f := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	nodes, pods := f.Core().V1().Nodes(), f.Core().V1().Pods()
	if err := errors.Join(nodes.Informer().SetTransform(trimNode), pods.Informer().SetTransform(trimPod)); err != nil {
		cancel()
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	o := &Observer{
		name: name, labels: lbls, taints: e.Taints, cs: cs, nodes: nodes.Lister(), pods: pods.Lister(),
		synced: []func() bool{nodes.Informer().HasSynced, pods.Informer().HasSynced}, cancel: cancel,
	}
	f.Start(ctx.Done())
	return o, nil
}

// SetEntry takes the labels and taints of a join again (a cluster joined anew with other
// taints, say): the next Snapshot reports them. Not safe to call with Snapshot.
func (o *Observer) SetEntry(e Entry) { o.labels, o.taints = e.Labels, e.Taints }

// Stop ends the informers.
func (o *Observer) Stop() { o.cancel() }

// Snapshot probes the cluster and reads the informers' caches.
func (o *Observer) Snapshot(ctx context.Context) Snapshot {
	s := Snapshot{Labels: o.labels, Taints: o.taints}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	body, err := o.cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	switch {
	case err != nil:
		s.Reason = "readyz: " + firstLine(err.Error())
	case strings.TrimSpace(string(body)) != "ok":
		s.Reason = "readyz: " + firstLine(string(body))
	default:
		s.Healthy = true
	}
	if s.Healthy && o.version == "" {
		if v, err := o.cs.Discovery().ServerVersion(); err == nil {
			o.version = v.GitVersion
		}
	}
	s.Version = o.version
	for _, synced := range o.synced {
		if !synced() {
			if s.Healthy {
				s.Healthy, s.Reason = false, "informers not synced yet"
			}
			return s
		}
	}
	nodes, _ := o.nodes.List(labels.Everything())
	pods, _ := o.pods.List(labels.Everything())
	s.Nodes = len(nodes)
	region, zone := "", ""
	for i, n := range nodes {
		if NodeReady(n) {
			s.ReadyNodes++
		}
		r, z := n.Labels[corev1.LabelTopologyRegion], n.Labels[corev1.LabelTopologyZone]
		if i == 0 {
			region, zone = r, z
			if p, _, ok := strings.Cut(n.Spec.ProviderID, "://"); ok {
				s.Provider = p
			}
		}
		if r != region {
			region = ""
		}
		if z != zone {
			zone = ""
		}
	}
	s.Region, s.Zone = region, zone
	s.Capacity = Capacity(nodes, pods)
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
