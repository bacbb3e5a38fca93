package fedsync

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RBAC from the charter. The site fronts the API server and names each caller by its
// charter identity (site kubeproxy.go); these roles and bindings, kept equal to the
// charter, say what each may do: an operator edits the templates and policies of its
// namespaces (all of them, and the cluster-scoped policies, with "*"), and the
// cluster-scoped templates if granted cluster scope; observers, admins and sites read
// everything. Whatever RBAC allows, what the site's API stores is still
// bounded by its own operator's grant (Store.Write).

// Grant is what one operator may do in the API server.
type Grant struct {
	User       string   // its user name there (site.KubeUser)
	Namespaces []string // granted namespaces; "*" for all
	// ClusterScope: cluster-scoped templates (CRDs, PriorityClasses, StorageClasses),
	// granted when the charter grants both this operator and the site API's cluster scope.
	ClusterScope bool
}

// GrantStore is the Store of a controller that keeps RBAC equal to the charter.
type GrantStore interface {
	Grants() []Grant
	// ReaderGroups are the groups of the identities that read everything.
	ReaderGroups() []string
}

// rbacLabel marks the roles and bindings the controller owns.
const rbacLabel = "atoll.io/rbac"

// The ClusterRoles the controller writes.
const (
	roleEdit        = "atoll:edit"              // the namespaced kinds, every verb
	roleView        = "atoll:view"              // every synced kind and namespaces, read
	roleClusterEdit = "atoll:cluster-edit"      // the cluster-scoped policies and namespaces, every verb
	roleClusterView = "atoll:cluster-view"      // the cluster-scoped policies and namespaces, read
	roleClusterTmpl = "atoll:cluster-templates" // the cluster-scoped templates, every verb
)

var (
	readVerbs = []string{"get", "list", "watch"}
	allVerbs  = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
)

// clusterRoles are the rules of the controller's ClusterRoles over the kinds synced.
func clusterRoles(synced []kind) map[string][]rbacv1.PolicyRule {
	var ns, cl, tmpl []rbacv1.PolicyRule
	for _, k := range synced {
		r := rbacv1.PolicyRule{APIGroups: []string{k.gvr.Group}, Resources: []string{k.gvr.Resource, k.gvr.Resource + "/status"}}
		if k.kind == "Deployment" || k.kind == "StatefulSet" {
			r.Resources = append(r.Resources, k.gvr.Resource+"/scale")
		}
		switch {
		case k.namespaced:
			ns = append(ns, r)
		case k.policy:
			cl = append(cl, r)
		default:
			tmpl = append(tmpl, r)
		}
	}
	events := rbacv1.PolicyRule{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: readVerbs}
	// Read-only for everyone who reads templates: their ResourceBindings (binding.go), and
	// what a workload's controllers would make, always empty here, where no controller
	// runs, but which health checks (Flux's kstatus, Argo CD) list for each Deployment or
	// StatefulSet and fail on a 403.
	generated := []rbacv1.PolicyRule{
		{APIGroups: []string{bindingGVR.Group}, Resources: []string{bindingGVR.Resource}, Verbs: readVerbs},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: readVerbs},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets", "controllerrevisions"}, Verbs: readVerbs},
	}
	namespaces := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}}
	with := func(rs []rbacv1.PolicyRule, verbs []string, extra ...rbacv1.PolicyRule) []rbacv1.PolicyRule {
		out := make([]rbacv1.PolicyRule, 0, len(rs)+len(extra))
		for _, r := range rs {
			r.Verbs = verbs
			out = append(out, r)
		}
		return append(out, extra...)
	}
	nsRead, nsAll := namespaces, namespaces
	nsRead.Verbs, nsAll.Verbs = readVerbs, allVerbs
	return map[string][]rbacv1.PolicyRule{
		roleEdit:        with(ns, allVerbs, append(generated, events)...),
		roleView:        with(withoutSecrets(slices.Concat(ns, cl, tmpl)), readVerbs, append(generated, events, nsRead)...),
		roleClusterEdit: with(cl, allVerbs, nsAll),
		roleClusterView: with(withoutSecrets(slices.Concat(cl, tmpl)), readVerbs, nsRead),
		roleClusterTmpl: with(tmpl, allVerbs),
	}
}

// withoutSecrets leaves out what may hold a Secret's values: Secrets, and the override
// policies, whose overriders may set them in plaintext. Readers (and operators, outside
// their namespaces) get those from the read API, which redacts them, as Kubernetes' own
// view role leaves Secrets out.
func withoutSecrets(rs []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	return slices.DeleteFunc(slices.Clone(rs), func(r rbacv1.PolicyRule) bool {
		return slices.ContainsFunc(r.Resources, func(res string) bool {
			return res == "secrets" || res == "overridepolicies" || res == "clusteroverridepolicies"
		})
	})
}

// bindingName is the name of a binding of user to role: a DNS subdomain.
func bindingName(user, role string) string {
	r := strings.NewReplacer(":", ".", "_", "-")
	return strings.ToLower(r.Replace(user + "." + strings.TrimPrefix(role, "atoll:")))
}

// syncGrants makes the API server's RBAC equal to the charter's grants.
func (c *Controller) syncGrants(ctx context.Context, gs GrantStore) error {
	rbac := c.core.RbacV1()
	meta := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{rbacLabel: "charter"}}
	}
	var errs []error
	for name, rules := range clusterRoles(c.synced()) {
		want := &rbacv1.ClusterRole{ObjectMeta: meta(name, ""), Rules: rules}
		cur, err := rbac.ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = rbac.ClusterRoles().Create(ctx, want, metav1.CreateOptions{})
		case err == nil && !reflect.DeepEqual(cur.Rules, rules):
			cur.Rules = rules
			_, err = rbac.ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{})
		}
		errs = append(errs, err)
	}
	// The bindings the charter asks for: cluster-wide, and per namespace.
	crbs := map[string]*rbacv1.ClusterRoleBinding{}
	rbs := map[string]*rbacv1.RoleBinding{} // by "<ns>/<name>"
	groups := []rbacv1.Subject{}
	for _, g := range gs.ReaderGroups() {
		groups = append(groups, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
	}
	crb := func(name, role string, subjects []rbacv1.Subject) {
		crbs[name] = &rbacv1.ClusterRoleBinding{ObjectMeta: meta(name, ""), Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}
	}
	crb("atoll.readers", roleView, groups)
	for _, g := range gs.Grants() {
		user := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: g.User}}
		if g.ClusterScope {
			crb(bindingName(g.User, roleClusterTmpl), roleClusterTmpl, user)
		}
		if slices.Contains(g.Namespaces, "*") {
			crb(bindingName(g.User, roleEdit), roleEdit, user)
			crb(bindingName(g.User, roleClusterEdit), roleClusterEdit, user)
			continue
		}
		crb(bindingName(g.User, roleClusterView), roleClusterView, user)
		for _, ns := range g.Namespaces {
			if err := c.ensureNamespace(ctx, ns); err != nil {
				errs = append(errs, err)
				continue
			}
			name := bindingName(g.User, roleEdit)
			rbs[ns+"/"+name] = &rbacv1.RoleBinding{ObjectMeta: meta(name, ns), Subjects: user,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleEdit}}
		}
	}
	sel := metav1.ListOptions{LabelSelector: rbacLabel + "=charter"}
	haveC, err := rbac.ClusterRoleBindings().List(ctx, sel)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, cur := range haveC.Items {
		want, ok := crbs[cur.Name]
		switch {
		case !ok:
			errs = append(errs, ignoreNotFound(rbac.ClusterRoleBindings().Delete(ctx, cur.Name, metav1.DeleteOptions{})))
		case !reflect.DeepEqual(cur.Subjects, want.Subjects) || cur.RoleRef != want.RoleRef:
			errs = append(errs, ignoreNotFound(rbac.ClusterRoleBindings().Delete(ctx, cur.Name, metav1.DeleteOptions{}))) // a roleRef cannot change
		default:
			delete(crbs, cur.Name)
		}
	}
	for _, want := range crbs {
		_, err := rbac.ClusterRoleBindings().Create(ctx, want, metav1.CreateOptions{})
		errs = append(errs, err)
	}
	haveR, err := rbac.RoleBindings("").List(ctx, sel)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, cur := range haveR.Items {
		want, ok := rbs[cur.Namespace+"/"+cur.Name]
		if !ok || !reflect.DeepEqual(cur.Subjects, want.Subjects) || cur.RoleRef != want.RoleRef {
			errs = append(errs, ignoreNotFound(rbac.RoleBindings(cur.Namespace).Delete(ctx, cur.Name, metav1.DeleteOptions{})))
			continue
		}
		delete(rbs, cur.Namespace+"/"+cur.Name)
	}
	for _, want := range rbs {
		_, err := rbac.RoleBindings(want.Namespace).Create(ctx, want, metav1.CreateOptions{})
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("RBAC from the charter: %w", err)
	}
	return nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
