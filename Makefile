# Atoll. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BIN)/staticcheck-$(STATICCHECK_VERSION)

.PHONY: help build demo test e2e deps verify bench fuzz sim sim-long clean tools

include mk/kube.mk
include mk/helm.mk
include mk/oidc.mk
include mk/flux.mk
include mk/karmada.mk

help: ## list targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/atoll
	$(GO) build -o $(BIN)/atoll ./cmd/atoll

# The first `make demo` builds the Kubernetes binaries (make kube): say so before anything.
ifneq ($(filter demo,$(MAKECMDGOALS)),)
ifneq ($(words $(wildcard $(addprefix $(KUBE_BIN)/,etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok))),6)
$(info demo: this first run builds Kubernetes, etcd and kwok from source (make kube), about 10-12 minutes on 2 cores; later runs start in seconds)
endif
endif

demo: build kube ## the main job: 3 sites and 6 real Kubernetes clusters on this machine, sample workloads, dashboards; Ctrl-C stops it
	$(BIN)/atoll demo

sim: build ## the deterministic simulator: 200 seeded runs of 20 sites, 4 Byzantine, through faults
	$(BIN)/atoll sim --sites 20 --seeds 200 --byzantine 4

sim-long: build ## 10,000 seeded runs of the simulator (docs/BENCHMARKS.md gives the time)
	$(BIN)/atoll sim --sites 20 --seeds 10000 --byzantine 4 --json

deps: ## install what the tests need from Debian (ip, nft for network namespaces; chromium for the dashboard)
	@bash hack/install-netlab.sh
	@bash hack/install-chromium.sh

test: build deps kube helm oidc flux karmada ## all tests, end-to-end, real-cluster, chart and browser ones included (what CI runs)
	ATOLL_REQUIRE_BROWSER=1 $(GO) test -count=1 -timeout 30m ./...

e2e: build deps kube oidc flux karmada ## only the end-to-end scenarios: real site processes, real partitions
	$(GO) test -count=1 -timeout 30m -v ./e2e/...
	$(BIN)/atoll e2e converge --sites 5 --json

verify: $(STATICCHECK) ## gofmt, go vet, staticcheck, go mod tidy diff
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags release ./cmd/atoll
	$(STATICCHECK) ./...
	@bak=$$(mktemp -d); cp go.mod go.sum $$bak/; $(GO) mod tidy; \
	  if ! diff -q go.mod $$bak/go.mod >/dev/null || ! diff -q go.sum $$bak/go.sum >/dev/null; then \
	    cp $$bak/go.mod $$bak/go.sum .; rm -r $$bak; echo "go mod tidy changes go.mod/go.sum"; exit 1; fi; rm -r $$bak

bench: ## benchmarks of the core (docs/BENCHMARKS.md explains each)
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./crdt/ ./site/store/
	$(GO) test -run '^$$' -bench Schedule -benchtime 3x -benchmem -count 3 ./scheduler/

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	@for p in ./crdt/ ./policy/ ./interpret/; do for f in $$($(GO) test -list '^Fuzz' $$p | grep ^Fuzz); do \
	  $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$p || exit 1; done; done

$(STATICCHECK):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/staticcheck $(STATICCHECK)

clean: ## remove build outputs
	rm -rf $(BIN)
