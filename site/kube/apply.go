package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/csaupgrade"
	"k8s.io/client-go/util/retry"
)

// Applier applies rendered objects to one member cluster and prunes what Atoll created
// there and no longer wants. It watches Atoll's own objects (label selector) through
// informers, so a pass over unchanged workloads costs no request, and a new object costs
// one (create); a changed one is server-side applied (field manager "atoll"). It watches
// the cluster's HorizontalPodAutoscalers too: spec.replicas of an object one scales is
// the cluster's (OwnsReplicas). An Applier is used by one goroutine at a time.
type Applier struct {
	// Apply may run from several goroutines at once (the reconciler applies a cluster's
	// workloads in parallel): mu guards the small state below it that Apply changes
	// (lastReset, forced, lastResync), informers serialises the lazy start of informers
	// (seen, namespaces, hpas), and lastSweep is Prune's alone.
	mu        sync.Mutex
	informers sync.Mutex
	dyn       dynamic.Interface
	disco     discovery.CachedDiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	// lastReset is when mapper last discovered again (resource).
	lastReset time.Time
	factory   dynamicinformer.DynamicSharedInformerFactory
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	// seen are the resources Atoll has applied in this cluster since NewApplier: each
	// has an informer, and every Prune lists them.
	seen map[schema.GroupVersionResource]cache.GenericLister
	// watched are the resources whose informer has the status and drift handler, and
	// HorizontalPodAutoscalers once theirs has the drift handler (changed.go).
	watched map[schema.GroupVersionResource]bool
	// typed watches every namespace, for EnsureNamespace, and every
	// HorizontalPodAutoscaler, for Apply (each started on first use).
	typed      informers.SharedInformerFactory
	namespaces corelisters.NamespaceLister
	hpas       autoscalinglisters.HorizontalPodAutoscalerLister
	// forced are the objects re-applied since the last resync; objects edited in the
	// cluster by hand keep Atoll's annotation, so every Resync each object is applied
	// again (server-side apply restores Atoll's fields and leaves others' alone).
	forced map[string]bool
	// written is, by ObjectKey, the generation of each object as Atoll's last write left
	// it (or as a pass first found it): a later one is someone else's edit (changed.go).
	// An entry goes with the object.
	written map[string]int64
	// writing is, by ObjectKey, the highest generation the informer delivered while Atoll
	// was applying the object: Atoll's own write or someone else's, told apart once the
	// write returns (settle).
	writing    map[string]int64
	lastResync time.Time
	resync     time.Duration
	// lastSweep is when Prune last listed every resource discovery offers (zero: never).
	lastSweep time.Time
	// statusMu guards onStatus, onDrift and changed (changed.go), which informers'
	// handlers use.
	statusMu sync.Mutex
	onStatus func()
	onDrift  func()
	changed  map[string]objectRef
}

// syncTimeout bounds the wait for an informer's first list: a cluster that cannot answer
// (or a permission it lacks) fails the pass instead of holding it.
const syncTimeout = 30 * time.Second

// DefaultResync is how often every object is applied again to undo edits made in the
// cluster, unless NewApplier is told otherwise.
const DefaultResync = 5 * time.Minute

// Client rate limits of the applier: client-go's defaults (5 requests/s, bursts of 10)
// would make a site take minutes to apply a thousand workloads.
const (
	ApplyQPS   = 200
	ApplyBurst = 400
)

// NewApplier returns an applier for a cluster that re-applies every object each resync
// (DefaultResync if 0), and logs to log (nothing if nil) what Prune could not list.
func NewApplier(cfg *rest.Config, resync time.Duration, log *slog.Logger) (*Applier, error) {
	if resync <= 0 {
		resync = DefaultResync
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = ApplyQPS, ApplyBurst
	cfg.WarningHandler = &onceWarnings{log: log, seen: map[string]bool{}}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	disco := memory.NewMemCacheClient(dc)
	return &Applier{
		dyn: dyn, disco: disco, mapper: restmapper.NewDeferredDiscoveryRESTMapper(disco),
		factory: dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 10*time.Minute, metav1.NamespaceAll,
			func(o *metav1.ListOptions) { o.LabelSelector = LabelManaged + "=atoll" }),
		typed: informers.NewSharedInformerFactory(cs, 10*time.Minute),
		log:   log, ctx: ctx, cancel: cancel, seen: map[schema.GroupVersionResource]cache.GenericLister{}, watched: map[schema.GroupVersionResource]bool{},
		forced: map[string]bool{}, written: map[string]int64{}, writing: map[string]int64{}, lastResync: time.Now(), resync: resync,
	}, nil
}

// Stop ends the applier's informers.
func (a *Applier) Stop() { a.cancel() }

// lister returns the informer cache of a resource, starting its informer.
func (a *Applier) lister(ctx context.Context, gvr schema.GroupVersionResource) (cache.GenericLister, error) {
	a.informers.Lock()
	defer a.informers.Unlock()
	if l := a.seen[gvr]; l != nil {
		return l, nil
	}
	inf := a.factory.ForResource(gvr)
	synced := inf.Informer().HasSynced
	if !a.watched[gvr] { // once: an informer that did not sync is asked for again
		if err := a.watch(gvr, inf.Informer()); err != nil {
			return nil, fmt.Errorf("watch %s: %w", gvr.Resource, err)
		}
		a.watched[gvr] = true
	}
	a.factory.Start(a.ctx.Done())
	sctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), synced) {
		return nil, fmt.Errorf("watch %s: cache did not sync", gvr.Resource)
	}
	a.seen[gvr] = inf.Lister()
	return inf.Lister(), nil
}

// namespaces is the resource Atoll never prunes.
var namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// ObjectKey names an applied object: resource, namespace, name.
func ObjectKey(gvr schema.GroupVersionResource, ns, name string) string {
	return gvr.Resource + "." + gvr.Group + "/" + ns + "/" + name
}

// resource maps u to its resource with the cluster's RESTMapper: a namespaced workload
// creates namespaced objects in its namespace, a cluster-scoped template (no namespace)
// cluster-scoped ones; the cluster, not a list of ours, says which kinds are which. A
// kind the cluster does not serve (a CRD not established yet) is an ErrWaiting.
func (a *Applier) resource(u *unstructured.Unstructured) (dynamic.ResourceInterface, schema.GroupVersionResource, error) {
	gvk := u.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	a.mu.Lock()
	reset := err != nil && time.Since(a.lastReset) >= mapperReset
	if reset {
		a.lastReset = time.Now()
	}
	a.mu.Unlock()
	if reset {
		// A CRD installed since the last discovery: discover again, at most every
		// mapperReset, whatever asks (a kind that never comes does not make every pass
		// rediscover the whole API).
		a.mapper.Reset()
		m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if meta.IsNoMatchError(err) {
		return nil, schema.GroupVersionResource{}, &Waiting{Reason: fmt.Sprintf("%s is not served by this cluster yet (its CustomResourceDefinition is not established)", gvk)}
	}
	if err != nil {
		return nil, schema.GroupVersionResource{}, fmt.Errorf("%s: %w", gvk, err)
	}
	namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
	switch {
	case !namespaced && u.GetNamespace() != "":
		return nil, m.Resource, refused("%s is cluster-scoped in this cluster: a namespaced workload may create objects in its own namespace only", gvk.Kind)
	case namespaced && u.GetNamespace() == "":
		return nil, m.Resource, refused("%s is namespaced in this cluster: a cluster-scoped template cannot be one", gvk.Kind)
	case !namespaced:
		return a.dyn.Resource(m.Resource), m.Resource, nil
	}
	return a.dyn.Resource(m.Resource).Namespace(u.GetNamespace()), m.Resource, nil
}

// mapperReset is the least time between two discoveries of a member's API for kinds it
// did not serve.
const mapperReset = 2 * time.Second

// Apply makes the cluster hold u, and returns the object as the cluster holds it
// (status included, from the informer when nothing had to change) and its key. An object
// of the same name that another workload, or not Atoll, created is left alone: Apply
// returns a Refusal and key is empty. A new object is created as rendered; over an
// existing one, spec.replicas is applied only while Atoll owns it (OwnsReplicas), and a
// Job keeps the completions it was created with (keepCompletions).
func (a *Applier) Apply(ctx context.Context, u *unstructured.Unstructured) (*unstructured.Unstructured, string, error) {
	ri, gvr, err := a.resource(u)
	if err != nil {
		return nil, "", err
	}
	key := ObjectKey(gvr, u.GetNamespace(), u.GetName())
	a.begin(key)
	defer a.settle(key)
	l, err := a.lister(ctx, gvr)
	if err != nil {
		return nil, key, err
	}
	var cached any
	if ns := u.GetNamespace(); ns != "" {
		cached, err = l.ByNamespace(ns).Get(u.GetName())
	} else {
		cached, err = l.Get(u.GetName())
	}
	a.mu.Lock()
	if time.Since(a.lastResync) >= a.resync {
		clear(a.forced)
		a.lastResync = time.Now()
	}
	if err != nil {
		a.forced[key] = true
	}
	a.mu.Unlock()
	if err == nil {
		return a.update(ctx, ri, cached.(*unstructured.Unstructured), u, key, false)
	}
	out, err := ri.Create(ctx, u, metav1.CreateOptions{FieldManager: FieldManager})
	if apierrors.IsAlreadyExists(err) {
		cur, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
		if err != nil {
			return nil, key, err
		}
		return a.update(ctx, ri, cur, u, key, true)
	}
	if err != nil {
		return nil, key, fmt.Errorf("create %s: %w", key, err)
	}
	if err := created(ctx, ri, out, key); err != nil {
		return nil, key, err
	}
	a.wrote(key, out.GetGeneration(), false)
	return out, key, nil
}

// update brings cur, the cluster's object of u's name, to u: it applies u unless cur
// already holds what u would apply and u was applied since the last resync (always:
// apply anyway).
func (a *Applier) update(ctx context.Context, ri dynamic.ResourceInterface, cur, u *unstructured.Unstructured, key string, always bool) (*unstructured.Unstructured, string, error) {
	if err := owned(cur, u, key); err != nil {
		return nil, "", err
	}
	u, handover, err := a.replicas(ctx, cur, u)
	if err != nil {
		return nil, key, err
	}
	if u, err = keepCompletions(cur, u); err != nil {
		return nil, key, err
	}
	a.mu.Lock()
	skip := !always && a.forced[key] && cur.GetAnnotations()[AnnotationRendered] == u.GetAnnotations()[AnnotationRendered]
	a.forced[key] = true
	a.mu.Unlock()
	if skip {
		a.wrote(key, cur.GetGeneration(), true)
		return cur, key, nil
	}
	if handover {
		if err := handOver(ctx, ri, u.GetName(), key); err != nil {
			return nil, key, err
		}
	}
	if err := created(ctx, ri, cur, key); err != nil {
		return nil, key, err
	}
	return a.apply(ctx, ri, u, key)
}

// created merges the managed-fields entry of Atoll's create (an update, by
// FieldManager) into its apply's, so that a field the template no longer has leaves the
// object at the next apply; otherwise the create's entry would keep owning it. obj is
// the object as last seen: on a conflict it is read again, as the patch must name the
// current resourceVersion.
func created(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, key string) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		patch, err := csaupgrade.UpgradeManagedFieldsPatch(obj, sets.New(FieldManager), FieldManager)
		if err != nil || patch == nil {
			return err
		}
		_, err = ri.Patch(ctx, obj.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{})
		if apierrors.IsConflict(err) {
			if fresh, gerr := ri.Get(ctx, obj.GetName(), metav1.GetOptions{}); gerr == nil {
				obj = fresh
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("managed fields of %s: %w", key, err)
	}
	return nil
}

// replicas returns u as Atoll applies it over cur: u itself while Atoll owns its
// replicas, else u without spec.replicas (withoutReplicas). handover is set when Atoll's
// last apply may have set the field: what cur holds was not applied without it (or the
// informer has not seen that apply yet).
func (a *Applier) replicas(ctx context.Context, cur, u *unstructured.Unstructured) (_ *unstructured.Unstructured, handover bool, _ error) {
	if _, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "replicas"); !ok {
		return u, false, nil
	}
	hpas, err := a.autoscalers(ctx, u.GetNamespace())
	if err != nil {
		return nil, false, err
	}
	if OwnsReplicas(u, hpas) {
		return u, false, nil
	}
	u, err = withoutReplicas(u)
	if err != nil {
		return nil, false, err
	}
	return u, cur.GetAnnotations()[AnnotationRendered] != u.GetAnnotations()[AnnotationRendered], nil
}

// handOver gives spec.replicas of the object name to FieldManagerHandover, with the
// value the cluster holds, if Atoll's apply owns it, before Atoll's apply leaves the
// field out: otherwise the API server would remove the field that only Atoll's apply
// owned, and the count would fall to its default until the autoscaler raised it again.
// It reads the object afresh (an informer may not have seen Atoll's last apply yet).
// The cluster's scaler takes the field from FieldManagerHandover with its next write
// (an update takes ownership of what it changes). The apply is not forced: if another
// manager changed the count since the read (the autoscaler scaled), it fails with a
// conflict, and that write already took the field from Atoll's apply, so there is
// nothing left to hand over.
func handOver(ctx context.Context, ri dynamic.ResourceInterface, name, key string) error {
	cur, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read %s to hand spec.replicas over to the cluster: %w", key, err)
	}
	n, ok, _ := unstructured.NestedInt64(cur.Object, "spec", "replicas")
	if !ok || !appliesReplicas(cur.GetManagedFields(), FieldManager) {
		return nil
	}
	h := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cur.GetAPIVersion(), "kind": cur.GetKind(),
		"metadata": map[string]any{"name": cur.GetName(), "namespace": cur.GetNamespace()},
		"spec":     map[string]any{"replicas": n},
	}}
	_, err = ri.Apply(ctx, name, h, metav1.ApplyOptions{FieldManager: FieldManagerHandover})
	if err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("hand spec.replicas of %s over to the cluster: %w", key, err)
	}
	return nil
}

// autoscalers returns the HorizontalPodAutoscalers of namespace ns, from an informer on
// autoscaling/v2 started on first use.
func (a *Applier) autoscalers(ctx context.Context, ns string) ([]*autoscalingv2.HorizontalPodAutoscaler, error) {
	a.informers.Lock()
	defer a.informers.Unlock()
	if a.hpas == nil {
		inf := a.typed.Autoscaling().V2().HorizontalPodAutoscalers()
		synced := inf.Informer().HasSynced // registers the informer before Start
		if hpas := autoscalingv2.SchemeGroupVersion.WithResource("horizontalpodautoscalers"); !a.watched[hpas] {
			if err := a.watchAutoscalers(inf.Informer()); err != nil {
				return nil, fmt.Errorf("watch horizontalpodautoscalers.autoscaling: %w", err)
			}
			a.watched[hpas] = true // once, as for the resources Atoll applies
		}
		a.typed.Start(a.ctx.Done())
		sctx, cancel := context.WithTimeout(ctx, syncTimeout)
		defer cancel()
		if !cache.WaitForCacheSync(sctx.Done(), synced) {
			return nil, errors.New("watch horizontalpodautoscalers.autoscaling: cache did not sync (does the member RBAC grant list and watch?)")
		}
		a.hpas = inf.Lister()
	}
	return a.hpas.HorizontalPodAutoscalers(ns).List(labels.Everything())
}

// owned refuses to touch cur, the cluster's object of u's name, unless Atoll created it
// for the same workload, or u asks to adopt it (AnnotationAdopt, left on u only where
// the site allows) and no other object or workload owns it.
func owned(cur, u *unstructured.Unstructured, key string) error {
	if cur.GetLabels()[LabelManaged] != "atoll" {
		adopt := u.GetAnnotations()[AnnotationAdopt] == "true"
		switch {
		case adopt && len(cur.GetOwnerReferences()) > 0:
			return refused("%s exists and is owned by another object (ownerReferences); leaving it alone", key)
		case adopt && cur.GetLabels()[LabelWorkload] == "":
			return nil // adopted: conflictResolution Overwrite, and the site's admission allows it
		case adopt:
			return refused("%s carries another workload's label; leaving it alone", key)
		}
		return refused("%s exists and was not created by Atoll; leaving it alone (a policy's conflictResolution: Overwrite adopts it where the site's admission.adopt allows)", key)
	}
	got, want := cur.GetLabels()[LabelWorkload], u.GetLabels()[LabelWorkload]
	if got == "" && cur.GetKind() == "Namespace" && cur.GetAPIVersion() == "v1" {
		return nil // a namespace Atoll made for workloads (EnsureNamespace), now a template's
	}
	if got != want {
		return refused("%s belongs to workload %s; leaving it alone", key, got)
	}
	return nil
}

func (a *Applier) apply(ctx context.Context, ri dynamic.ResourceInterface, u *unstructured.Unstructured, key string) (*unstructured.Unstructured, string, error) {
	out, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return nil, key, fmt.Errorf("apply %s: %w", key, err)
	}
	a.wrote(key, out.GetGeneration(), false)
	return out, key, nil
}

// EnsureNamespace creates a namespace, labelled as Atoll's, if the cluster does not hold
// it. It reads the namespaces through an informer, so a namespace deleted in the cluster
// is created again on the next pass. Atoll never adopts, changes or deletes a namespace:
// other objects may live in it.
func (a *Applier) EnsureNamespace(ctx context.Context, ns string) error {
	a.informers.Lock()
	defer a.informers.Unlock()
	if a.namespaces == nil {
		inf := a.typed.Core().V1().Namespaces()
		synced := inf.Informer().HasSynced // registers the informer before Start
		a.typed.Start(a.ctx.Done())
		sctx, cancel := context.WithTimeout(ctx, syncTimeout)
		defer cancel()
		if !cache.WaitForCacheSync(sctx.Done(), synced) {
			return errors.New("watch namespaces: cache did not sync")
		}
		a.namespaces = inf.Lister()
	}
	if _, err := a.namespaces.Get(ns); err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": ns, "labels": map[string]any{LabelManaged: "atoll"}}}}
	_, err := a.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).
		Create(ctx, u, metav1.CreateOptions{FieldManager: FieldManager})
	if apierrors.IsAlreadyExists(err) {
		return nil // the informer has not seen it yet, or it is terminating: the apply says which
	}
	return err
}
