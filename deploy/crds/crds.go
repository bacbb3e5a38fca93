// Package crds holds Karmada's four policy CustomResourceDefinitions
// (policy.karmada.io/v1alpha1 PropagationPolicy, ClusterPropagationPolicy, OverridePolicy
// and ClusterOverridePolicy) and its ResourceBinding (work.karmada.io), byte for byte as
// Karmada v1.18.2 ships them, for the federation API server (deploy/fedapi) to install.
//
// hack/karmada-crds.sh copies them from the Go module and README.md lists each file's
// sha256; the package test checks that the files still have those hashes.
package crds

import (
	"embed"
	"io/fs"
)

//go:embed *.yaml
var files embed.FS

// KarmadaVersion is the Karmada release the CRDs come from (hack/karmada-crds.sh pins the
// same one).
const KarmadaVersion = "v1.18.2"

// Files lists the CRD files, in the order to install them.
var Files = []string{
	"policy.karmada.io_propagationpolicies.yaml",
	"policy.karmada.io_clusterpropagationpolicies.yaml",
	"policy.karmada.io_overridepolicies.yaml",
	"policy.karmada.io_clusteroverridepolicies.yaml",
	"work.karmada.io_resourcebindings.yaml",
}

// Read returns one of Files, unchanged (YAML).
func Read(name string) ([]byte, error) { return fs.ReadFile(files, name) }
