package fedapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"atoll/deploy/kubeproc"
)

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).Validate(); err == nil || !strings.Contains(err.Error(), "Dir") {
		t.Errorf("Validate of no Dir: %v, want an error naming Dir", err)
	}
	if err := (Options{Dir: "x"}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if _, err := Start(t.Context(), Options{}); err == nil {
		t.Error("Start with no Dir succeeded")
	}
}

// startServer starts a federation API server for the test, stopped at its end, and
// returns it with the kubectl binary; it skips the test without the binaries.
func startServer(t *testing.T) (s *Server, kubectl string) {
	t.Helper()
	bin, err := kubeproc.BinDir("etcd", "kube-apiserver", "kubectl")
	if err != nil {
		t.Skip("Kubernetes test binaries missing: run `make kube`:", err)
	}
	s, err = Start(t.Context(), Options{Dir: t.TempDir(), BinDir: bin, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s, filepath.Join(bin, "kubectl")
}

// run runs kubectl against s with stdin, returning stdout and, on failure, an error with
// stderr.
func run(t *testing.T, s *Server, kubectl, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), kubectl, append([]string{"--kubeconfig=" + s.Kubeconfig()}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), errors.New(err.Error() + ": " + stderr.String())
	}
	return out.String(), nil
}

const policies = `apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata:
  name: crds-everywhere
spec:
  resourceSelectors:
  - apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
  placement:
    clusterAffinity:
      labelSelector:
        matchLabels: {tier: prod}
    replicaScheduling: {}
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: api
  namespace: default
spec:
  resourceSelectors:
  - apiVersion: apps/v1
    kind: Deployment
    name: api
  placement:
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
        - targetCluster: {clusterNames: [us-east-1]}
          weight: 2
        - targetCluster: {clusterNames: [eu-west-1]}
          weight: 1
---
apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata:
  name: api-image
  namespace: default
spec:
  resourceSelectors:
  - apiVersion: apps/v1
    kind: Deployment
    name: api
  overrideRules:
  - targetCluster: {clusterNames: [eu-west-1]}
    overriders:
      imageOverrider:
      - component: Registry
        operator: replace
        value: registry.eu.example
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterOverridePolicy
metadata:
  name: label-everything
spec:
  resourceSelectors:
  - apiVersion: apps/v1
    kind: Deployment
  overrideRules:
  - overriders:
      labelsOverrider:
      - operator: add
        value: {federated: "true"}
`

// TestKubectl applies Karmada policies of the four kinds with the real kubectl, reads
// them back with the CRDs' defaults filled in, and has the CRDs' schemas reject invalid
// ones.
func TestKubectl(t *testing.T) {
	s, kubectl := startServer(t)

	out, err := run(t, s, kubectl, policies, "apply", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"clusterpropagationpolicy.policy.karmada.io/crds-everywhere created",
		"propagationpolicy.policy.karmada.io/api created",
		"overridepolicy.policy.karmada.io/api-image created",
		"clusteroverridepolicy.policy.karmada.io/label-everything created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply said %q, want a line %q", out, want)
		}
	}
	// Applying the same again changes nothing.
	if out, err := run(t, s, kubectl, policies, "apply", "-f", "-"); err != nil || strings.Count(out, "unchanged") != 4 {
		t.Errorf("second kubectl apply: %q, %v; want 4 unchanged", out, err)
	}

	out, err = run(t, s, kubectl, "", "get", "clusterpropagationpolicies", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				ConflictResolution string `json:"conflictResolution"`
				Placement          struct {
					ClusterAffinity struct {
						LabelSelector struct {
							MatchLabels map[string]string `json:"matchLabels"`
						} `json:"labelSelector"`
					} `json:"clusterAffinity"`
					ReplicaScheduling struct {
						ReplicaSchedulingType string `json:"replicaSchedulingType"`
					} `json:"replicaScheduling"`
				} `json:"placement"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("kubectl get clusterpropagationpolicies: %d items, want 1:\n%s", len(list.Items), out)
	}
	cpp := list.Items[0]
	if cpp.Kind != "ClusterPropagationPolicy" || cpp.Metadata.Name != "crds-everywhere" ||
		cpp.Spec.Placement.ClusterAffinity.LabelSelector.MatchLabels["tier"] != "prod" {
		t.Errorf("kubectl get clusterpropagationpolicies: %+v", cpp)
	}
	// Defaults of the CRD's schema: the apiserver fills them in as Karmada's would.
	if cpp.Spec.ConflictResolution != "Abort" || cpp.Spec.Placement.ReplicaScheduling.ReplicaSchedulingType != "Divided" {
		t.Errorf("CRD defaults not applied: conflictResolution %q, replicaSchedulingType %q; want Abort, Divided",
			cpp.Spec.ConflictResolution, cpp.Spec.Placement.ReplicaScheduling.ReplicaSchedulingType)
	}
	out, err = run(t, s, kubectl, "", "get", "propagationpolicies,overridepolicies", "-n", "default", "-o", "name")
	if want := "propagationpolicy.policy.karmada.io/api\noverridepolicy.policy.karmada.io/api-image\n"; err != nil || out != want {
		t.Errorf("kubectl get propagationpolicies,overridepolicies: %q, %v; want %q", out, err, want)
	}

	// What the schemas enforce: replicaSchedulingType is an enum, resourceSelectors is
	// required, an image overrider's component is an enum. Nothing invalid is stored.
	invalid := []struct{ name, yaml, want string }{
		{"bogus-scheduling", `apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: bogus}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    replicaScheduling: {replicaSchedulingType: Bogus}
`, `spec.placement.replicaScheduling.replicaSchedulingType: Unsupported value: "Bogus": supported values: "Duplicated", "Divided"`},
		{"no-selectors", `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: noselectors, namespace: default}
spec:
  placement: {}
`, `spec.resourceSelectors: Required value`},
		{"bogus-component", `apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: bogus, namespace: default}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  overrideRules:
  - overriders:
      imageOverrider: [{component: Tag2, operator: replace, value: v2}]
`, `Unsupported value: "Tag2"`},
	}
	for _, c := range invalid {
		t.Run(c.name, func(t *testing.T) {
			out, err := run(t, s, kubectl, c.yaml, "apply", "-f", "-")
			if err == nil {
				t.Fatalf("kubectl apply of an invalid policy succeeded: %s", out)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("kubectl apply: %v\nwant an error containing %q", err, c.want)
			}
		})
	}
	out, err = run(t, s, kubectl, "", "get", "clusterpropagationpolicies,propagationpolicies,overridepolicies", "-A", "-o", "name")
	if err != nil || strings.Contains(out, "bogus") || strings.Contains(out, "noselectors") {
		t.Errorf("after the rejected applies: %q, %v", out, err)
	}
}

// TestStop checks that Stop ends both processes and that a second Stop does nothing.
func TestStop(t *testing.T) {
	s, _ := startServer(t)
	var pids []int
	for _, f := range []string{"etcd.pid", filepath.Join(name, "kube-apiserver.pid")} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(s.Kubeconfig())), f))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		// Reaped by Stop: the PID is gone, unless the kernel already reused it.
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil &&
			slices.ContainsFunc([]string{"etcd", "kube-apiserver"}, func(n string) bool { return bytes.Contains(b, []byte(n)) }) {
			t.Errorf("pid %d still runs after Stop: %q", pid, b)
		}
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
