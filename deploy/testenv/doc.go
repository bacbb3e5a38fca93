// Package testenv starts and stops real Kubernetes member clusters on loopback, for tests
// and for `atoll demo`: real kube-apiserver, kube-controller-manager and kube-scheduler
// processes, with kwok standing in for the kubelets, so Deployments get ReplicaSets, Pods
// get scheduled onto fake Nodes and become Ready, and nothing runs in a container.
//
// The binaries come from `make kube` (hack/kube/build.sh), which builds them once into a
// cache directory keyed by the versions below; BinDir finds them.
//
// # Layout
//
// Start runs one etcd shared by every cluster (each kube-apiserver has its own
// --etcd-prefix) and, per cluster, the four components on free loopback ports. It writes
// everything under Options.Dir:
//
//	Dir/etcd.log, etcd.pid, etcd-data-*/   etcd (data removed by Stop)
//	Dir/<cluster>/admin.kubeconfig         Cluster.Kubeconfig: admin token, system:masters
//	Dir/<cluster>/<component>.log|.pid     each process's output and PID
//	Dir/<cluster>/pki/, tokens.csv, ...    CA, serving and service-account keys, configs
//
// With Options.APIServerOnly a cluster is only its kube-apiserver.
//
// The processes, the PKI, the kubeconfigs and the JSON client come from deploy/kubeproc,
// which deploy/fedapi also uses; this package adds the member clusters' layout, the
// controller manager, scheduler and kwok, the fake Nodes, and test-only choices (etcd
// without fsync, its data removed by Stop).
//
// The clusters have a CA made with crypto/x509, static bearer tokens (admin, controller
// manager, scheduler, kwok), RBAC and service accounts. The fake Nodes are created through
// the apiserver with plain net/http and JSON (no client-go, no kubectl), annotated
// kwok.x-k8s.io/node=fake with the allocatable of Options; kwok manages exactly these.
//
// # Processes and goroutines
//
// Every process runs in its own session (setsid), so a terminal's ^C does not reach it,
// and gets SIGKILL if the process that started it dies (Pdeathsig) (kubeproc.Spawn). Stop
// and StopCluster stop processes by PID: SIGTERM, then SIGKILL after 15 s, the apiservers
// before etcd (an apiserver whose etcd is gone hangs in shutdown for minutes).
//
// The only long-lived goroutines are one per process, kept by kubeproc, which waits for
// the process to exit and records how it ended. Start uses short-lived goroutines to start
// the clusters in parallel; Stop to stop them in parallel.
package testenv
