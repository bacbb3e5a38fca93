// Package deploy holds what runs Atoll sites inside Kubernetes, and the tests that keep
// it working; it has no code of its own.
//
//   - helm/atoll: the Helm chart, one site as a StatefulSet of 1 or 3 (Raft) replicas
//     (its README documents every value; docs/DEPLOY.md walks through a three-region
//     federation).
//   - manifests: plain manifests rendered from the chart (make manifests).
//   - ../Dockerfile: the image, a static binary on distroless.
//   - kubeproc: etcd and kube-apiserver as processes, their PKI and kubeconfigs; what
//     testenv and fedapi share, fit for the release binary.
//   - testenv: real Kubernetes clusters on loopback for the tests.
//   - crds: Karmada's policy CRDs, unchanged (hack/karmada-crds.sh copies them).
//   - fedapi: a site's federation API server, a kube-apiserver serving those CRDs.
//
// The tests render the chart with the helm CLI that `make helm` builds
// (hack/helm/build.sh), lint it, check the rendered objects, submit every one to a real
// kube-apiserver with a server-side dry run, check that deploy/manifests is up to date,
// and build the binary as the Dockerfile does to check it is static.
package deploy
