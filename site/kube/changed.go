package kube

import (
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// An Applier remembers which of Atoll's objects the cluster's controllers changed the
// status of since the last Changed, so that a site can report a Deployment becoming
// ready when it does, not at its next pass. The memory is bounded by the objects the
// informers watch, those carrying Atoll's label (one entry per object), and the hook is
// only a wake-up: it never blocks an informer.

// OnStatus sets fn, called (from an informer's goroutine; it must not block) after an
// object Atoll applied changed its status. Set it before the first Apply.
func (a *Applier) OnStatus(fn func()) {
	a.statusMu.Lock()
	defer a.statusMu.Unlock()
	a.onStatus = fn
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

// watchStatus adds to an informer of gvr the handler that notes status changes.
func (a *Applier) watchStatus(gvr schema.GroupVersionResource, inf cache.SharedIndexInformer) error {
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(*unstructured.Unstructured)
			cur, ok2 := newObj.(*unstructured.Unstructured)
			if !ok1 || !ok2 || reflect.DeepEqual(old.Object["status"], cur.Object["status"]) {
				return
			}
			a.statusMu.Lock()
			if a.changed == nil {
				a.changed = map[string]objectRef{}
			}
			a.changed[ObjectKey(gvr, cur.GetNamespace(), cur.GetName())] = objectRef{gvr, cur.GetNamespace(), cur.GetName()}
			fn := a.onStatus
			a.statusMu.Unlock()
			if fn != nil {
				fn()
			}
		},
	})
	return err
}
