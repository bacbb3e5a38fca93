package crds

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// pins returns file -> sha256 from the lines of text that match re (two groups: file,
// hash).
func pins(t *testing.T, path string, re *regexp.Regexp) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestFilesMatchPins checks that every embedded CRD has the sha256 that README.md and
// hack/karmada-crds.sh pin, and that both name the same Karmada version as the package.
func TestFilesMatchPins(t *testing.T) {
	readme := pins(t, "README.md", regexp.MustCompile("(?m)^\\| `([^`]+\\.yaml)` \\| \\w+ \\| `([0-9a-f]{64})` \\|$"))
	script := pins(t, "../../hack/karmada-crds.sh", regexp.MustCompile(`(?m)^\s*\[([^\]]+\.yaml)\]=([0-9a-f]{64})$`))

	embedded, err := fs.Glob(files, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(slices.Values(embedded)), slices.Sorted(slices.Values(Files))) {
		t.Errorf("embedded files %v, Files %v", embedded, Files)
	}
	if len(readme) != len(Files) || len(script) != len(Files) {
		t.Errorf("README.md pins %d files, hack/karmada-crds.sh %d, want %d", len(readme), len(script), len(Files))
	}
	for _, name := range Files {
		b, err := Read(name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		got := hex.EncodeToString(sum[:])
		if got != readme[name] || got != script[name] {
			t.Errorf("%s: sha256 %s; README.md pins %q, hack/karmada-crds.sh %q", name, got, readme[name], script[name])
		}
	}

	b, err := os.ReadFile("../../hack/karmada-crds.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nKARMADA_VERSION="+KarmadaVersion+"\n") {
		t.Errorf("hack/karmada-crds.sh does not pin KARMADA_VERSION=%s", KarmadaVersion)
	}
	if b, _ := os.ReadFile("README.md"); !strings.Contains(string(b), "**"+KarmadaVersion+"**") {
		t.Errorf("README.md does not name %s", KarmadaVersion)
	}
}

// TestFilesArePolicyCRDs checks that each file is one CRD of policy.karmada.io serving
// v1alpha1, so a wrong file cannot hide behind a right hash table.
func TestFilesArePolicyCRDs(t *testing.T) {
	var kinds []string
	for _, name := range Files {
		b, err := Read(name)
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind   string `json:"kind"`
					Plural string `json:"plural"`
				} `json:"names"`
				Versions []struct {
					Name   string `json:"name"`
					Served bool   `json:"served"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(b, &crd); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		group, version := "policy.karmada.io", "v1alpha1"
		if crd.Spec.Names.Kind == "ResourceBinding" {
			group, version = "work.karmada.io", "v1alpha2"
		}
		if crd.Kind != "CustomResourceDefinition" || crd.Spec.Group != group ||
			crd.Metadata.Name != crd.Spec.Names.Plural+"."+group ||
			name != group+"_"+crd.Spec.Names.Plural+".yaml" ||
			!slices.ContainsFunc(crd.Spec.Versions, func(v struct {
				Name   string `json:"name"`
				Served bool   `json:"served"`
			}) bool {
				return v.Name == version && v.Served
			}) {
			t.Errorf("%s: not a %s/%s CRD: %+v", name, group, version, crd)
		}
		kinds = append(kinds, crd.Spec.Names.Kind)
	}
	want := []string{"PropagationPolicy", "ClusterPropagationPolicy", "OverridePolicy", "ClusterOverridePolicy", "ResourceBinding"}
	if !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
}
