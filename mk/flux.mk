# Flux's kustomize-controller and its CRDs, for the GitOps test (e2e/gitops_test.go).
# Included from the Makefile; also usable alone: make -f mk/flux.mk flux.
#
# hack/flux/build.sh builds it, keyed by the version:
# ${ATOLL_FLUX_CACHE:-$HOME/.cache/atoll/flux}/kustomize-controller-<v>/{bin,crds}.

.PHONY: flux
flux: private build_sh := $(dir $(lastword $(MAKEFILE_LIST)))../hack/flux/build.sh
flux: ## build Flux's kustomize-controller once into its cache (~5 min cold on 2 cores)
	@bash $(build_sh)
