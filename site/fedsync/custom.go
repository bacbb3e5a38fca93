package fedsync

import (
	"context"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// Custom resources. A CRD in the API server (written there by an operator granted cluster
// scope, or projected from the state) makes its kind served there, as in Karmada's API
// server. Once the CRD is Established, the controller syncs that kind as it syncs the
// built-in ones: its objects are templates, stored through package apply and policy like
// any other (the sites then place them after their CRD, and interpret them as a stored
// customization says), and RBAC gives operators the kind in their namespaces (or, if it
// is cluster-scoped, to those granted cluster scope). A kind is synced at the version the
// CRD stores, by an informer of its own, which ends when the CRD is deleted (its objects
// went with it; the API server deleted them first). At most MaxCustomKinds kinds are
// synced at once, so that who may write CRDs cannot make the controller run an informer
// per CRD without bound.

// MaxCustomKinds bounds the custom kinds one controller syncs.
const MaxCustomKinds = 64

// crdKind reads the kind a CRD serves, if it is Established and not the API server's own:
// its group, the version it stores (served), its plural and its scope.
func crdKind(u *unstructured.Unstructured) (kind, bool) {
	if (item{kind: kind{kind: "CustomResourceDefinition"}, name: u.GetName()}).system() || u.GetDeletionTimestamp() != nil {
		return kind{}, false
	}
	established := false
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, x := range conds {
		if m, ok := x.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			established = true
		}
	}
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
	scope, _, _ := unstructured.NestedString(u.Object, "spec", "scope")
	if !established || group == "" || name == "" || plural == "" || strings.HasSuffix(group, "k8s.io") || group == "kubernetes.io" {
		return kind{}, false
	}
	versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
	for _, x := range versions {
		m, ok := x.(map[string]any)
		if !ok || m["storage"] != true || m["served"] != true {
			continue
		}
		v, _ := m["name"].(string)
		if v == "" {
			return kind{}, false
		}
		return kind{gvr: schema.GroupVersionResource{Group: group, Version: v, Resource: plural}, kind: name, namespaced: scope == "Namespaced"}, true
	}
	return kind{}, false
}

// crdSeen starts syncing the kind of an established CRD, once per group and kind.
func (c *Controller) crdSeen(ctx context.Context, u *unstructured.Unstructured) {
	k, ok := crdKind(u)
	if !ok {
		return
	}
	if _, builtin := kindOf(k.apiVersion(), k.kind); builtin {
		return
	}
	// The CRD informer's handler is the only caller, one event at a time: nothing else
	// registers a kind between the check and the registration below.
	gk := schema.GroupKind{Group: k.gvr.Group, Kind: k.kind}
	c.mu.Lock()
	_, known := c.custom[gk]
	full := len(c.custom) >= MaxCustomKinds
	c.mu.Unlock()
	switch {
	case known:
		return
	case full:
		c.cfg.Log.Warn("kubernetes API: custom kind not synced: the controller syncs at most MaxCustomKinds", "kind", gk.String(), "max", MaxCustomKinds)
		return
	}
	inf := dynamicinformer.NewFilteredDynamicInformer(c.dyn, k.gvr, metav1.NamespaceAll, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}, nil)
	if err := c.handle(ctx, k, inf.Informer()); err != nil {
		c.cfg.Log.Warn("kubernetes API: watching a custom kind", "kind", gk.String(), "err", err)
		return
	}
	kctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	c.listers[k.gvr] = inf.Lister() // first: a kind in custom has a lister
	c.custom[gk], c.stop[gk] = k, cancel
	c.mu.Unlock()
	c.custInf.Go(func() { inf.Informer().Run(kctx.Done()) })
	c.cfg.Log.Info("kubernetes API: syncing a custom kind", "kind", gk.String(), "version", k.gvr.Version, "namespaced", k.namespaced)
	select {
	case c.kindsChanged <- struct{}{}:
	default:
	}
}

// crdGone stops syncing the kind of a deleted CRD.
func (c *Controller) crdGone(u *unstructured.Unstructured) {
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	gk := schema.GroupKind{Group: group, Kind: name}
	c.mu.Lock()
	k, known := c.custom[gk]
	if known {
		c.stop[gk]()
		delete(c.custom, gk)
		delete(c.stop, gk)
		delete(c.listers, k.gvr)
	}
	c.mu.Unlock()
	if !known {
		return
	}
	c.cfg.Log.Info("kubernetes API: no longer syncing a custom kind: its CRD is gone", "kind", gk.String())
	select {
	case c.kindsChanged <- struct{}{}:
	default:
	}
}

// customKind finds a custom kind synced, by apiVersion and kind.
func (c *Controller) customKind(apiVersion, k string) (kind, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.custom {
		if x.kind == k && x.apiVersion() == apiVersion {
			return x, true
		}
	}
	return kind{}, false
}

// synced lists every kind synced: the built-in ones, then the custom ones by group and kind.
func (c *Controller) synced() []kind {
	c.mu.Lock()
	custom := make([]kind, 0, len(c.custom))
	for _, k := range c.custom {
		custom = append(custom, k)
	}
	c.mu.Unlock()
	slices.SortFunc(custom, func(a, b kind) int {
		return strings.Compare(a.gvr.Group+"/"+a.kind, b.gvr.Group+"/"+b.kind)
	})
	return append(slices.Clone(kinds), custom...)
}
