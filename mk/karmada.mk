# Karmada's control plane (controller-manager, scheduler, webhook, aggregated-apiserver)
# and its CRDs, for the import test (e2e/import_test.go), which runs a real Karmada and
# moves its workloads to Atoll. Included from the Makefile; also usable alone:
# make -f mk/karmada.mk karmada.
#
# hack/karmada/build.sh builds it, keyed by the version:
# ${ATOLL_KARMADA_CACHE:-$HOME/.cache/atoll/karmada}/karmada-<v>/{bin,crds}.

.PHONY: karmada
karmada: private build_sh := $(dir $(lastword $(MAKEFILE_LIST)))../hack/karmada/build.sh
karmada: ## build Karmada's controllers once into its cache, for e2e TestImport (~6 min cold on 2 cores)
	@bash $(build_sh)
