# The helm CLI for the chart's tests and for rendering deploy/manifests. Included from the
# Makefile; also usable alone: make -f mk/helm.mk helm.
#
# HELM is where hack/helm/build.sh builds it, keyed by the version:
# ${ATOLL_HELM_CACHE:-$HOME/.cache/atoll/helm}/helm-<v>/bin/helm.
HELM := $(shell bash $(dir $(lastword $(MAKEFILE_LIST)))../hack/helm/build.sh --print-dir)/helm

.PHONY: helm manifests
helm: private build_sh := $(dir $(lastword $(MAKEFILE_LIST)))../hack/helm/build.sh
helm: ## build the helm CLI once into its cache (~3-4 min cold on 2 cores)
	@bash $(build_sh)

manifests: private render_sh := $(dir $(lastword $(MAKEFILE_LIST)))../hack/helm/manifests.sh
manifests: helm ## render deploy/manifests/*.yaml from the Helm chart (for users without Helm)
	@HELM=$(HELM) bash $(render_sh)
