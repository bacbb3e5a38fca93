#!/usr/bin/env bash
# Builds, once, Flux's kustomize-controller, the GitOps controller that e2e/gitops_test.go
# runs against a site's Kubernetes API, from the wrapper module next to this script (its
# go.mod and go.sum pin every dependency; Flux stays out of Atoll's own module), and puts
# beside it the CRDs it needs: its Kustomization, and the source kinds it watches
# (GitRepository, OCIRepository, Bucket) from source-controller's module, whose checksum
# is pinned here.
#
# Everything lands in a cache directory keyed by the versions:
#   ${ATOLL_FLUX_CACHE:-$HOME/.cache/atoll/flux}/kustomize-controller-<v>/{bin,crds}
# When it is already there, nothing is built. A build goes to a temporary directory beside
# the cache and is renamed into place at the end; concurrent runs wait on a lock.
#
# Usage:
#   hack/flux/build.sh              build unless cached
#   hack/flux/build.sh --print-dir  print the cache directory and exit (builds nothing)
#
# To change a version, change it here, then `go get -tool
# github.com/fluxcd/kustomize-controller@<v>` and `go mod tidy` in the wrapper module
# (keeping the replace directives of that version's go.mod), and set SOURCE_VERSION and
# SOURCE_SUM to the source-controller its go.mod requires (`go mod download -json`).
set -euo pipefail

KC_VERSION=v1.9.6
SOURCE_VERSION=v1.9.0
SOURCE_SUM=h1:5msg2yyjVYDULZos+2ve8MZzcSqTpusiXmrOeBhc9yY=

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${ATOLL_FLUX_CACHE:-$HOME/.cache/atoll/flux}
key=kustomize-controller-${KC_VERSION}
dir=$cache_root/$key

# shellcheck source=../lib.sh
source "$here/../lib.sh"
build_args flux "${BASH_SOURCE[0]}" "$@"
build_lock flux

export CGO_ENABLED=0 GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=readonly"

got=$(cd "$here" && go list -m -f '{{.Version}}' github.com/fluxcd/kustomize-controller)
if [[ $got != "$KC_VERSION" ]]; then
	echo "flux: hack/flux/go.mod selects kustomize-controller $got, this script pins $KC_VERSION" >&2
	exit 1
fi

echo "flux: building kustomize-controller $KC_VERSION, about 5 minutes on 2 cores, once -> $dir"
tmp=$(mktemp -d "$cache_root/.build-$key-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$tmp/bin" "$tmp/crds"
start=$SECONDS

(cd "$here" && go build -trimpath -ldflags "-s -w" -o "$tmp/bin/kustomize-controller" github.com/fluxcd/kustomize-controller)
kc=$(cd "$here" && go list -m -f '{{.Dir}}' github.com/fluxcd/kustomize-controller)
cp "$kc/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml" "$tmp/crds/"

src=$(cd "$tmp" && go mod download -json "github.com/fluxcd/source-controller@$SOURCE_VERSION")
sum=$(sed -n 's/.*"Sum": "\(.*\)".*/\1/p' <<<"$src")
if [[ $sum != "$SOURCE_SUM" ]]; then
	echo "flux: source-controller $SOURCE_VERSION has checksum $sum, this script pins $SOURCE_SUM" >&2
	exit 1
fi
srcdir=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' <<<"$src")
for kind in gitrepositories ocirepositories buckets; do
	cp "$srcdir/config/crd/bases/source.toolkit.fluxcd.io_$kind.yaml" "$tmp/crds/"
done
chmod -R u+w "$tmp"
touch "$tmp/.complete"

rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "flux: done in $((SECONDS - start)) s: $dir"
