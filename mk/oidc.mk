# The OpenID provider of the dashboard's OpenID Connect tests (e2e TestOIDCLogin).
# Included from the Makefile; also usable alone: make -f mk/oidc.mk oidc.
#
# OIDC_BIN is the cache directory hack/oidc/build.sh builds into, keyed by the version and
# the wrapper module: ${ATOLL_OIDC_CACHE:-$HOME/.cache/atoll/oidc}/zitadel-oidc-<v>-<hash>/bin.
# Tests look there too, unless ATOLL_OIDC_PROVIDER points at another binary.
OIDC_BIN := $(shell bash $(dir $(lastword $(MAKEFILE_LIST)))../hack/oidc/build.sh --print-dir)

.PHONY: oidc
oidc: private build_sh := $(dir $(lastword $(MAKEFILE_LIST)))../hack/oidc/build.sh
oidc: ## build the test OpenID provider once into OIDC_BIN (~1 min cold)
	@bash $(build_sh)
