package kube

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// An Applier remembers which of Atoll's objects the cluster's controllers changed the
// status of since the last Changed, so that a site can report a Deployment becoming
// ready when it does, not at its next pass. The memory is bounded by the objects the
// informers watch, those carrying Atoll's label (one entry per object), and the hook is
// only a wake-up: it never blocks an informer.

// It also notes drift: an object Atoll applied that someone else deleted, or whose
// spec someone else changed (its generation moved past the one Atoll's own last write
// left), and a HorizontalPodAutoscaler that came, went or changed its spec. Each wakes
// the OnDrift hook, so that the site's next pass restores the object, or hands
// spec.replicas over, within moments instead of at its resync. Edits to kinds without a
// generation (a ConfigMap, a Service) are undone at the resync (Resync), as before.

// OnStatus sets fn, called (from an informer's goroutine; it must not block) after an
// object Atoll applied changed its status. Set it before the first Apply.
func (a *Applier) OnStatus(fn func()) {
	a.statusMu.Lock()
	defer a.statusMu.Unlock()
	a.onStatus = fn
}

// OnDrift sets fn, called (from an informer's goroutine; it must not block) after the
// cluster drifted from what Atoll applied (see above). The object's next Apply writes it
// again. Set it before the first Apply.
func (a *Applier) OnDrift(fn func()) {
	a.statusMu.Lock()
	defer a.statusMu.Unlock()
	a.onDrift = fn
}

// Changed returns, and forgets, the objects whose status changed since the last call,
// by ObjectKey, each as the informer's cache holds it now (an object deleted meanwhile
// is left out): never older than what a pass read before.
func (a *Applier) Changed() map[string]*unstructured.Unstructured {
	a.statusMu.Lock()
	changed := a.changed
	a.changed = nil
	a.statusMu.Unlock()
	if len(changed) == 0 {
		return nil
	}
	a.informers.Lock()
	defer a.informers.Unlock()
	out := make(map[string]*unstructured.Unstructured, len(changed))
	for key, r := range changed {
		l := a.seen[r.gvr]
		if l == nil {
			continue
		}
		var obj any
		var err error
		if r.ns != "" {
			obj, err = l.ByNamespace(r.ns).Get(r.name)
		} else {
			obj, err = l.Get(r.name)
		}
		if u, ok := obj.(*unstructured.Unstructured); err == nil && ok {
			out[key] = u
		}
	}
	return out
}

// objectRef names an object of a resource.
type objectRef struct {
	gvr      schema.GroupVersionResource
	ns, name string
}

// watch adds to an informer of gvr the handler that notes status changes and drift.
func (a *Applier) watch(gvr schema.GroupVersionResource, inf cache.SharedIndexInformer) error {
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(*unstructured.Unstructured)
			cur, ok2 := newObj.(*unstructured.Unstructured)
			if !ok1 || !ok2 {
				return
			}
			key := ObjectKey(gvr, cur.GetNamespace(), cur.GetName())
			if old.GetGeneration() != cur.GetGeneration() && a.edited(key, cur.GetGeneration()) {
				a.drifted()
			}
			if reflect.DeepEqual(old.Object["status"], cur.Object["status"]) {
				return
			}
			a.statusMu.Lock()
			if a.changed == nil {
				a.changed = map[string]objectRef{}
			}
			a.changed[key] = objectRef{gvr, cur.GetNamespace(), cur.GetName()}
			fn := a.onStatus
			a.statusMu.Unlock()
			if fn != nil {
				fn()
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			u, ok := obj.(*unstructured.Unstructured)
			if ok && a.gone(ObjectKey(gvr, u.GetNamespace(), u.GetName())) {
				a.drifted()
			}
		},
	})
	return err
}

// wrote notes the generation of an object as Atoll's own write left it; with first, only
// if Atoll has not written it since the Applier was made (the object as a pass found
// it).
func (a *Applier) wrote(key string, generation int64, first bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.written[key]; !ok || !first {
		a.written[key] = generation
	}
}

// begin notes that Apply is at work on an object: the generations the informer delivers
// meanwhile are weighed once it is done (settle), against the one its write left.
func (a *Applier) begin(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.writing[key] = 0
}

// settle ends begin: a generation delivered meanwhile beyond what Apply's write left is
// someone else's edit after it.
func (a *Applier) settle(key string) {
	a.mu.Lock()
	seen := a.writing[key]
	delete(a.writing, key)
	g, ok := a.written[key]
	drift := ok && seen > g
	if drift {
		delete(a.forced, key)
	}
	a.mu.Unlock()
	if drift {
		a.drifted()
	}
}

// edited reports whether an object's new generation is not Atoll's own write, and if
// so has its next Apply write it again. While Apply is at work on the object, it is
// only noted (settle decides).
func (a *Applier) edited(key string, generation int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if seen, ok := a.writing[key]; ok {
		a.writing[key] = max(seen, generation)
		return false
	}
	g, ok := a.written[key]
	if !ok || generation <= g {
		return false
	}
	delete(a.forced, key)
	return true
}

// gone forgets a deleted object, and reports whether Atoll still meant it to be there
// (Prune forgets the objects it deletes first).
func (a *Applier) gone(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.written[key]
	delete(a.written, key)
	delete(a.forced, key)
	return ok
}

// forget is Prune's, before it deletes an object: its deletion is not drift.
func (a *Applier) forget(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.written, key)
}

// drifted calls the OnDrift hook.
func (a *Applier) drifted() {
	a.statusMu.Lock()
	fn := a.onDrift
	a.statusMu.Unlock()
	if fn != nil {
		fn()
	}
}

// watchAutoscalers wakes the OnDrift hook when a HorizontalPodAutoscaler comes, goes or
// changes its spec: who owns spec.replicas of its target may have changed.
func (a *Applier) watchAutoscalers(inf cache.SharedIndexInformer) error {
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(_ any, initial bool) {
			if !initial { // the first list is what the first Apply reads anyway
				a.drifted()
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(metav1.Object)
			cur, ok2 := newObj.(metav1.Object)
			if ok1 && ok2 && old.GetGeneration() != cur.GetGeneration() {
				a.drifted()
			}
		},
		DeleteFunc: func(any) { a.drifted() },
	})
	return err
}
