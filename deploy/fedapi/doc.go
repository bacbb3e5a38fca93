// Package fedapi starts a site's federation API server: a real kube-apiserver with its
// own etcd, on loopback, serving Karmada's policy API (policy.karmada.io/v1alpha1
// PropagationPolicy, ClusterPropagationPolicy, OverridePolicy, ClusterOverridePolicy)
// from Karmada's own CRDs, installed unchanged (package deploy/crds). Users point kubectl
// or Helm at it; the apiserver validates and defaults every policy with the CRDs'
// OpenAPI schemas, as a Karmada control plane would.
//
// It is a production component, linked into the site: it runs the daemons through
// deploy/kubeproc, never through the test harness deploy/testenv.
//
// # Start and Stop
//
// Start runs etcd, then kube-apiserver, waits until the apiserver is ready (/readyz),
// applies the four CRDs with server-side apply (so applying them again changes nothing),
// and waits until each reports the condition Established=True, after which kubectl
// accepts the kinds. Stop stops the apiserver, then etcd (an apiserver whose etcd is gone
// hangs in shutdown).
//
// By default the server is durable: etcd syncs every write to disk and keeps its data in
// Dir/etcd-data across Stop and Start; the CAs, certificates, keys and admin token found
// in Dir are reused (a certificate within 30 days of its end is issued anew by the same
// CA), and the ports of the previous Start too while they are free, so a kubeconfig
// written before a restart still works after it. Options.Ephemeral, for tests, runs etcd
// without fsync on a fresh data directory that Stop removes, with everything new.
//
// # Who may do what
//
// The apiserver authorizes with RBAC alone. Three kinds of client reach it:
//
//   - The admin, with the bearer token of Server.Kubeconfig (group system:masters): the
//     site's own controller, and the operator at the machine.
//   - A front proxy, the site, which authenticates users itself and forwards their
//     requests with the client certificate of Server.FrontProxyCert (CN
//     atoll-front-proxy, from a CA of its own, --requestheader-client-ca-file), naming the
//     user in X-Remote-User, the groups in X-Remote-Group and extra information in
//     X-Remote-Extra-*. The apiserver believes these headers only with that
//     certificate; RBAC then grants the named user what RoleBindings give it.
//   - Anyone else is system:anonymous, which RBAC allows only the health and version
//     endpoints.
//
// No controller manager runs, so the aggregated ClusterRoles admin, edit and view have
// no rules: bind users to Roles or ClusterRoles with rules of their own.
//
// # Layout
//
// Everything is under Options.Dir:
//
//	Dir/etcd.log, etcd.pid                  etcd
//	Dir/etcd-data/ (Ephemeral: etcd-data-*/) etcd's data
//	Dir/ports.json                          the ports of the last Start (not Ephemeral)
//	Dir/fedapi/admin.kubeconfig             Server.Kubeconfig: admin token, system:masters
//	Dir/fedapi/kube-apiserver.log|.pid      the apiserver's output and PID
//	Dir/fedapi/pki/ca.crt|.key              the CA of the serving certificate (Server.CAPEM)
//	Dir/fedapi/pki/serving.crt|.key         the apiserver's serving certificate
//	Dir/fedapi/pki/front-proxy-ca.crt|.key  the CA of the front proxy's certificate
//	Dir/fedapi/pki/front-proxy-client.*     Server.FrontProxyCert
//	Dir/fedapi/pki/sa.key|.pub              service account token keys
//	Dir/fedapi/pki/admin.token, tokens.csv  the admin's token, the apiserver's token file
//
// # Goroutines
//
// None of its own: deploy/kubeproc keeps one per process, which waits for it to exit.
package fedapi
