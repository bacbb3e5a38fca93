package kube

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// Admission is a site's own policy for what a workload may make its member clusters run.
// It is site configuration (site.yaml `admission:`), never part of the replicated state:
// no signed change can widen it. A site checks every rendered object against it, and
// against the rules that hold whatever the configuration (Admit), before it applies.
type Admission struct {
	// Kinds are the kinds a workload may be, as "Kind" (core group) or "group/Kind"
	// ("apps/Deployment"); "*" allows every namespaced kind. Default DefaultKinds.
	// Cluster-scoped kinds and Namespaces are refused whatever this says.
	Kinds []string `json:"kinds,omitempty"`
	// PodSecurity is the Pod Security Standard level every pod template must meet:
	// "privileged", "baseline" (default) or "restricted".
	PodSecurity string `json:"podSecurity,omitempty"`
	// Namespaces sets another level for some namespaces (namespace -> level).
	Namespaces map[string]string `json:"namespaces,omitempty"`
	// ClusterKinds are the cluster-scoped kinds a cluster-scoped template may be, as
	// "Kind" or "group/Kind" ("Namespace", "apiextensions.k8s.io/CustomResourceDefinition",
	// "rbac.authorization.k8s.io/ClusterRole"). Default none: a site runs cluster-scoped
	// templates only where its own configuration says which, whatever the charter grants
	// (a ClusterRoleBinding can give its subjects the whole cluster).
	ClusterKinds []string `json:"clusterKinds,omitempty"`
	// Adopt lets a workload whose policy says conflictResolution: Overwrite take over an
	// object of its name that Atoll did not create in a member cluster (moving in from
	// Karmada, say). Default false: such an object is left alone and the refusal
	// recorded, as with Abort.
	Adopt bool `json:"adopt,omitempty"`
}

// DefaultKinds are the kinds a site runs unless its configuration says otherwise: what an
// application team ships into its own namespace. RBAC kinds are left out: binding roles
// needs Atoll to hold the bind verb in the member cluster (docs/DEPLOY.md).
var DefaultKinds = []string{
	"apps/Deployment", "apps/StatefulSet", "apps/ReplicaSet", "apps/DaemonSet",
	"batch/Job", "batch/CronJob",
	"Service", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim",
	"networking.k8s.io/Ingress", "networking.k8s.io/NetworkPolicy",
	"autoscaling/HorizontalPodAutoscaler", "policy/PodDisruptionBudget",
}

// DefaultPodSecurity is the Pod Security Standard level of a site that names none.
const DefaultPodSecurity = "baseline"

// Validate reports the first invalid field; it changes nothing.
func (a Admission) Validate() error {
	for _, k := range a.Kinds {
		g, kind, ok := strings.Cut(k, "/")
		if !ok {
			kind, g = g, ""
		}
		if k != "*" && (kind == "" || strings.ContainsAny(kind, "/ ") || strings.Contains(g, " ")) {
			return fmt.Errorf("admission.kinds: %q: want Kind, group/Kind or *", k)
		}
	}
	for _, k := range a.ClusterKinds {
		g, kind, ok := strings.Cut(k, "/")
		if !ok {
			kind, g = g, ""
		}
		if kind == "" || strings.ContainsAny(kind, "/ *") || strings.ContainsAny(g, " *") {
			return fmt.Errorf("admission.clusterKinds: %q: want Kind or group/Kind (no wildcard: name each one)", k)
		}
	}
	if a.PodSecurity != "" {
		if _, err := psaapi.ParseLevel(a.PodSecurity); err != nil {
			return fmt.Errorf("admission.podSecurity: %w", err)
		}
	}
	for ns, l := range a.Namespaces {
		if _, err := psaapi.ParseLevel(l); err != nil {
			return fmt.Errorf("admission.namespaces[%s]: %w", ns, err)
		}
	}
	return nil
}

// Refusal is an error for a workload a site will not run, whatever was signed: not a
// failure of the cluster, so it neither blocks the pass nor gets retried sooner.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "refused: " + r.Reason }

func refused(format string, args ...any) error { return &Refusal{Reason: fmt.Sprintf(format, args...)} }

// Waiting is an error for an object the cluster cannot take yet, though nothing is
// wrong with it: a custom resource whose CustomResourceDefinition is not established.
// The pass goes on, the reason goes into the workload's status, and the object is
// applied on a later pass.
type Waiting struct{ Reason string }

func (w *Waiting) Error() string { return "waiting: " + w.Reason }

// IsWaiting returns the Waiting inside err, if any.
func IsWaiting(err error) (*Waiting, bool) {
	var w *Waiting
	ok := errors.As(err, &w)
	return w, ok
}

// IsRefusal returns the refusal inside err, if any.
func IsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

// Admitter checks rendered objects against a site's Admission. Build it once
// (NewAdmitter); it is safe for concurrent use.
type Admitter struct {
	kinds    []string
	all      bool
	cluster  []string // Admission.ClusterKinds
	level    psaapi.Level
	byNS     map[string]psaapi.Level
	eval     psapolicy.Evaluator
	versions psaapi.Version
	adopt    bool // Admission.Adopt
	// checked remembers the Pod Security verdicts of rendered objects, by namespace,
	// level and AnnotationRendered (the object's content): a pass admits every object
	// every pass, and decoding each into its typed form was a tenth of an idle site's
	// CPU. Bounded by maxChecked; cleared when full.
	mu      sync.Mutex
	checked map[string]error
}

// maxChecked bounds Admitter.checked.
const maxChecked = 8192

// NewAdmitter returns the admitter of a validated Admission.
func NewAdmitter(a Admission) (*Admitter, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		return nil, fmt.Errorf("pod security: %w", err)
	}
	ad := &Admitter{kinds: a.Kinds, cluster: a.ClusterKinds, eval: eval, adopt: a.Adopt,
		versions: psaapi.LatestVersion(), byNS: map[string]psaapi.Level{}}
	if len(ad.kinds) == 0 {
		ad.kinds = DefaultKinds
	}
	ad.all = slices.Contains(ad.kinds, "*")
	ad.level, _ = psaapi.ParseLevel(a.PodSecurity)
	if a.PodSecurity == "" {
		ad.level = psaapi.Level(DefaultPodSecurity)
	}
	for ns, l := range a.Namespaces {
		ad.byNS[ns], _ = psaapi.ParseLevel(l)
	}
	return ad, nil
}

// Admit checks one rendered object of workload w. It enforces what holds whatever the
// site's configuration: the template is of the workload's kind, in the workload's
// namespace, not a Namespace, and sets no owner references (that no two workloads claim
// one object is the Applier's to check); then the site's allowed kinds and the Pod Security Standard of the
// namespace. Whether the kind is cluster-scoped is the member cluster's to say
// (Applier.Apply checks it with the cluster's RESTMapper).
func (ad *Admitter) Admit(w Workload, u *unstructured.Unstructured) error {
	kind, group := u.GetKind(), u.GroupVersionKind().Group
	if w.Kind != "" && (kind != w.Kind || w.APIVersion != "" && u.GetAPIVersion() != w.APIVersion) {
		return refused("the template is a %s %s, the workload a %s %s", u.GetAPIVersion(), kind, w.APIVersion, w.Kind)
	}
	if group == "" && kind == "Namespace" && !w.ClusterScoped() {
		return refused("a Namespace is never created, adopted or deleted through a namespaced workload")
	}
	if ns := u.GetNamespace(); ns != "" && ns != w.Namespace {
		if w.ClusterScoped() {
			return refused("the template of a cluster-scoped workload sets namespace %q", ns)
		}
		return refused("the template's namespace %q is not the workload's namespace %q", ns, w.Namespace)
	}
	if len(u.GetOwnerReferences()) > 0 {
		return refused("the template sets ownerReferences")
	}
	gk := kind
	if group != "" {
		gk = group + "/" + kind
	}
	if w.ClusterScoped() {
		// Cluster-scoped kinds carry no pod template; what they may do is the kind itself.
		if !slices.Contains(ad.cluster, gk) {
			return refused("cluster-scoped kind %s is not allowed at this site (admission.clusterKinds)", gk)
		}
		return nil
	}
	if !ad.all && !slices.Contains(ad.kinds, gk) {
		return refused("kind %s is not allowed at this site (admission.kinds)", gk)
	}
	if ann := u.GetAnnotations(); ann[AnnotationAdopt] != "" && !ad.adopt {
		delete(ann, AnnotationAdopt) // asked, not allowed here: an object Atoll did not create stays alone
		u.SetAnnotations(ann)
	}
	if kind == "Service" && group == "" {
		if ips, _, _ := unstructured.NestedSlice(u.Object, "spec", "externalIPs"); len(ips) > 0 {
			return refused("a Service with spec.externalIPs may intercept other tenants' traffic")
		}
	}
	return ad.podSecurity(w.Namespace, u)
}

// podTemplate returns the pod metadata and spec of the kinds that carry one (those Pod
// Security admission reads), decoded as the member cluster would; ok is false for others.
func podTemplate(u *unstructured.Unstructured) (meta *metav1.ObjectMeta, spec *corev1.PodSpec, ok bool, err error) {
	conv := func(obj any) error { return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj) }
	switch u.GroupVersionKind().Group + "/" + u.GetKind() {
	case "/Pod":
		var o corev1.Pod
		err = conv(&o)
		return &o.ObjectMeta, &o.Spec, true, err
	case "/ReplicationController":
		var o corev1.ReplicationController
		if err = conv(&o); err == nil && o.Spec.Template != nil {
			return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, nil
		}
		return nil, nil, true, err
	case "/PodTemplate":
		var o corev1.PodTemplate
		err = conv(&o)
		return &o.Template.ObjectMeta, &o.Template.Spec, true, err
	case "apps/Deployment":
		var o appsv1.Deployment
		err = conv(&o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, err
	case "apps/StatefulSet":
		var o appsv1.StatefulSet
		err = conv(&o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, err
	case "apps/ReplicaSet":
		var o appsv1.ReplicaSet
		err = conv(&o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, err
	case "apps/DaemonSet":
		var o appsv1.DaemonSet
		err = conv(&o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, err
	case "batch/Job":
		var o batchv1.Job
		err = conv(&o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, err
	case "batch/CronJob":
		var o batchv1.CronJob
		err = conv(&o)
		t := &o.Spec.JobTemplate.Spec.Template
		return &t.ObjectMeta, &t.Spec, true, err
	}
	return nil, nil, false, nil
}

// podSecurity evaluates the pod template of u, if it has one, at the namespace's level.
func (ad *Admitter) podSecurity(ns string, u *unstructured.Unstructured) error {
	level := ad.level
	if l, ok := ad.byNS[ns]; ok {
		level = l
	}
	if level == psaapi.LevelPrivileged {
		return nil
	}
	key := ""
	if sum := u.GetAnnotations()[AnnotationRendered]; sum != "" {
		key = ns + "\x00" + string(level) + "\x00" + sum
		ad.mu.Lock()
		verdict, ok := ad.checked[key]
		ad.mu.Unlock()
		if ok {
			return verdict
		}
	}
	verdict := ad.checkPod(level, u)
	if key != "" {
		ad.mu.Lock()
		if len(ad.checked) >= maxChecked || ad.checked == nil {
			ad.checked = map[string]error{}
		}
		ad.checked[key] = verdict
		ad.mu.Unlock()
	}
	return verdict
}

// checkPod evaluates the pod template of u, if it has one, at level.
func (ad *Admitter) checkPod(level psaapi.Level, u *unstructured.Unstructured) error {
	meta, spec, ok, err := podTemplate(u)
	if !ok {
		return nil
	}
	if err != nil {
		return refused("the %s does not decode: %v", u.GetKind(), err)
	}
	if spec == nil {
		return refused("no pod template in the %s", u.GetKind())
	}
	res := psapolicy.AggregateCheckResults(ad.eval.EvaluatePod(psaapi.LevelVersion{Level: level, Version: ad.versions}, meta, spec))
	if !res.Allowed {
		return refused("violates PodSecurity %q: %s", level, res.ForbiddenDetail())
	}
	return nil
}
