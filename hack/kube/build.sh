#!/usr/bin/env bash
# Builds, once, the binaries of the real-Kubernetes test environment (deploy/testenv):
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, etcd and kwok, from
# the wrapper modules next to this script (their go.mod and go.sum pin every dependency).
#
# The binaries land in a cache directory keyed by the versions:
#   ${ATOLL_KUBE_CACHE:-$HOME/.cache/atoll/kube}/k8s-<v>-etcd-<v>-kwok-<v>/bin
# When every binary is already there, nothing is built. A build goes to a temporary
# directory beside the cache and is renamed into place at the end, so an interrupted build
# never leaves a partial cache; concurrent runs wait for each other on a lock.
#
# Usage:
#   hack/kube/build.sh              build unless cached
#   hack/kube/build.sh --print-dir  print the cache directory and exit (builds nothing)
#
# To change a version, change it here and in deploy/testenv (the constants beside BinDir),
# then run `go get -tool` and `go mod tidy` in the wrapper module; this script refuses to
# build when a wrapper module pins something else.
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0

BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${ATOLL_KUBE_CACHE:-$HOME/.cache/atoll/kube}
key=k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}
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
	echo "kube: unknown argument $1" >&2
	usage >&2
	exit 2
	;;
esac

have_all() {
	local b
	for b in "${BINARIES[@]}"; do
		[[ -x $1/$b ]] || return 1
	done
}

if have_all "$dir"; then
	echo "kube: cached in $dir"
	exit 0
fi

mkdir -p "$cache_root/$key"
exec 9>"$cache_root/$key/.lock"
if ! flock -n 9; then
	echo "kube: another build of $key is running; waiting for it"
	flock 9
fi
# The build that held the lock may have finished the job.
if have_all "$dir"; then
	echo "kube: cached in $dir"
	exit 0
fi
# Holding the lock, no other build is running: what a killed one left is garbage.
rm -rf "$cache_root/$key"/.build-*

# Static binaries, no paths of this machine in them; go.sum must already hold every hash.
export CGO_ENABLED=0 GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=readonly"

# pinned MODULE_DIR MODULE VERSION fails unless the wrapper module selects VERSION of MODULE.
pinned() {
	local got
	got=$(cd "$here/$1" && go list -m -f '{{.Version}}' "$2")
	if [[ $got != "$3" ]]; then
		echo "kube: hack/kube/$1/go.mod selects $2 $got, this script pins $3" >&2
		exit 1
	fi
}
pinned kubernetes k8s.io/kubernetes "$K8S_VERSION"
pinned etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
pinned kwok sigs.k8s.io/kwok "$KWOK_VERSION"

echo "kube: building Kubernetes test binaries, about 10 minutes on 2 cores, once"
echo "kube:   Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION -> $dir"

tmp=$(mktemp -d "$cache_root/$key/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP # so that the EXIT trap runs on ^C too
mkdir "$tmp/bin"

start=$SECONDS
step() { echo "kube: $1 ($((SECONDS - start)) s)"; }

# Without these -X flags /version reports v0.0.0-master (hack/lib/version.sh upstream).
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
build_date=$(cd "$here/kubernetes" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done
step "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl"
(cd "$here/kubernetes" && go build -trimpath -ldflags "$ldflags" -o "$tmp/bin/" \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler \
	k8s.io/kubernetes/cmd/kubectl)

step "etcd"
(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/bin/etcd" go.etcd.io/etcd/server/v3)

step "kwok"
(cd "$here/kwok" && go build -trimpath -ldflags "-s -w" -o "$tmp/bin/" sigs.k8s.io/kwok/cmd/kwok)

have_all "$tmp/bin" || {
	echo "kube: build finished without every binary in $tmp/bin" >&2
	exit 1
}

# Swap the finished directory in. A leftover incomplete bin/ (binaries deleted by hand) is
# moved aside first; the rename itself is atomic.
if [[ -e $dir ]]; then
	mv "$dir" "$tmp/old"
fi
mv "$tmp/bin" "$dir"
step "done: $dir"
