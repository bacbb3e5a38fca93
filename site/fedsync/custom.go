package fedsync

import (
	"context"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Custom resources. A CRD in the API server (written there by an operator granted cluster
// scope, or projected from the state) makes its kind served there, as in Karmada's API
// server. Once the CRD is Established, the controller syncs that kind as it syncs the
// built-in ones: its objects are templates, stored through package apply and policy like
// any other (the sites then place them after their CRD, and interpret them as a stored
// customization says), and RBAC gives operators the kind in their namespaces (or, if it
// is cluster-scoped, to those granted cluster scope). A kind is synced at the version the
// CRD stores; a CRD removed leaves its kind's informer running, with nothing to list,
// until the controller restarts. At most MaxCustomKinds kinds are synced, so that who
// may write CRDs cannot make the controller run an informer per CRD without bound.

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
	gk := schema.GroupKind{Group: k.gvr.Group, Kind: k.kind}
	c.mu.Lock()
	_, known := c.custom[gk]
	full := len(c.custom) >= MaxCustomKinds
	if !known && !full {
		c.custom[gk] = k
	}
	c.mu.Unlock()
	switch {
	case known:
		return
	case full:
		c.cfg.Log.Warn("kubernetes API: custom kind not synced: the controller syncs at most MaxCustomKinds", "kind", gk.String(), "max", MaxCustomKinds)
		return
	}
	if err := c.watch(ctx, k); err != nil {
		c.cfg.Log.Warn("kubernetes API: watching a custom kind", "kind", gk.String(), "err", err)
		return
	}
	c.factory.Start(ctx.Done())
	c.cfg.Log.Info("kubernetes API: syncing a custom kind", "kind", gk.String(), "version", k.gvr.Version, "namespaced", k.namespaced)
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
