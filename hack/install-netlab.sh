#!/usr/bin/env bash
# Installs what e2e/netlab needs on Debian: iproute2 (ip) and nftables (nft).
# Idempotent: installs only what is missing, runs apt-get update at most once, and exits 0
# with nothing done when both tools are present. Run as root (make runs it as the caller).
set -euo pipefail

# Debian keeps both tools in /usr/sbin, which a non-login root shell may lack on PATH.
export PATH="$PATH:/usr/sbin:/sbin"

declare -A pkg_for=([ip]=iproute2 [nft]=nftables)
missing=()
for tool in ip nft; do
  if path=$(command -v "$tool"); then
    echo "install-netlab: $tool present at $path"
  else
    echo "install-netlab: $tool missing, will install Debian package ${pkg_for[$tool]}"
    missing+=("${pkg_for[$tool]}")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-netlab: nothing to do"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-netlab: installing ${missing[*]} needs root" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "install-netlab: apt-get not found; install ${missing[*]} by hand" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-netlab: apt-get update"
apt-get update
echo "install-netlab: apt-get install -y ${missing[*]}"
apt-get install -y "${missing[@]}"

for tool in ip nft; do
  if ! path=$(command -v "$tool"); then
    echo "install-netlab: $tool still missing after installing ${missing[*]}" >&2
    exit 1
  fi
  echo "install-netlab: $tool now at $path"
done
