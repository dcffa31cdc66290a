#!/usr/bin/env bash
# Installs what ulvm and its tests need on a Debian machine: the Debian packages
# (real lvm2 is the interop oracle; nbdfuse from libnbd-bin and fuse3 make
# /dev/VG/LV without the nbd kernel module; NBD clients, nbdkit, qemu-img and fio
# test and benchmark the data path) and the npm packages; then builds the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(lvm2 e2fsprogs util-linux libnbd-bin python3-libnbd nbdkit qemu-utils fio fuse3 openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node scripts/build.mjs
