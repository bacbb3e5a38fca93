package kube

import _ "embed"

// RBAC is what a site needs in a member cluster (rbac.yaml): a ClusterRole limited to
// observing nodes and pods, creating namespaces, watching HorizontalPodAutoscalers, and
// managing the kinds of the default admission policy, bound to the ServiceAccount
// atoll-system/atoll and to the user atoll.
// `atoll cluster rbac` prints it.
//
//go:embed rbac.yaml
var RBAC []byte
