#!/usr/bin/env bash
# The mirror workflow on image files, command by command, as far as ulvm goes
# today (metadata: create, lose a disk, remove the missing leg, add a new disk).
# Repair, split and merge need the daemon's raid1 engine (issues 3-5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2

scratch=$(mktemp -d /tmp/ulvm-demo.XXXXXX)
export ULVM_SYSTEM_DIR=$scratch/etc ULVM_RUN_DIR=$scratch/run ULVM_DEV_DIR=$scratch/dev
# An empty devices file: ulvm looks only at the devices added to it (by pvcreate),
# never at the machine's own disks.
mkdir -p "$ULVM_SYSTEM_DIR/devices" && : >"$ULVM_SYSTEM_DIR/devices/system.devices"
ulvm() { ./bin/ulvm "$@"; }
step() {
  printf '\n$ ulvm %s\n' "$*"
  set +e; ulvm "$@"; rc=$?; set -e
  [ "$rc" -eq 0 ] || echo "[exit $rc]"
}

stop_daemon() {
  [ -f "$ULVM_RUN_DIR/ulvmd.pid" ] && kill "$(cat "$ULVM_RUN_DIR/ulvmd.pid")" 2>/dev/null || true
}
trap 'stop_daemon; sleep 1; rm -rf "$scratch"' EXIT

sdb=$scratch/sdb.img sdc1=$scratch/sdc1.img
truncate -s 512M "$sdb" "$sdc1"
echo "Scratch folder: $scratch (PVs are the image files sdb.img and sdc1.img)"

step pvcreate "$sdb" "$sdc1"
step vgcreate vg_data "$sdb" "$sdc1"
# -an: the raid1 engine is not there yet, so the mirror is made but not activated.
step lvcreate -an -L 256M -n lv_mirror -m1 vg_data "$sdb" "$sdc1"
step lvs -a -o +devices

printf '\n# A disk fails: its PV label and metadata are wiped\n$ dd if=/dev/zero of=%s bs=1M count=1 conv=notrunc\n' "$sdb"
dd if=/dev/zero of="$sdb" bs=1M count=1 conv=notrunc status=none
step lvs -a -o +devices
step vgreduce --removemissing --mirrorsonly --force /dev/vg_data
step lvs -a -o +devices
step pvcreate "$sdb"
step vgextend /dev/vg_data "$sdb"
step vgs
step pvs

# A linear LV, activated: the daemon serves it over NBD.
step lvcreate -L 64M -n lv_data vg_data
step lvs -a
if command -v nbdinfo >/dev/null; then
  printf '\n$ nbdinfo --list nbd+unix:///?socket=%s\n' "$ULVM_RUN_DIR/nbd.sock"
  nbdinfo --list "nbd+unix:///?socket=$ULVM_RUN_DIR/nbd.sock" | sed -n '1,12p'
fi
step vgchange -an vg_data
echo
echo "Done. Repair, split and merge come with the raid1 engine; see the README."
