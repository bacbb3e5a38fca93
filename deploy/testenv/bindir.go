package testenv

import "atoll/deploy/kubeproc"

// Versions of the binaries (package kubeproc pins them, with hack/kube/build.sh).
const (
	KubernetesVersion = kubeproc.KubernetesVersion
	EtcdVersion       = kubeproc.EtcdVersion
	KwokVersion       = kubeproc.KwokVersion
)

// binaries are the programs a binary directory must hold.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"}

// BinDir returns the directory holding the binaries: $ATOLL_KUBE_BIN if set, else the
// cache directory `make kube` builds into,
// ${ATOLL_KUBE_CACHE:-$HOME/.cache/atoll/kube}/k8s-<v>-etcd-<v>-kwok-<v>/bin.
// It fails, naming `make kube`, unless every binary is there.
func BinDir() (string, error) { return kubeproc.BinDir(binaries...) }
