# The real-Kubernetes test environment (deploy/testenv). Included from the Makefile; also
# usable alone: make -f mk/kube.mk kube.
#
# KUBE_BIN is the cache directory hack/kube/build.sh builds into, keyed by the versions:
# ${ATOLL_KUBE_CACHE:-$HOME/.cache/atoll/kube}/k8s-<v>-etcd-<v>-kwok-<v>/bin.
# Tests look there too, unless ATOLL_KUBE_BIN points at other binaries.
KUBE_BIN := $(shell bash $(dir $(lastword $(MAKEFILE_LIST)))../hack/kube/build.sh --print-dir)

.PHONY: kube
kube: private build_sh := $(dir $(lastword $(MAKEFILE_LIST)))../hack/kube/build.sh
kube: ## build the Kubernetes test binaries once into KUBE_BIN (~10 min cold on 2 cores)
	@bash $(build_sh)
