#!/usr/bin/env bash
# Builds, once, the OpenID provider of the dashboard's OpenID Connect tests (e2e
# TestOIDCLogin): zitadel/oidc's example provider wrapped by hack/oidc/provider, whose
# go.mod and go.sum pin every dependency.
#
# The binary lands in a cache directory keyed by the version:
#   ${ATOLL_OIDC_CACHE:-$HOME/.cache/atoll/oidc}/zitadel-oidc-<v>-<hash of the wrapper>/bin/oidc-provider
# When it is already there, nothing is built. A build goes to a temporary directory
# beside the cache and is renamed into place, so an interrupted build never leaves a
# partial cache; concurrent runs wait for each other on a lock.
#
# Usage:
#   hack/oidc/build.sh              build unless cached
#   hack/oidc/build.sh --print-dir  print the cache directory and exit (builds nothing)
#
# To change the version, change it here, then run `go get github.com/zitadel/oidc/v3@<v>`
# and `go mod tidy` in hack/oidc/provider; this script refuses to build when the wrapper
# module pins something else.
set -euo pipefail

OIDC_VERSION=v3.52.0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${ATOLL_OIDC_CACHE:-$HOME/.cache/atoll/oidc}
# The wrapper's own source is part of the key: a changed main.go builds anew.
sum=$(cat "$here/provider/main.go" "$here/provider/go.mod" "$here/provider/go.sum" | sha256sum | cut -c1-12)
key=zitadel-oidc-${OIDC_VERSION}-${sum}
dir=$cache_root/$key/bin

case "${1:-}" in
"") ;;
--print-dir)
	echo "$dir"
	exit 0
	;;
-h | --help)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "oidc: unknown argument $1" >&2
	exit 2
	;;
esac

if [[ -x $dir/oidc-provider ]]; then
	echo "oidc: cached in $dir"
	exit 0
fi

mkdir -p "$cache_root/$key"
exec 9>"$cache_root/$key/.lock"
if ! flock -n 9; then
	echo "oidc: another build of $key is running; waiting for it"
	flock 9
fi
if [[ -x $dir/oidc-provider ]]; then
	echo "oidc: cached in $dir"
	exit 0
fi
rm -rf "$cache_root/$key"/.build-*

export CGO_ENABLED=0 GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=readonly"

got=$(cd "$here/provider" && go list -m -f '{{.Version}}' github.com/zitadel/oidc/v3)
if [[ $got != "$OIDC_VERSION" ]]; then
	echo "oidc: hack/oidc/provider/go.mod selects github.com/zitadel/oidc/v3 $got, this script pins $OIDC_VERSION" >&2
	exit 1
fi

echo "oidc: building the test OpenID provider (zitadel/oidc $OIDC_VERSION) -> $dir"
tmp=$(mktemp -d "$cache_root/$key/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
mkdir "$tmp/bin"
(cd "$here/provider" && go build -trimpath -ldflags "-s -w" -o "$tmp/bin/oidc-provider" .)
if [[ -e $dir ]]; then
	mv "$dir" "$tmp/old"
fi
mv "$tmp/bin" "$dir"
echo "oidc: done: $dir"
