package policy

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// storedSet decodes each text as a stored policy and builds a Set of them.
func storedSet(t *testing.T, texts ...string) *Set {
	t.Helper()
	var ps []*Policy
	for i, text := range texts {
		p, err := Decode("p"+string(rune('0'+i)), []byte(text))
		if err != nil {
			t.Fatalf("Decode p%d: %v", i, err)
		}
		ps = append(ps, p)
	}
	return NewSet(ps)
}

const (
	cppAll = `apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: all}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement: {replicaScheduling: {replicaSchedulingType: Duplicated}}
`
	ppShopLabel = `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: by-label, namespace: shop}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, labelSelector: {matchLabels: {tier: web}}}]
  placement: {clusterAffinity: {clusterNames: [eu-west/c1]}}
`
	ppShopName = `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: by-name, namespace: shop}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: web}]
  placement: {clusterAffinity: {clusterNames: [us-east/c1]}}
`
	ppShopHigh = `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: urgent
  namespace: shop
  annotations: {atoll.io/bound: EU}
spec:
  priority: 10
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement: {clusterAffinity: {clusterNames: [eu-north/c1]}}
`
	copAll = `apiVersion: policy.karmada.io/v1alpha1
kind: ClusterOverridePolicy
metadata: {name: registry}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  overrideRules: [{overriders: {imageOverrider: [{component: Registry, operator: replace, value: mirror.example}]}}]
`
	opShop = `apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: tag, namespace: shop}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: web}]
  overrideRules: [{overriders: {imageOverrider: [{component: Tag, operator: replace, value: v2}]}}]
`
)

func deployment(ns, name string, labels map[string]string) Target {
	return Target{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name, Labels: labels}
}

// TestResolvePrecedence: Karmada's precedence over stored policies: a PropagationPolicy
// over a ClusterPropagationPolicy, then priority, then name over labels over kind alone.
func TestResolvePrecedence(t *testing.T) {
	cases := []struct {
		name     string
		policies []string
		target   Target
		want     string
	}{
		{"no policy", nil, deployment("shop", "web", nil), ""},
		{"another kind", []string{cppAll}, Target{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "web"}, ""},
		{"cluster policy", []string{cppAll}, deployment("bank", "web", nil), "ClusterPropagationPolicy all"},
		{"namespaced over cluster", []string{cppAll, ppShopLabel}, deployment("shop", "web", map[string]string{"tier": "web"}), "PropagationPolicy shop/by-label"},
		{"labels must match", []string{cppAll, ppShopLabel}, deployment("shop", "web", map[string]string{"tier": "db"}), "ClusterPropagationPolicy all"},
		{"name over labels", []string{ppShopLabel, ppShopName}, deployment("shop", "web", map[string]string{"tier": "web"}), "PropagationPolicy shop/by-name"},
		{"priority over precision", []string{ppShopName, ppShopHigh}, deployment("shop", "web", nil), "PropagationPolicy shop/urgent"},
		{"namespaced policy stays in its namespace", []string{ppShopHigh}, deployment("bank", "web", nil), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := storedSet(t, tc.policies...).Resolve(tc.target)
			if res.PlacedBy != tc.want {
				t.Fatalf("placed by %q, want %q", res.PlacedBy, tc.want)
			}
			if tc.want != "" && res.Placement.Source != tc.want {
				t.Fatalf("placement source %q, want %q", res.Placement.Source, tc.want)
			}
		})
	}
	res := storedSet(t, ppShopHigh).Resolve(deployment("shop", "web", nil))
	if !slices.Equal(res.Bound, []string{"EU"}) {
		t.Fatalf("bound %v, want [EU]", res.Bound)
	}
}

// TestResolveOverrides: every matching override policy, cluster-scoped first, each one's
// rules in order; a Resolution shares nothing with the Set.
func TestResolveOverrides(t *testing.T) {
	s := storedSet(t, opShop, copAll)
	res := s.Resolve(deployment("shop", "web", nil))
	if want := []string{"ClusterOverridePolicy registry", "OverridePolicy shop/tag"}; !slices.Equal(res.OverriddenBy, want) {
		t.Fatalf("overridden by %v, want %v", res.OverriddenBy, want)
	}
	if len(res.Overrides) != 2 || res.Overrides[1].Overriders.ImageOverrider[0].Value != "v2" {
		t.Fatalf("overrides %+v", res.Overrides)
	}
	res.Overrides[1].Overriders.ImageOverrider[0].Value = "changed"
	if again := s.Resolve(deployment("shop", "web", nil)); again.Overrides[1].Overriders.ImageOverrider[0].Value != "v2" {
		t.Fatal("a Resolution shares its rules with the Set")
	}
	if res := s.Resolve(deployment("shop", "api", nil)); !slices.Equal(res.OverriddenBy, []string{"ClusterOverridePolicy registry"}) {
		t.Fatalf("api overridden by %v", res.OverriddenBy)
	}
}

// TestResolveConcurrently: resolving changes nothing in the Set (run with -race).
func TestResolveConcurrently(t *testing.T) {
	s := storedSet(t, cppAll, ppShopLabel, ppShopName, copAll, opShop)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				if res := s.Resolve(deployment("shop", "web", map[string]string{"tier": "web"})); res.PlacedBy != "PropagationPolicy shop/by-name" {
					t.Errorf("placed by %q", res.PlacedBy)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestStoredRoundTrip: what apply stores decodes to the same policy, without what an API
// server added.
func TestStoredRoundTrip(t *testing.T) {
	text := strings.Replace(ppShopHigh, "  name: urgent\n", "  name: urgent\n  uid: 1234\n  resourceVersion: \"99\"\n", 1)
	p, err := Decode("urgent.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := p.Object()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(obj), "uid") || strings.Contains(string(obj), "resourceVersion") {
		t.Fatalf("stored object keeps server metadata: %s", obj)
	}
	q, err := Decode("stored", obj)
	if err != nil {
		t.Fatalf("decoding the stored object: %v\n%s", err, obj)
	}
	if q.Kind() != "PropagationPolicy" || q.Namespace() != "shop" || q.Name() != "urgent" {
		t.Fatalf("decoded %s", q)
	}
	a, b := NewSet([]*Policy{p}).Resolve(deployment("shop", "x", nil)), NewSet([]*Policy{q}).Resolve(deployment("shop", "x", nil))
	if a.PlacedBy != b.PlacedBy || !slices.Equal(a.Bound, b.Bound) || !reflect.DeepEqual(a.Placement, b.Placement) {
		t.Fatalf("round trip changed the resolution: %+v vs %+v", a, b)
	}
}

// TestDecodeRefuses: a stored policy a site cannot read whole is an error naming why.
func TestDecodeRefuses(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unknown field", strings.Replace(cppAll, "spec:\n", "spec:\n  colour: red\n", 1), "colour"},
		{"unsupported field", strings.Replace(cppAll, "spec:\n", "spec:\n  failover: {cluster: {}}\n", 1), "not supported"},
		{"a manifest", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n", "not a policy.karmada.io/v1alpha1 policy"},
		{"two policies", cppAll + "---\n" + copAll, "want one policy object, found 2"},
		{"too large", cppAll + "# " + strings.Repeat("x", MaxStoredPolicy), "more than the"},
		{"not YAML", "{", "stored"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("stored", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestResolvePropagateDeps: the winning propagation policy's propagateDeps is the
// template's, and only the winner's.
func TestResolvePropagateDeps(t *testing.T) {
	b, err := os.ReadFile(fields + "/propagation/propagate-deps.yaml")
	if err != nil {
		t.Fatal(err)
	}
	storefront := Target{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "retail", Name: "storefront"}
	if res := storedSet(t, string(b)).Resolve(storefront); !res.PropagateDeps || res.PlacedBy != "PropagationPolicy retail/storefront-with-deps" {
		t.Errorf("with propagateDeps: %+v", res)
	}
	// A PropagationPolicy by name wins over the ClusterPropagationPolicy that has
	// propagateDeps: the template's dependencies stay where they are.
	cpp := strings.Replace(cppAll, "spec:\n", "spec:\n  propagateDeps: true\n", 1)
	byName := strings.Replace(strings.Replace(string(b), "  propagateDeps: true\n", "", 1), "storefront-with-deps", "storefront-only", 1)
	if res := storedSet(t, cpp, byName).Resolve(storefront); res.PropagateDeps || res.PlacedBy != "PropagationPolicy retail/storefront-only" {
		t.Errorf("the winner without propagateDeps: %+v", res)
	}
	if res := storedSet(t, cpp).Resolve(storefront); !res.PropagateDeps {
		t.Errorf("the ClusterPropagationPolicy alone: %+v", res)
	}
}

// TestResolveOverwrite: the winning policy's conflictResolution: Overwrite is the
// template's; Abort and the default are not.
func TestResolveOverwrite(t *testing.T) {
	b, err := os.ReadFile(fields + "/propagation/conflict-resolution.yaml")
	if err != nil {
		t.Fatal(err)
	}
	storefront := Target{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "retail", Name: "storefront"}
	if res := storedSet(t, string(b)).Resolve(storefront); !res.Overwrite {
		t.Errorf("Overwrite: %+v", res)
	}
	abort := strings.Replace(string(b), "conflictResolution: Overwrite", "conflictResolution: Abort", 1)
	if res := storedSet(t, abort).Resolve(storefront); res.Overwrite || res.PlacedBy == "" {
		t.Errorf("Abort: %+v", res)
	}
}
