#!/usr/bin/env bash
# Builds, once, Karmada's control plane for e2e/import_test.go, which runs a real Karmada
# and then moves its workloads to Atoll: karmada-controller-manager, karmada-scheduler,
# karmada-webhook (it gives policies, bindings and Works their permanent IDs) and
# karmada-aggregated-apiserver (it serves cluster.karmada.io, the Cluster kind, which is
# no CRD). They come from the wrapper module next to this script (its go.mod and go.sum
# pin every dependency; Karmada stays out of Atoll's own module). Beside them go every CRD
# of Karmada's chart, unchanged, from the same module.
#
# Everything lands in a cache directory keyed by the version:
#   ${ATOLL_KARMADA_CACHE:-$HOME/.cache/atoll/karmada}/karmada-<v>/{bin,crds}
# When it is already there, nothing is built. A build goes to a temporary directory beside
# the cache and is renamed into place at the end; concurrent runs wait on a lock.
#
# Usage:
#   hack/karmada/build.sh              build unless cached
#   hack/karmada/build.sh --print-dir  print the cache directory and exit (builds nothing)
#
# To change the version, change it here, then `go get -tool
# github.com/karmada-io/karmada/cmd/<each of the four>@<v>` and `go mod tidy` in the
# wrapper module (Karmada v1.18.2's go.mod has no replace directives; a later one may).
set -euo pipefail

KARMADA_VERSION=v1.18.2
KARMADA_MODULE=github.com/karmada-io/karmada
# binary name -> package
declare -A CMDS=(
	[karmada-controller-manager]=cmd/controller-manager
	[karmada-scheduler]=cmd/scheduler
	[karmada-webhook]=cmd/webhook
	[karmada-aggregated-apiserver]=cmd/aggregated-apiserver
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${ATOLL_KARMADA_CACHE:-$HOME/.cache/atoll/karmada}
key=karmada-${KARMADA_VERSION}
dir=$cache_root/$key

# shellcheck source=../lib.sh
source "$here/../lib.sh"
build_args karmada "${BASH_SOURCE[0]}" "$@"
build_lock karmada

export CGO_ENABLED=0 GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=readonly"

got=$(cd "$here" && go list -m -f '{{.Version}}' "$KARMADA_MODULE")
if [[ $got != "$KARMADA_VERSION" ]]; then
	echo "karmada: hack/karmada/go.mod selects $KARMADA_MODULE $got, this script pins $KARMADA_VERSION" >&2
	exit 1
fi

echo "karmada: building Karmada $KARMADA_VERSION's controller-manager, scheduler, webhook and aggregated-apiserver, about 6 minutes on 2 cores, once -> $dir"
tmp=$(mktemp -d "$cache_root/.build-$key-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$tmp/bin" "$tmp/crds"
start=$SECONDS

v=$KARMADA_MODULE/pkg/version
ldflags="-s -w -X $v.gitVersion=$KARMADA_VERSION -X $v.gitTreeState=clean"
for bin in "${!CMDS[@]}"; do
	(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$tmp/bin/$bin" "$KARMADA_MODULE/${CMDS[$bin]}")
done

# Every CRD the chart installs (charts/karmada/_crds/kustomization.yaml lists the same
# bases), one directory per API group there, flat here.
mod=$(cd "$here" && go list -m -f '{{.Dir}}' "$KARMADA_MODULE")
cp "$mod"/charts/karmada/_crds/bases/*/*.yaml "$tmp/crds/"
chmod -R u+w "$tmp"
touch "$tmp/.complete"

rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "karmada: done in $((SECONDS - start)) s: $dir"
