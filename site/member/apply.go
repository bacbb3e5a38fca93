package member

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Applier applies rendered objects to one member cluster with server-side apply (field
// manager "atoll") and prunes what Atoll created there and no longer wants.
type Applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	// seen are the resources Atoll has applied in this cluster: pruning lists them.
	seen map[schema.GroupVersionResource]bool
}

// pruned are the resources always searched for Atoll's objects, even after a restart.
var pruned = []schema.GroupVersionResource{
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Version: "v1", Resource: "statefulsets"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"},
}

// NewApplier returns an applier for a cluster.
func NewApplier(cfg *rest.Config) (*Applier, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	a := &Applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), seen: map[schema.GroupVersionResource]bool{}}
	for _, g := range pruned {
		a.seen[g] = true
	}
	return a, nil
}

// ObjectKey names an applied object: resource, namespace, name.
func ObjectKey(gvr schema.GroupVersionResource, ns, name string) string {
	return gvr.Resource + "." + gvr.Group + "/" + ns + "/" + name
}

func (a *Applier) resource(u *unstructured.Unstructured) (dynamic.ResourceInterface, schema.GroupVersionResource, error) {
	gvk := u.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		a.mapper.Reset() // a CRD installed since the last discovery
		if m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, schema.GroupVersionResource{}, fmt.Errorf("%s: %w", gvk, err)
		}
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.dyn.Resource(m.Resource).Namespace(u.GetNamespace()), m.Resource, nil
	}
	return a.dyn.Resource(m.Resource), m.Resource, nil
}

// Apply applies u unless the cluster already holds it as rendered (same
// AnnotationRendered); it returns the object as the cluster holds it, status included,
// and the object's key.
func (a *Applier) Apply(ctx context.Context, u *unstructured.Unstructured) (*unstructured.Unstructured, string, error) {
	ri, gvr, err := a.resource(u)
	if err != nil {
		return nil, "", err
	}
	a.seen[gvr] = true
	key := ObjectKey(gvr, u.GetNamespace(), u.GetName())
	cur, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	switch {
	case err == nil && cur.GetAnnotations()[AnnotationRendered] == u.GetAnnotations()[AnnotationRendered]:
		return cur, key, nil
	case err == nil && cur.GetLabels()[LabelManaged] != "atoll":
		return nil, key, fmt.Errorf("%s exists and was not created by Atoll; leaving it alone", key)
	case err != nil && !apierrors.IsNotFound(err):
		return nil, key, err
	}
	out, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return nil, key, fmt.Errorf("apply %s: %w", key, err)
	}
	return out, key, nil
}

// EnsureNamespace creates a namespace, labelled as Atoll's, if it does not exist. Atoll
// never deletes namespaces: other objects may live in them.
func (a *Applier) EnsureNamespace(ctx context.Context, ns string) error {
	ri := a.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	if _, err := ri.Get(ctx, ns, metav1.GetOptions{}); err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": ns, "labels": map[string]any{LabelManaged: "atoll"}}}}
	_, err := ri.Apply(ctx, ns, u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	return err
}

// Prune deletes the objects labelled as Atoll's that keep does not list, and returns
// their keys. Objects without Atoll's label are never touched.
func (a *Applier) Prune(ctx context.Context, keep map[string]bool) ([]string, error) {
	var deleted []string
	for gvr := range a.seen {
		list, err := a.dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: LabelManaged + "=atoll"})
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return deleted, fmt.Errorf("list %s: %w", gvr.Resource, err)
		}
		for _, it := range list.Items {
			key := ObjectKey(gvr, it.GetNamespace(), it.GetName())
			if keep[key] || !strings.Contains(it.GetLabels()[LabelWorkload], ".") {
				continue
			}
			err := a.dyn.Resource(gvr).Namespace(it.GetNamespace()).Delete(ctx, it.GetName(), metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return deleted, fmt.Errorf("delete %s: %w", key, err)
			}
			deleted = append(deleted, key)
		}
	}
	return deleted, nil
}
