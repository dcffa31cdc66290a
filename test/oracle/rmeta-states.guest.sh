#!/bin/bash
# Runs inside the kernel oracle guest (real lvm2 2.03.16 + kernel dm-raid) and
# leaves raid1 rmeta sub-LVs in four states for capture-rmeta.ts to read off the
# images afterwards. Needs 9 blank images, in this order:
#   vda vdb      vgclean:   raid1 -m1, 16 MiB, region 512 KiB; synced, written, deactivated
#   vdc vdd vde  vgnosync:  raid1 -m2 --nosync, 16 MiB, region 2 MiB (default); written, deactivated
#   vdf vdg      vgdirty:   raid1 -m1, 32 MiB, region 256 KiB; synced, bitmap clean, then
#                           a few regions written and the guest powered off while active
#   vdh vdi      vgsyncing: raid1 -m1, 48 MiB, region 1 MiB, --maxrecoveryrate 128k;
#                           powered off while active in the middle of its initial resync
# Run with ORACLE_NO_DEACTIVATE=1, or vgdirty/vgsyncing would be stopped cleanly.
# Lines "RESULT <vg> <key> <value>" are read by capture-rmeta.ts.
set -u
t() { cut -d' ' -f1 /proc/uptime; }
run() { echo "+ $*"; "$@"; local rc=$?; echo "[rc=$rc]"; return $rc; }
die() { echo "FATAL: $*"; exit 1; }
KLINES=0
kmsg() {
    local n
    n=$(dmesg | wc -l)
    [ "$n" -gt "$KLINES" ] && dmesg | tail -n +$((KLINES + 1)) | grep -E 'md[:/ X]|raid|device-mapper' | sed 's/^/kmsg: /'
    KLINES=$n
}
result() { echo "RESULT $1 $2 $3"; }

# Waits until the raid LV's dm status reads all-A and idle (in sync).
wait_sync() {
    local dm=$1-r1 i st
    for i in $(seq 1 600); do
        st=$(dmsetup status "$dm")
        set -- $st
        case "$6" in *[!A]*) ;; *) [ "$8" = idle ] && { echo "   in sync: $st"; return 0; } ;; esac
        sleep 0.2
    done
    die "$dm not in sync: $st"
}

# The region numbers given are written with 4 KiB of random data each, direct I/O.
write_regions() {
    local vg=$1 region_kib=$2 r
    shift 2
    for r in "$@"; do
        dd if=/dev/urandom of=/dev/$vg/r1 bs=4k count=1 seek=$((r * region_kib / 4)) oflag=direct conv=notrunc 2>/dev/null \
            || die "write region $r of $vg"
    done
}

legs_md5() {
    local vg=$1 n=$2 i
    result "$vg" lv_md5 "$(md5sum < /dev/$vg/r1 | cut -d' ' -f1)"
    for i in $(seq 0 $((n - 1))); do
        result "$vg" "rimage_${i}_md5" "$(md5sum < /dev/mapper/$vg-r1_rimage_$i | cut -d' ' -f1)"
    done
}

state() {
    run dmsetup status "$1-r1"
    run dmsetup table "$1-r1"
    run lvs -a -o name,attr,segtype,copy_percent,raid_sync_action,region_size,devices "$1"
    kmsg
}

[ "${ORACLE_NDISKS:-0}" = 9 ] || die "need 9 disks, got ${ORACLE_NDISKS:-0}"
run pvcreate -q /dev/vd[a-i] || die pvcreate
run vgcreate -q vgclean /dev/vda /dev/vdb || die vgcreate
run vgcreate -q vgnosync /dev/vdc /dev/vdd /dev/vde || die vgcreate
run vgcreate -q vgdirty /dev/vdf /dev/vdg || die vgcreate
run vgcreate -q vgsyncing /dev/vdh /dev/vdi || die vgcreate

echo "## t=$(t) vgsyncing: started first so that its throttled resync runs while the others work"
run lvcreate -q -y --type raid1 -m1 -L 48M -R 1M --maxrecoveryrate 128k -n r1 vgsyncing || die lvcreate
state vgsyncing

echo "## t=$(t) vgclean"
run lvcreate -q -y --type raid1 -m1 -L 16M -R 512k -n r1 vgclean || die lvcreate
wait_sync vgclean
dd if=/dev/urandom of=/dev/vgclean/r1 bs=1M count=16 oflag=direct 2>/dev/null || die "write vgclean"
state vgclean
legs_md5 vgclean 2
run lvchange -an vgclean/r1 || die deactivate
kmsg

echo "## t=$(t) vgnosync"
run lvcreate -q -y --type raid1 -m2 --nosync -L 16M -n r1 vgnosync || die lvcreate
state vgnosync
write_regions vgnosync 2048 0 3 7
legs_md5 vgnosync 3
run lvchange -an vgnosync/r1 || die deactivate
kmsg

echo "## t=$(t) vgdirty"
run lvcreate -q -y --type raid1 -m1 -L 32M -R 256k -n r1 vgdirty || die lvcreate
wait_sync vgdirty
# The bitmap daemon clears a region's bit two sweeps (daemon_sleep 5 s each)
# after its last write; wait for the initial sync's bits to go.
sleep 12
state vgdirty
echo "## t=$(t) vgsyncing at power-off"
state vgsyncing
# Last, and quickly: two daemon sweeps (~10 s) after these writes their bits
# would be cleared again.
DIRTY="1 2 40 127"
write_regions vgdirty 256 $DIRTY
result vgdirty dirty_regions "$(echo $DIRTY | tr ' ' ,)"
sync
echo "## t=$(t) done; powering off with vgdirty and vgsyncing active"
