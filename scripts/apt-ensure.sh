#!/usr/bin/env bash
# Make sure the given Debian packages are installed.
#
#   scripts/apt-ensure.sh PKG...
#
# Asks dpkg first and does nothing at all (no apt-get update, no network) when
# every package is already installed, so `make deps` is cheap to repeat.
# Otherwise installs only the missing ones, as root, without recommends.
set -euo pipefail

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
    echo "apt-ensure: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
fi
echo "apt-ensure: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The lock timeout covers a fresh VM whose boot-time apt job still holds the lock.
apt-get -o DPkg::Lock::Timeout=300 update -q
apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"
