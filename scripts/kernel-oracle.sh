#!/usr/bin/env bash
# The kernel oracle (real dm-raid and lvm2 under qemu, see $ORACLE_DIR/README.md)
# for the kernel interop tests: builds its kernel and initramfs when they are
# missing (once: concurrent callers wait for the first one's build), then
#   scripts/kernel-oracle.sh SCRIPT.sh IMG...   runs SCRIPT.sh in it (run.sh's arguments and status)
#   scripts/kernel-oracle.sh                    only builds
set -euo pipefail
# shared/ sits next to the repository (../shared), in development and on CI.
repo_shared=$(cd "$(dirname "$0")/../.." && pwd)/shared/tools/kernel-oracle
[ -d "$repo_shared" ] || repo_shared=/work/shared/tools/kernel-oracle
ORACLE_DIR=${ORACLE_DIR:-$repo_shared}
CACHE=${ORACLE_CACHE_DIR:-/var/cache/kernel-oracle}

built() { [ -f "$CACHE/initramfs.cpio.gz" ] && [ -f "$CACHE/vmlinuz" ] && command -v qemu-system-x86_64 >/dev/null; }

if ! built; then
  [ -x "$ORACLE_DIR/build.sh" ] || { echo "kernel-oracle: no oracle at $ORACLE_DIR (set ORACLE_DIR)" >&2; exit 126; }
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" mkdir -p "$CACHE"
  exec 9>>"/tmp/kernel-oracle-build.$(echo "$CACHE" | md5sum | cut -c1-8).lock"
  flock 9
  if ! built; then
    echo "kernel-oracle: building in $CACHE (~90 s, once)" >&2
    "${sudo_cmd[@]}" env ORACLE_CACHE_DIR="$CACHE" "$ORACLE_DIR/build.sh" >&2
  fi
  exec 9>&-
fi
[ $# -eq 0 ] || exec "$ORACLE_DIR/run.sh" "$@"
