package fedsync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"atoll/apply"
	"atoll/crdt"
	"atoll/policy"
)

// Ref names an object of the replicated state.
type Ref struct {
	Kind crdt.Kind // KindWorkload or KindPolicy
	Key  string
}

// Header is what the state says of an object without its body: enough to find its API
// object.
type Header struct {
	Ref
	APIVersion, Kind string // a workload's; empty for a policy
	// Version changes whenever what the controller syncs of the object does: the change
	// that wrote it last and, for a workload, what the sites report of it.
	Version string
}

// Object is one object of the state as the controller needs it.
type Object struct {
	Header
	Stored
	Manifest []byte // the template or policy object as stored; nil unless Held
}

// Store is the replicated state, as the site gives it to the controller.
type Store interface {
	// Headers lists the workloads and policies of the state.
	Headers() []Header
	// Get returns one object of the state (Exists false if there is none).
	Get(r Ref) Object
	// Write signs each change as the site API's operator and stores it, as a change a
	// client submits: the same checks, quotas and residency rules. It returns the first
	// refusal.
	Write(ctx context.Context, chs []apply.Change) error
	// Changed returns a channel closed when the state next changes.
	Changed() <-chan struct{}
}

// Config configures a Controller.
type Config struct {
	REST  *rest.Config // of the federation API server, as an identity that may write everything
	Store Store
	Log   *slog.Logger
}

// Controller keeps the federation API server and the replicated state in step, both
// ways, one object at a time (Decide), level-based: every event only queues the object.
type Controller struct {
	cfg     Config
	dyn     dynamic.Interface
	core    kubernetes.Interface
	queue   workqueue.TypedRateLimitingInterface[item]
	factory dynamicinformer.DynamicSharedInformerFactory
	// kindsChanged wakes watchState when a custom kind starts or stops being synced
	// (custom.go).
	kindsChanged chan struct{}

	mu       sync.Mutex
	listers  map[schema.GroupVersionResource]cache.GenericLister // of every kind synced
	custom   map[schema.GroupKind]kind                           // custom kinds synced (custom.go)
	stop     map[schema.GroupKind]context.CancelFunc             // ends a custom kind's informer
	custInf  sync.WaitGroup                                      // the custom kinds' informers
	memo     map[item]Memo
	refused  map[item]string // the resourceVersion refused last, not retried until it changes
	bindings map[item]string // what writeBinding wrote last; noBinding once removed
}

// New builds a Controller; Run starts it.
func New(cfg Config) (*Controller, error) {
	dyn, err := dynamic.NewForConfig(cfg.REST)
	if err != nil {
		return nil, err
	}
	core, err := kubernetes.NewForConfig(cfg.REST)
	if err != nil {
		return nil, err
	}
	return &Controller{cfg: cfg, dyn: dyn, core: core, memo: map[item]Memo{}, refused: map[item]string{}, bindings: map[item]string{},
		listers: map[schema.GroupVersionResource]cache.GenericLister{}, custom: map[schema.GroupKind]kind{}, stop: map[schema.GroupKind]context.CancelFunc{},
		kindsChanged: make(chan struct{}, 1),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[item](),
			workqueue.TypedRateLimitingQueueConfig[item]{Name: "fedsync"})}, nil
}

// Run syncs until ctx is done. It returns once its informers are stopped.
func (c *Controller) Run(ctx context.Context) error {
	f := dynamicinformer.NewDynamicSharedInformerFactory(c.dyn, 0)
	c.factory = f
	for _, k := range kinds {
		if err := c.watch(ctx, k); err != nil {
			return err
		}
	}
	defer c.custInf.Wait() // the custom kinds' informers end with ctx; after the factory's, whose CRD events start them
	f.Start(ctx.Done())
	defer f.Shutdown()
	for gvr, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("fedsync: the informer of %s did not sync", gvr.Resource)
		}
	}
	go func() {
		<-ctx.Done()
		c.queue.ShutDown()
	}()
	var wg sync.WaitGroup
	wg.Go(func() { c.watchState(ctx) })
	for c.work(ctx) {
	}
	wg.Wait()
	return nil
}

// watch starts syncing objects of a built-in kind k: an informer of the factory whose
// events queue them (started by the factory's next Start).
func (c *Controller) watch(ctx context.Context, k kind) error {
	inf := c.factory.ForResource(k.gvr)
	c.mu.Lock()
	c.listers[k.gvr] = inf.Lister()
	c.mu.Unlock()
	return c.handle(ctx, k, inf.Informer())
}

// handle queues the objects of kind k that inf's events name, and for CRDs starts and
// stops syncing their kinds (custom.go).
func (c *Controller) handle(ctx context.Context, k kind, inf cache.SharedIndexInformer) error {
	on := func(obj any, deleted bool) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		if it := (item{k, u.GetNamespace(), u.GetName()}); !it.system() {
			c.queue.Add(it)
		}
		switch {
		case k.kind != "CustomResourceDefinition":
		case deleted:
			c.crdGone(u)
		default:
			c.crdSeen(ctx, u)
		}
	}
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { on(o, false) },
		UpdateFunc: func(_, o any) { on(o, false) },
		DeleteFunc: func(o any) { on(o, true) },
	})
	return err
}

// lister is the lister of kind k's informer.
func (c *Controller) lister(k kind) cache.GenericLister {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.listers[k.gvr]
}

// resyncEvery is how often every object is queued whether or not it changed.
const resyncEvery = 5 * time.Minute

// watchState queues the objects of the state whose version changed, or that the state
// no longer holds, whenever the state changes; the informers queue the API server's
// changes. Every resyncEvery it queues every object of both, in case a transition was
// missed.
func (c *Controller) watchState(ctx context.Context) {
	synced := "" // the grants RBAC was last made equal to
	last := map[item]string{}
	resync := time.Now().Add(resyncEvery)
	c.collectBindings(ctx)
	for {
		changed := c.cfg.Store.Changed()
		retry := time.After(time.Until(resync))
		if gs, ok := c.cfg.Store.(GrantStore); ok {
			if want := fmt.Sprint(gs.Grants(), gs.ReaderGroups(), c.synced()); want != synced {
				if err := c.syncGrants(ctx, gs); err != nil {
					if ctx.Err() == nil {
						c.cfg.Log.Warn("kubernetes API: RBAC", "err", err)
					}
					retry = time.After(5 * time.Second)
				} else {
					synced = want
				}
			}
		}
		all := !time.Now().Before(resync)
		cur := map[item]string{}
		for _, h := range c.cfg.Store.Headers() {
			if it, ok := c.itemOf(h); ok && !it.system() {
				cur[it] = h.Version
				if v, ok := last[it]; all || !ok || v != h.Version {
					c.queue.Add(it)
				}
			}
		}
		for it := range last {
			if _, ok := cur[it]; !ok {
				c.queue.Add(it) // gone from the state
			}
		}
		last = cur
		if all {
			resync = time.Now().Add(resyncEvery)
			c.collectBindings(ctx)
			for _, k := range c.synced() {
				l := c.lister(k)
				if l == nil {
					continue
				}
				objs, err := l.List(labels.Everything())
				if err != nil {
					continue
				}
				for _, o := range objs {
					if u, ok := o.(*unstructured.Unstructured); ok {
						if it := (item{k, u.GetNamespace(), u.GetName()}); !it.system() {
							c.queue.Add(it)
						}
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
		case <-c.kindsChanged:
			resync = time.Now() // every object again: some may be of the new kind
		}
	}
}

// work syncs one queued item; false once the queue is shut down.
func (c *Controller) work(ctx context.Context) bool {
	it, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(it)
	if err := c.sync(ctx, it); err != nil {
		if ctx.Err() == nil {
			c.cfg.Log.Warn("kubernetes API sync", "object", it.String(), "err", err)
		}
		c.queue.AddRateLimited(it)
		return true
	}
	c.queue.Forget(it)
	return true
}

// sync brings one object in step.
func (c *Controller) sync(ctx context.Context, it item) error {
	k := it.kind
	var u *unstructured.Unstructured
	a := API{}
	key := it.name
	if k.namespaced {
		key = it.namespace + "/" + it.name
	}
	l := c.lister(k)
	if l == nil {
		return nil // a custom kind no longer synced: its CRD is gone (custom.go)
	}
	if o, err := l.Get(key); err == nil {
		u = o.(*unstructured.Unstructured)
		a = API{Exists: true, RV: u.GetResourceVersion(), Change: u.GetAnnotations()[AnnotationChange]}
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	s := c.cfg.Store.Get(it.ref())
	if s.Exists && !k.policy && (s.Kind != k.kind || s.APIVersion != k.apiVersion()) {
		if !a.Exists {
			return nil // the state's object is another kind's: projected as that kind
		}
		return c.refuse(ctx, it, u, fmt.Errorf("the federation holds %s %s as a %s: a %s of that name cannot be stored beside it",
			s.Kind, s.Key, s.Kind, k.kind))
	}
	c.mu.Lock()
	m := c.memo[it]
	c.mu.Unlock()
	act := Decide(a, s.Stored, m)
	if act != None && act != Refuse {
		// The informer's cache may not have seen this controller's own last write yet:
		// act only on what the API server holds now.
		o, err := c.resource(it).Get(ctx, it.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			u, a = nil, API{}
		case err != nil:
			return err
		default:
			u, a = o, API{Exists: true, RV: o.GetResourceVersion(), Change: o.GetAnnotations()[AnnotationChange]}
		}
		act = Decide(a, s.Stored, m)
	}
	switch act {
	case None:
		if a.Exists && s.Exists && s.Held {
			var agg Aggregate
			if ss, ok := c.cfg.Store.(StatusStore); ok && !k.policy {
				agg = ss.Status(s.Ref)
			}
			rv, err := c.writeStatus(ctx, it, u, s, agg)
			if err != nil {
				return err
			}
			if err := c.writeBinding(ctx, it, u, s.Change, agg); err != nil {
				return err
			}
			c.remember(it, Memo{Known: true, Change: s.Change, RV: cmp.Or(rv, a.RV)})
		} else if !a.Exists && !s.Exists {
			c.forget(it)
		}
		return nil
	case Project:
		return c.project(ctx, it, a, s)
	case Write:
		return c.write(ctx, it, u, s)
	case RemoveState:
		ch := apply.Change{Keys: []string{s.Key}, Ops: []crdt.Op{{Type: crdt.OpRemove, Kind: s.Ref.Kind, Key: s.Key}}}
		if err := c.cfg.Store.Write(ctx, []apply.Change{ch}); err != nil {
			return fmt.Errorf("removing %s from the state: %w", s.Key, err)
		}
		if err := c.deleteBinding(ctx, it); err != nil {
			return err
		}
		c.forget(it)
		c.cfg.Log.Info("kubernetes API: removed from the federation", "object", it.String())
		return nil
	case DeleteAPI:
		err := c.resource(it).Delete(ctx, it.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &a.RV}})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := c.deleteBinding(ctx, it); err != nil {
			return err
		}
		c.forget(it)
		return nil
	case Refuse:
		return c.refuse(ctx, it, u, fmt.Errorf("%s %s is bound to jurisdictions that exclude this site: write it through a site inside its bound", it, s.Key))
	}
	return fmt.Errorf("fedsync: action %v", act)
}

// resource is the dynamic client of an item's kind and namespace.
func (c *Controller) resource(it item) dynamic.ResourceInterface {
	k := it.kind
	if k.namespaced {
		return c.dyn.Resource(k.gvr).Namespace(it.namespace)
	}
	return c.dyn.Resource(k.gvr)
}

// project creates or updates the API object from the state.
func (c *Controller) project(ctx context.Context, it item, a API, s Object) error {
	u, err := projection(s.Manifest, s.Change)
	if err != nil {
		return err
	}
	u.SetName(it.name)
	if it.kind.namespaced {
		u.SetNamespace(it.namespace)
		if err := c.ensureNamespace(ctx, it.namespace); err != nil {
			return err
		}
	}
	var out *unstructured.Unstructured
	if a.Exists {
		u.SetResourceVersion(a.RV)
		out, err = c.resource(it).Update(ctx, u, metav1.UpdateOptions{FieldManager: "atoll"})
	} else {
		out, err = c.resource(it).Create(ctx, u, metav1.CreateOptions{FieldManager: "atoll"})
	}
	if err != nil {
		return fmt.Errorf("projecting %s: %w", it, err)
	}
	c.remember(it, Memo{Known: true, Change: s.Change, RV: out.GetResourceVersion()})
	return nil
}

// write stores the API object in the state, as atoll apply would.
func (c *Controller) write(ctx context.Context, it item, u *unstructured.Unstructured, s Object) error {
	c.mu.Lock()
	refusedAt, refused := c.refused[it]
	c.mu.Unlock()
	if refused && refusedAt == u.GetResourceVersion() {
		return nil // refused as it is: waits for an edit
	}
	b, err := manifest(u)
	if err != nil {
		return err
	}
	objs, err := policy.Parse(it.String(), b)
	if err == nil && len(objs) != 1 {
		err = errors.New("not one object")
	}
	var ws []policy.Workload
	var ps []*policy.Policy
	if err == nil {
		ws, ps, _, err = policy.Split(objs)
	}
	var chs []apply.Change
	if err == nil {
		if len(ws) == 1 && s.Exists && s.Held && string(ws[0].Template) == string(s.Manifest) {
			c.remember(it, Memo{Known: true, Change: s.Change, RV: u.GetResourceVersion()}) // as stored
			return nil
		}
		chs, err = apply.Changes(ws, ps)
	}
	if err == nil {
		err = apply.Check(chs)
	}
	if err == nil {
		err = c.cfg.Store.Write(ctx, chs)
	}
	if err != nil {
		return c.refuse(ctx, it, u, err)
	}
	after := c.cfg.Store.Get(it.ref())
	c.remember(it, Memo{Known: true, Change: after.Change, RV: u.GetResourceVersion()})
	c.cfg.Log.Info("kubernetes API: written to the federation", "object", it.String(), "change", after.Change)
	return nil
}

// refuse records why an API object is not stored: a Warning event on the object, which
// kubectl describe shows, the condition Stored=False in its status if its kind has
// conditions the site writes (kubectl wait --for=condition=Stored=False), and the site's
// log. It is not retried until the object changes.
func (c *Controller) refuse(ctx context.Context, it item, u *unstructured.Unstructured, why error) error {
	rv := u.GetResourceVersion()
	if out, err := c.refusedStatus(ctx, it, u, why); err != nil && ctx.Err() == nil {
		c.cfg.Log.Warn("kubernetes API: recording a refusal in the status", "object", it.String(), "err", err)
	} else if out != "" {
		rv = out // the status written is not an edit to retry on
	}
	c.mu.Lock()
	c.refused[it] = rv
	c.mu.Unlock()
	c.cfg.Log.Warn("kubernetes API: refused", "object", it.String(), "err", why)
	ns := it.namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: it.name + ".", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{APIVersion: it.kind.apiVersion(), Kind: it.kind.kind,
			Namespace: it.namespace, Name: it.name, UID: u.GetUID(), ResourceVersion: u.GetResourceVersion()},
		Type: corev1.EventTypeWarning, Reason: "Refused", Message: truncate(why.Error(), 1024),
		Source:         corev1.EventSource{Component: "atoll"},
		FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1,
	}
	if _, err := c.core.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil && ctx.Err() == nil {
		c.cfg.Log.Warn("kubernetes API: recording a refusal", "object", it.String(), "err", err)
	}
	return nil
}

func (c *Controller) ensureNamespace(ctx context.Context, ns string) error {
	_, err := c.core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	return nil
}

func (c *Controller) remember(it item, m Memo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.memo[it] = m
	delete(c.refused, it)
}

func (c *Controller) forget(it item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.memo, it)
	delete(c.refused, it)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// GVRs lists the resources the controller syncs, for RBAC and tests.
func GVRs() []schema.GroupVersionResource {
	out := make([]schema.GroupVersionResource, len(kinds))
	for i, k := range kinds {
		out[i] = k.gvr
	}
	return out
}
