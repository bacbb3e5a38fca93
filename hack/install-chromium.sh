#!/usr/bin/env bash
# Installs what the dashboard's browser tests (e2e/dashboard_test.go) need on Debian:
# headless Chromium from Debian's chromium package, at /usr/bin/chromium.
# Idempotent: exits 0 with nothing done when chromium is present, and runs apt-get update
# at most once otherwise. Run as root (make runs it as the caller).
set -euo pipefail

if path=$(command -v chromium); then
  echo "install-chromium: chromium present at $path"
  exit 0
fi
echo "install-chromium: chromium missing, will install Debian package chromium"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium: installing chromium needs root" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "install-chromium: apt-get not found; install chromium by hand" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-chromium: apt-get update"
apt-get update
echo "install-chromium: apt-get install -y --no-install-recommends chromium"
apt-get install -y --no-install-recommends chromium

if ! path=$(command -v chromium); then
  echo "install-chromium: chromium still missing after installing it" >&2
  exit 1
fi
echo "install-chromium: chromium now at $path ($("$path" --version 2>/dev/null || echo "version unknown"))"
