package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/cache"
)

// Prune deletes the objects Atoll created (prunable) that keep does not list, and
// returns their keys; with keep nil, every one of them (unjoin, a site removed from the
// charter). Objects without Atoll's label and annotation are never touched.
//
// Which resources it lists: the first Prune of an Applier, and then the first after
// each resync period, sweeps every resource the cluster serves that can be
// listed and deleted (discovery; subresources and Namespaces excluded), so that what an
// earlier process or release created is found after a restart or at unjoin, whatever its
// kind. The other calls read only the resources Atoll has applied since the Applier was
// made, from their informers' caches (with keep nil, from the API server): a pass costs no
// request for them, and never one per kind the cluster serves (about 40 in a bare
// cluster, hundreds with CRDs). A resource that only the sweep lists
// and that cannot be listed (forbidden to the site, an aggregated API that is down) is
// skipped and logged, and swept again at the next resync; a resource Atoll applied that
// cannot be listed, or an object that cannot be deleted, is an error once the rest is
// done, and the sweep is repeated on the next call.
func (a *Applier) Prune(ctx context.Context, keep map[string]bool) ([]string, error) {
	a.informers.Lock()
	seen := maps.Clone(a.seen)
	a.informers.Unlock()
	applied := func(gvr schema.GroupVersionResource) bool { _, ok := seen[gvr]; return ok }
	resources := slices.Collect(maps.Keys(seen))
	sweep := a.lastSweep.IsZero() || time.Since(a.lastSweep) >= a.resync
	if sweep {
		found, err := a.discover()
		if err != nil {
			return nil, fmt.Errorf("discover the resources to prune: %w", err)
		}
		for _, gvr := range found {
			if !applied(gvr) {
				resources = append(resources, gvr)
			}
		}
	}
	slices.SortFunc(resources, func(x, y schema.GroupVersionResource) int {
		return cmp.Or(cmp.Compare(x.Group, y.Group), cmp.Compare(x.Resource, y.Resource), cmp.Compare(x.Version, y.Version))
	})
	var deleted []string
	var errs []error
	for _, gvr := range resources {
		if gvr == namespaces {
			continue // never pruned, whoever labelled them
		}
		l := seen[gvr]
		if keep == nil {
			l = nil // removing everything: ask the API server, not a cache a moment behind
		}
		list, err := a.list(ctx, gvr, l)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return deleted, ctx.Err()
		case applied(gvr):
			errs = append(errs, fmt.Errorf("list %s: %w", resourceName(gvr), err))
			continue
		default:
			level := slog.LevelWarn
			if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
				level = slog.LevelDebug // not the site's to read, or gone since discovery
			}
			a.log.Log(ctx, level, "prune: resource skipped, swept again at the next resync", "resource", resourceName(gvr), "err", err)
			continue
		}
		for i := range list.Items {
			it := &list.Items[i]
			key := ObjectKey(gvr, it.GetNamespace(), it.GetName())
			if keep[key] || !prunable(it) {
				continue
			}
			a.forget(key)
			err := a.dyn.Resource(gvr).Namespace(it.GetNamespace()).Delete(ctx, it.GetName(),
				metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationBackground)})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				errs = append(errs, fmt.Errorf("delete %s: %w", key, err))
			default:
				deleted = append(deleted, key)
			}
		}
	}
	if sweep && len(errs) == 0 {
		a.lastSweep = time.Now()
	}
	return deleted, errors.Join(errs...)
}

// list returns Atoll's objects of gvr: from l, the informer's cache of a resource Atoll
// applied (a pass costs no request), else listed from the API server. A cache a moment
// behind is safe for pruning: an object it lacks was created since, by this pass or a
// later one, and one it still holds after its deletion is not found again.
func (a *Applier) list(ctx context.Context, gvr schema.GroupVersionResource, l cache.GenericLister) (*unstructured.UnstructuredList, error) {
	if l == nil {
		return a.dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: LabelManaged + "=atoll"})
	}
	objs, err := l.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := &unstructured.UnstructuredList{Items: make([]unstructured.Unstructured, 0, len(objs))}
	for _, o := range objs {
		if u, ok := o.(*unstructured.Unstructured); ok {
			out.Items = append(out.Items, *u)
		}
	}
	return out, nil
}

// prunable reports whether Prune may delete u, listed by Atoll's label: Atoll rendered it
// (the label of a workload, "<namespace>.<name>", and Atoll's annotation), it has no
// owner (Atoll never sets ownerReferences; the Pods, ReplicaSets and EndpointSlices that
// controllers make from Atoll's objects copy their labels and have one; Endpoints copy a
// Service's labels but not its annotations), and it is not already going.
func prunable(u *unstructured.Unstructured) bool {
	return u.GetLabels()[LabelManaged] == "atoll" && strings.Contains(u.GetLabels()[LabelWorkload], ".") &&
		u.GetAnnotations()[AnnotationRendered] != "" && len(u.GetOwnerReferences()) == 0 && u.GetDeletionTimestamp() == nil
}

// discover returns the resources a sweep lists (pruneResources), from discovery read
// again for every sweep after the first (a CRD installed since, or removed). Groups that
// fail discovery (an aggregated API that is down) are logged and left out.
func (a *Applier) discover() ([]schema.GroupVersionResource, error) {
	if !a.lastSweep.IsZero() {
		a.disco.Invalidate()
	}
	lists, err := discovery.ServerPreferredResources(a.disco)
	if err != nil {
		failed, ok := errors.AsType[*discovery.ErrGroupDiscoveryFailed](err)
		if !ok {
			return nil, err
		}
		for gv, err := range failed.Groups {
			a.log.Warn("prune: API group not discovered, swept again at the next resync", "group", gv.String(), "err", err)
		}
	}
	return pruneResources(lists), nil
}

// pruneResources returns the resources of lists (discovery's resources, namespaced and
// cluster-scoped: cluster-scoped templates) that can hold objects Atoll created and be
// pruned: those that support list and delete, not subresources ("deployments/scale")
// and not Namespaces, which are never pruned (what lives in them would go too).
func pruneResources(lists []*metav1.APIResourceList) []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			gvr := gv.WithResource(r.Name)
			if strings.Contains(r.Name, "/") || gvr == namespaces ||
				!slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			out = append(out, gvr)
		}
	}
	return out
}

// resourceName names a resource as kubectl does: deployments.apps, services.
func resourceName(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group
}
