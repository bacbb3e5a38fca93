// Package demo holds the sample workloads that `atoll demo` applies, so that they can be
// read, edited and applied again with `atoll apply -f`: plain Kubernetes manifests with
// Karmada policies, one file per workload (web.yaml, api.yaml, ledger.yaml).
package demo

import "embed"

// Files are the *.yaml files of this directory.
//
//go:embed *.yaml
var Files embed.FS
