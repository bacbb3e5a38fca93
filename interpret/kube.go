package interpret

import (
	"encoding/json"
	"slices"

	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// openKube returns the library "kube": what Karmada's offers its scripts.
func openKube(L *lua.LState) *lua.LTable {
	return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"resourceAdd":             kubeResourceAdd,
		"getResourceQuantity":     kubeGetResourceQuantity,
		"accuratePodRequirements": kubeAccuratePodRequirements,
		"getPodDependencies":      kubeGetPodDependencies,
	})
}

// quantity reads argument n as a Kubernetes quantity (a string or a number).
func quantity(L *lua.LState, n int) resource.Quantity {
	v := L.Get(n)
	s := v.String()
	if num, ok := v.(lua.LNumber); ok {
		s = num.String()
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		L.ArgError(n, "not a quantity: "+s)
	}
	return q
}

// resourceAdd(a, b) is a + b, as a quantity string.
func kubeResourceAdd(L *lua.LState) int {
	q := quantity(L, 1)
	q.Add(quantity(L, 2))
	L.Push(lua.LString(q.String()))
	return 1
}

// getResourceQuantity(q) is q as a number.
func kubeGetResourceQuantity(L *lua.LState) int {
	q := quantity(L, 1)
	L.Push(lua.LNumber(q.AsApproximateFloat64()))
	return 1
}

// podTemplate reads argument 1 as a pod template.
func podTemplate(L *lua.LState) corev1.PodTemplateSpec {
	v, err := fromLua(L.CheckTable(1), nil, "podTemplate", 0)
	if err != nil {
		L.ArgError(1, err.Error())
	}
	var t corev1.PodTemplateSpec
	b, _ := json.Marshal(v)
	if err := json.Unmarshal(b, &t); err != nil {
		L.ArgError(1, "not a pod template: "+err.Error())
	}
	return t
}

// accuratePodRequirements(podTemplate) is what one replica needs: its containers'
// requests (the largest init container's where larger) and where it may run.
func kubeAccuratePodRequirements(L *lua.LState) int {
	t := podTemplate(L)
	req := corev1.ResourceList{}
	for _, c := range t.Spec.Containers {
		for name, q := range c.Resources.Requests {
			sum := req[name]
			sum.Add(q)
			req[name] = sum
		}
	}
	for _, c := range t.Spec.InitContainers {
		for name, q := range c.Resources.Requests {
			if cur, ok := req[name]; !ok || q.Cmp(cur) > 0 {
				req[name] = q
			}
		}
	}
	out := map[string]any{}
	rr := map[string]any{}
	for name, q := range req {
		rr[string(name)] = q.String()
	}
	if len(rr) > 0 {
		out["resourceRequest"] = rr
	}
	claim := map[string]any{}
	if len(t.Spec.NodeSelector) > 0 {
		claim["nodeSelector"] = t.Spec.NodeSelector
	}
	if len(t.Spec.Tolerations) > 0 {
		claim["tolerations"] = t.Spec.Tolerations
	}
	if a := t.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		claim["hardNodeAffinity"] = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	if len(claim) > 0 {
		out["nodeClaim"] = claim
	}
	return pushJSON(L, out)
}

// getPodDependencies(podTemplate, namespace) lists the ConfigMaps, Secrets,
// ServiceAccount and PersistentVolumeClaims the pod template names, in namespace.
func kubeGetPodDependencies(L *lua.LState) int {
	t := podTemplate(L)
	ns := L.CheckString(2)
	var deps []any
	add := func(kind, name string) {
		d := map[string]any{"apiVersion": "v1", "kind": kind, "namespace": ns, "name": name}
		if name != "" && !slices.ContainsFunc(deps, func(x any) bool {
			m := x.(map[string]any)
			return m["kind"] == kind && m["name"] == name
		}) {
			deps = append(deps, d)
		}
	}
	for _, name := range PodDependencies(t.Spec) {
		add(name.Kind, name.Name)
	}
	return pushJSON(L, deps)
}

// pushJSON pushes a JSON value as a Lua value.
func pushJSON(L *lua.LState, v any) int {
	b, _ := json.Marshal(v)
	var j any
	_ = json.Unmarshal(b, &j)
	lv, err := toLua(L, j, 0)
	if err != nil {
		L.RaiseError("%v", err)
	}
	L.Push(lv)
	return 1
}

// Named is an object a pod refers to: its kind (ConfigMap, Secret, ServiceAccount,
// PersistentVolumeClaim) and name, in the pod's namespace.
type Named struct{ Kind, Name string }

// PodDependencies lists the objects a pod spec refers to, in order of first mention.
func PodDependencies(spec corev1.PodSpec) []Named {
	var out []Named
	add := func(kind, name string) {
		n := Named{kind, name}
		if name != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if sa := spec.ServiceAccountName; sa != "" && sa != "default" {
		add("ServiceAccount", sa)
	}
	for _, s := range spec.ImagePullSecrets {
		add("Secret", s.Name)
	}
	for _, v := range spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			add("ConfigMap", v.ConfigMap.Name)
		case v.Secret != nil:
			add("Secret", v.Secret.SecretName)
		case v.PersistentVolumeClaim != nil:
			add("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName)
		case v.Projected != nil:
			for _, p := range v.Projected.Sources {
				if p.ConfigMap != nil {
					add("ConfigMap", p.ConfigMap.Name)
				}
				if p.Secret != nil {
					add("Secret", p.Secret.Name)
				}
			}
		}
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				add("ConfigMap", e.ConfigMapRef.Name)
			}
			if e.SecretRef != nil {
				add("Secret", e.SecretRef.Name)
			}
		}
		for _, e := range c.Env {
			if f := e.ValueFrom; f != nil {
				if f.ConfigMapKeyRef != nil {
					add("ConfigMap", f.ConfigMapKeyRef.Name)
				}
				if f.SecretKeyRef != nil {
					add("Secret", f.SecretKeyRef.Name)
				}
			}
		}
	}
	return out
}
