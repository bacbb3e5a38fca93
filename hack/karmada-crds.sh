#!/usr/bin/env bash
# Copies Karmada's four policy CRDs and its ResourceBinding CRD, unchanged, from the
# pinned Karmada module into
# deploy/crds/, where the federation API server (deploy/fedapi) installs them from.
#
# The module comes from the Go module proxy with `go mod download`, which checks it
# against the Go checksum database. Each file's sha256 is pinned below and in
# deploy/crds/README.md; the script refuses to copy a file whose hash differs and checks
# the copies afterwards. Re-running it changes nothing unless the pins change.
#
# Usage:
#   hack/karmada-crds.sh           download (once; the module cache keeps it) and copy
#   hack/karmada-crds.sh --check   only check deploy/crds/ against the pins (no network)
#
# To move to another Karmada version: change KARMADA_VERSION and the hashes here and in
# deploy/crds/README.md (the script prints the hashes it found when they differ).
set -euo pipefail

KARMADA_MODULE=github.com/karmada-io/karmada
KARMADA_VERSION=v1.18.2
SRC_DIR=charts/karmada/_crds/bases # then policy/ or work/, the file name's group

# file name -> sha256: the four policy CRDs of policy.karmada.io/v1alpha1, and
# ResourceBinding (work.karmada.io), which each site's API server shows per-cluster detail in.
declare -A SHA256=(
	[policy.karmada.io_propagationpolicies.yaml]=d6d86476d0ca15e850645937c0e775145520bd6d134b91f823b536d80e5ff770
	[policy.karmada.io_clusterpropagationpolicies.yaml]=b46f806938456f92af605e9e7361201a3d139f81a086cc24a972ef82f513758c
	[policy.karmada.io_overridepolicies.yaml]=f650d7b776e6ea31d6733aefefa027edc567172a556190f46b0de0730f05af52
	[policy.karmada.io_clusteroverridepolicies.yaml]=944a09be1f6d708d117bb6f3e2aa9066ae0de3dad9ee897c06fd171508e0ee59
	[work.karmada.io_resourcebindings.yaml]=75c71d2dbe2c2d8cf3cedf7fa0d255ffd31773f40365ce9611596cdd7d19998d
)

# group_of FILE: the file's directory under SRC_DIR, from its group.
group_of() { echo "${1%%.*}"; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=$root/deploy/crds

# check DIR [by-group]: every pinned file in DIR (in DIR/<group>/ with by-group) has its
# pinned hash.
check() {
	local f p got bad=0
	for f in "${!SHA256[@]}"; do
		p=$1/$f
		if [[ ${2:-} == by-group ]]; then
			p=$1/$(group_of "$f")/$f
		fi
		if [[ ! -f $p ]]; then
			echo "karmada-crds: $p is missing" >&2
			bad=1
			continue
		fi
		got=$(sha256sum "$p" | cut -d' ' -f1)
		if [[ $got != "${SHA256[$f]}" ]]; then
			echo "karmada-crds: $p has sha256 $got, pinned ${SHA256[$f]}" >&2
			bad=1
		fi
	done
	return $bad
}

case "${1:-}" in
"") ;;
--check)
	check "$dest"
	echo "karmada-crds: deploy/crds matches $KARMADA_MODULE@$KARMADA_VERSION"
	exit 0
	;;
-h | --help)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "karmada-crds: unknown argument $1" >&2
	exit 2
	;;
esac

# Outside any module, so that this module's go.mod is neither read nor changed.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
json=$(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$KARMADA_MODULE@$KARMADA_VERSION")
if grep -q '"Error":' <<<"$json"; then
	echo "karmada-crds: go mod download $KARMADA_MODULE@$KARMADA_VERSION failed:" >&2
	echo "$json" >&2
	exit 1
fi
moddir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")
if [[ -z $moddir || ! -d $moddir/$SRC_DIR ]]; then
	echo "karmada-crds: no $SRC_DIR in the module (Dir: ${moddir:-none})" >&2
	exit 1
fi

check "$moddir/$SRC_DIR" by-group
mkdir -p "$dest"
for f in "${!SHA256[@]}"; do
	install -m 0644 "$moddir/$SRC_DIR/$(group_of "$f")/$f" "$dest/$f"
done
check "$dest"
echo "karmada-crds: copied ${#SHA256[@]} CRDs of $KARMADA_MODULE@$KARMADA_VERSION to deploy/crds"
