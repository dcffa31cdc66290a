#!/usr/bin/env bash
# The well-known LVM mirroring and backup procedure, command by command, on two
# image files standing for /dev/sdb and /dev/sdc1: a raid1 LV with an ext4
# filesystem and files on it; a disk whose PV label is wiped; the lost leg
# removed, the disk added back and the mirror repaired; a split image tracked,
# mounted and backed up; the image merged back. File checksums are verified
# after the failure, after the repair, in the backup copy and after the merge,
# reading back from the disks each time (the filesystem is mounted afresh).
# Where this machine cannot mount the LV (no FUSE or loop device, not root),
# the data is a random block written and checked through NBD instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2

scratch=$(mktemp -d /tmp/ulvm-demo.XXXXXX)
export ULVM_SYSTEM_DIR=$scratch/etc ULVM_RUN_DIR=$scratch/run ULVM_DEV_DIR=$scratch/dev ULVM_ACTIVATION=1
# An empty devices file: ulvm looks only at the devices added to it (by pvcreate),
# never at the machine's own disks.
mkdir -p "$ULVM_SYSTEM_DIR/devices" && : >"$ULVM_SYSTEM_DIR/devices/system.devices"
sdb=$scratch/sdb.img sdc1=$scratch/sdc1.img
lv=/dev/vg_data/lv_mirror
node=$ULVM_DEV_DIR/vg_data/lv_mirror
image_node=$ULVM_DEV_DIR/vg_data/lv_mirror_rimage_1
mnt=$scratch/mnt split_mnt=$scratch/split backup=$scratch/backup
manifest=$scratch/SHA256SUMS
uri() { echo "nbd+unix:///vg_data/$1?socket=$ULVM_RUN_DIR/nbd.sock"; }

ulvm() { ./bin/ulvm "$@"; }
# Prints a command and its output as a terminal would show them; stops the demo
# when its exit code is not the one expected (0 unless given first).
run() {
  local want=0
  if [[ $1 =~ ^[0-9]+$ ]]; then want=$1; shift; fi
  printf '\n$ %s\n' "$*"
  local rc=0
  "$@" || rc=$?
  [ "$rc" -eq 0 ] || echo "[exit $rc]"
  if [ "$rc" -ne "$want" ]; then echo "demo: expected exit $want" >&2; exit 1; fi
}
say() { printf '\n# %s\n' "$*"; }
lvs_health() { run ulvm lvs -a -o name,attr,segtype,devices,copy_percent,raid_sync_action,raid_mismatch_count,lv_health_status vg_data; }

# lvs until the mirror is in sync, as the guide has one watch it.
wait_sync() {
  say "waiting for $1: lvs until Cpy%Sync is 100.00"
  local state
  for _ in $(seq 1 240); do
    state=$(ulvm lvs --noheadings -o copy_percent,raid_sync_action vg_data/lv_mirror | xargs)
    echo "  lv_mirror: $state"
    [ "$state" = "100.00 idle" ] && return 0
    sleep 0.5
  done
  echo "demo: not in sync after 2 minutes" >&2
  exit 1
}

cleanup() {
  set +e
  for m in "$split_mnt" "$mnt"; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  if [ -f "$ULVM_RUN_DIR/ulvmd.pid" ]; then
    ulvm vgchange -an vg_data >/dev/null 2>&1
    kill "$(cat "$ULVM_RUN_DIR/ulvmd.pid")" 2>/dev/null
    # The daemon takes its device nodes down on the way out.
    for _ in $(seq 1 100); do [ -f "$ULVM_RUN_DIR/ulvmd.pid" ] || break; sleep 0.1; done
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# The data: files on ext4 when the LV can be mounted here, else a raw block over NBD.
mode=files
latest=""
add_data() { # name count
  if [ $mode = files ]; then
    mkdir -p "$mnt/$1"
    for i in $(seq 1 "$2"); do head -c $((RANDOM * 40 + i)) /dev/urandom >"$mnt/$1/file$i"; done
    (cd "$mnt" && sha256sum "$1"/*) >>"$manifest"
    sync -f "$mnt"
    echo "  wrote $2 files under $1/ ($(du -sh "$mnt/$1" | cut -f1))"
  else
    latest=$scratch/$1.raw
    head -c 16M /dev/urandom >"$latest"
    nbdcopy "$latest" "$(uri lv_mirror)"
    echo "  wrote 16 MiB of random data ($1) at the start of the LV over NBD"
  fi
}
# The data as the LV holds it now: the files after a fresh mount, so that no
# cache answers, or the raw block copied out over NBD.
check_data() { # what
  if [ $mode = files ]; then
    umount "$mnt"
    # The node is a loop device over an nbdfuse file: opening the file drops its page cache.
    if [ -e "$ULVM_RUN_DIR/fuse/vg_data/lv_mirror/nbd" ]; then : <"$ULVM_RUN_DIR/fuse/vg_data/lv_mirror/nbd"; fi
    mount "$node" "$mnt"
    (cd "$mnt" && sha256sum --quiet -c "$manifest") || { echo "demo: files differ $1" >&2; exit 1; }
    echo "  checksums OK $1: $(wc -l <"$manifest") files"
  else
    check_raw "$1" lv_mirror "$latest"
  fi
}
check_raw() { # what lv expected
  nbdcopy "$(uri "$2")" "$scratch/read.raw"
  cmp -n $((16 << 20)) "$scratch/read.raw" "$3" || { echo "demo: data differs $1" >&2; exit 1; }
  echo "  checksum OK $1: $(head -c 16M "$scratch/read.raw" | sha256sum | cut -c1-16)... read back over NBD from $2"
}

truncate -s 512M "$sdb" "$sdc1"
echo "Scratch folder: $scratch (PVs are the image files sdb.img and sdc1.img)"

say "1. A mirrored LV on two disks"
run ulvm pvcreate "$sdb" "$sdc1"
run ulvm vgcreate vg_data "$sdb" "$sdc1"
run ulvm lvcreate -L 256M -n lv_mirror -m1 vg_data "$sdb" "$sdc1"
run ulvm lvs -a -o +devices
wait_sync "the initial sync"

if [ "$(id -u)" -eq 0 ] && [ -e "$node" ] && mkfs.ext4 -q -F "$node" && mkdir -p "$mnt" && mount "$node" "$mnt"; then
  say "ext4 on $lv (the device node is $node), mounted on $mnt"
else
  mode=raw
  say "This machine cannot mount the LV (no FUSE or loop device, or not root): the data is checked through NBD instead"
fi
add_data before 20

say "2. A disk fails: its PV label and metadata are wiped (the LV stays in use)"
run dd if=/dev/zero of="$sdb" bs=1M count=1 conv=notrunc status=none
run ulvm lvs -a -o +devices
lvs_health
add_data after-failure 5
check_data "after the failure"

say "3. Recovery: remove the lost leg, add the disk back, repair"
run ulvm vgreduce --removemissing --mirrorsonly --force /dev/vg_data
run ulvm lvs -a -o +devices
run ulvm pvcreate "$sdb"
run ulvm vgextend /dev/vg_data "$sdb"
say "lvconvert --repair asks first; with no answer (stdin not a terminal) it does nothing"
run ulvm lvconvert --repair "$lv" </dev/null
run ulvm lvconvert -y --repair "$lv"
lvs_health
wait_sync "the new leg's recovery"
run ulvm lvs -a -o +devices
check_data "after the repair"

say "4. Backup: split one image off, tracking changes, and back it up"
if [ $mode = files ]; then sync -f "$mnt"; fi
say "A 2-legged raid1 asks before it loses its resilience; with no answer it is not split"
run 5 ulvm lvconvert --splitmirror 1 --trackchanges "$lv" </dev/null
run ulvm lvconvert -y --splitmirror 1 --trackchanges "$lv"
run ulvm lvs -a -o +devices
# The split image keeps what the LV held at the split; what is written from now on is not in it.
if [ $mode = files ]; then cp "$manifest" "$manifest.split"; fi
at_split=$latest
add_data after-split 5
if [ $mode = files ]; then
  mkdir -p "$split_mnt" "$backup"
  run mount -o ro "$image_node" "$split_mnt"
  run cp -a "$split_mnt/." "$backup/"
  (cd "$backup" && sha256sum --quiet -c "$manifest.split") || { echo "demo: the backup differs" >&2; exit 1; }
  echo "  checksums OK in the backup copy: $(wc -l <"$manifest.split") files"
  say "The image cannot be merged while it is mounted"
  run 5 ulvm lvconvert --merge /dev/vg_data/lv_mirror_rimage_1
  run umount "$split_mnt"
else
  check_raw "in the backup copy" lv_mirror_rimage_1 "$at_split"
fi

say "5. Merge the image back (the guide calls it lv_backup_rimage_1: ulvm says what it is called)"
run 5 ulvm lvconvert --merge /dev/vg_data/lv_backup_rimage_1
run ulvm lvconvert --merge /dev/vg_data/lv_mirror_rimage_1
wait_sync "the merge (only the regions written meanwhile are copied)"
run ulvm lvs -a -o +devices
check_data "after the merge"

say "Finally the legs are compared byte for byte on the disks"
if [ $mode = files ]; then umount "$mnt"; fi
run ulvm vgchange -an vg_data
extent=$(ulvm vgs --noheadings --units b --nosuffix -o vg_extent_size vg_data | xargs)
# Where an image lies: its disk, and the byte on it where it starts.
devices_of() { ulvm lvs -a --noheadings -o devices -S "lv_name=$1" vg_data | xargs; }
disk() { devices_of "$1" | sed 's/([0-9]*)$//'; }
offset() {
  local pe start
  pe=$(devices_of "$1" | sed 's/.*(\([0-9]*\))$/\1/')
  start=$(ulvm pvs --noheadings --units b --nosuffix -o pe_start "$(disk "$1")" | xargs)
  echo $((start + pe * extent))
}
run cmp -n $((256 << 20)) -i "$(offset lv_mirror_rimage_0):$(offset lv_mirror_rimage_1)" "$(disk lv_mirror_rimage_0)" "$(disk lv_mirror_rimage_1)"
echo "  the two legs hold the same 256 MiB"
echo
echo "Done: the mirror was repaired, backed up from its split image and merged back, with the data intact at every step."
