package kubeproc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Versions of the binaries; hack/kube/build.sh pins the same ones (a test checks that both
// name the same cache directory).
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.7.3"
	KwokVersion       = "v0.8.0"
)

// BinDir returns the directory holding the binaries named by need (etcd, kube-apiserver,
// ...): $ATOLL_KUBE_BIN if set, else the cache directory `make kube` builds into,
// ${ATOLL_KUBE_CACHE:-$HOME/.cache/atoll/kube}/k8s-<v>-etcd-<v>-kwok-<v>/bin.
// It fails, naming `make kube`, unless every one is there and executable.
func BinDir(need ...string) (string, error) {
	dir, from := os.Getenv("ATOLL_KUBE_BIN"), "$ATOLL_KUBE_BIN"
	if dir == "" {
		var err error
		if dir, err = CacheDir(); err != nil {
			return "", err
		}
		from = "the cache"
	}
	var missing []string
	for _, b := range need {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("kubeproc: %s missing from %s (%s): run `make kube`",
			strings.Join(missing, ", "), dir, from)
	}
	return dir, nil
}

// CacheDir is where hack/kube/build.sh puts the binaries (its --print-dir).
func CacheDir() (string, error) {
	root := os.Getenv("ATOLL_KUBE_CACHE")
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("kubeproc: locating the binary cache: %w", err)
		}
		root = filepath.Join(home, ".cache", "atoll", "kube")
	}
	key := "k8s-" + KubernetesVersion + "-etcd-" + EtcdVersion + "-kwok-" + KwokVersion
	return filepath.Join(root, key, "bin"), nil
}
