// Package fedapi starts a site's federation API server: a real kube-apiserver with its
// own etcd, on loopback, serving Karmada's policy API (policy.karmada.io/v1alpha1
// PropagationPolicy, ClusterPropagationPolicy, OverridePolicy, ClusterOverridePolicy)
// from Karmada's own CRDs, installed unchanged (package deploy/crds). Users point kubectl
// or Helm at it with the admin kubeconfig that Start returns; the apiserver validates and
// defaults every policy with the CRDs' OpenAPI schemas, as a Karmada control plane
// would.
//
// This first step only serves and stores: nothing yet reads the policies from it into
// the site.
//
// # Start and Stop
//
// Start runs etcd and kube-apiserver through deploy/testenv (Options.APIServerOnly: one
// etcd, one apiserver and nothing else, with a fresh CA, serving certificate and admin
// token), waits until the apiserver is ready (/readyz), applies the four CRDs with
// server-side apply (so applying them again changes nothing), and waits until each
// reports the condition Established=True, after which kubectl accepts the kinds. Stop
// stops the apiserver, then etcd (an apiserver whose etcd is gone hangs in shutdown),
// and removes etcd's data: nothing stored survives a Stop.
//
// # Layout
//
// Everything is under Options.Dir, as deploy/testenv lays it out for a cluster named
// fedapi:
//
//	Dir/etcd.log, etcd.pid, etcd-data-*/    etcd
//	Dir/fedapi/admin.kubeconfig             Server.Kubeconfig: admin token, system:masters
//	Dir/fedapi/kube-apiserver.log|.pid      the apiserver's output and PID
//	Dir/fedapi/pki/                         CA, serving and service-account keys, tokens
//
// # Goroutines
//
// None of its own: deploy/testenv keeps one per process, which waits for it to exit.
package fedapi
