#!/usr/bin/env bash
# Builds, once, the helm CLI that the chart's tests (deploy/chart_test.go) and `make
# manifests` run, from the wrapper module next to this script (its go.mod and go.sum pin
# every dependency). The Helm SDK stays out of Atoll's own module: it is heavy.
#
# The binary lands in a cache directory keyed by the version:
#   ${ATOLL_HELM_CACHE:-$HOME/.cache/atoll/helm}/helm-<v>/bin/helm
# When it is already there, nothing is built. A build goes to a temporary directory beside
# the cache and is renamed into place at the end, so an interrupted build never leaves a
# partial cache; concurrent runs wait for each other on a lock.
#
# Usage:
#   hack/helm/build.sh              build unless cached
#   hack/helm/build.sh --print-dir  print the cache directory and exit (builds nothing)
#
# To change the version, change it here (the tests and mk/helm.mk ask --print-dir), then run
# `go get -tool helm.sh/helm/v3/cmd/helm@<v>` and `go mod tidy` in the wrapper module; this
# script refuses to build when the wrapper module pins something else.
set -euo pipefail

HELM_VERSION=v3.22.0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${ATOLL_HELM_CACHE:-$HOME/.cache/atoll/helm}
key=helm-${HELM_VERSION}
dir=$cache_root/$key/bin

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

case "${1:-}" in
"") ;;
--print-dir)
	echo "$dir"
	exit 0
	;;
-h | --help)
	usage
	exit 0
	;;
*)
	echo "helm: unknown argument $1" >&2
	usage >&2
	exit 2
	;;
esac

if [[ -x $dir/helm ]]; then
	echo "helm: cached in $dir"
	exit 0
fi

mkdir -p "$cache_root/$key"
exec 9>"$cache_root/$key/.lock"
if ! flock -n 9; then
	echo "helm: another build of $key is running; waiting for it"
	flock 9
fi
if [[ -x $dir/helm ]]; then
	echo "helm: cached in $dir"
	exit 0
fi
rm -rf "$cache_root/$key"/.build-*

export CGO_ENABLED=0 GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=readonly"

got=$(cd "$here" && go list -m -f '{{.Version}}' helm.sh/helm/v3)
if [[ $got != "$HELM_VERSION" ]]; then
	echo "helm: hack/helm/go.mod selects helm.sh/helm/v3 $got, this script pins $HELM_VERSION" >&2
	exit 1
fi

echo "helm: building helm $HELM_VERSION, about 3-4 minutes on 2 cores, once -> $dir"

tmp=$(mktemp -d "$cache_root/$key/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP # so that the EXIT trap runs on ^C too
mkdir "$tmp/bin"

start=$SECONDS
# As helm's own Makefile does: the version, and the Kubernetes version that `helm
# template` and `helm lint` assume, taken from the client-go it is built with (v0.X -> 1.X).
kmod=$(cd "$here" && go list -m -f '{{.Version}}' k8s.io/client-go)
kminor=${kmod#v0.}
kminor=${kminor%%.*}
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
	ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$kminor"
done
(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$tmp/bin/helm" helm.sh/helm/v3/cmd/helm)

if [[ -e $dir ]]; then
	mv "$dir" "$tmp/old"
fi
mv "$tmp/bin" "$dir"
echo "helm: done in $((SECONDS - start)) s: $dir/helm"
