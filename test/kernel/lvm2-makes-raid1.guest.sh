#!/bin/bash
# Kernel oracle guest, case B of raid1-interop.test.ts: real lvm2 and dm-raid
# make a raid1 on the blank disks, let the initial sync finish, fill the LV with
# random data and stop it cleanly, so that ulvm finds what a real system leaves.
# Env: VG, LV, SIZE. Prints "RESULT key value" lines for the test.
set -u
run() { echo "+ $*"; "$@"; local rc=$?; echo "[rc=$rc]"; return $rc; }
dm=$VG-$LV

run pvcreate $ORACLE_DISKS || exit 1
run vgcreate "$VG" $ORACLE_DISKS || exit 1
run lvcreate -y -m1 -L "$SIZE" -n "$LV" "$VG" $ORACLE_DISKS || exit 1
# Written before the sync is done, the data would race the resync; real lvm2 is
# waited for as a user would, on dm-raid's status: every leg 'A', ratio full, idle.
for i in $(seq 1 600); do
    set -- $(dmsetup status "$dm")
    [ "$6" = AA ] && [ "${7%/*}" = "${7#*/}" ] && [ "$8" = idle ] && break
    sleep 0.2
done
echo "RESULT synced_status $(dmsetup status "$dm")"
run lvs -a -o name,attr,segtype,devices,copy_percent,raid_sync_action,region_size "$VG"
run dd if=/dev/urandom of="/dev/$VG/$LV" bs=1M count="${SIZE%M}" oflag=direct status=none || exit 1
echo "RESULT lv_md5 $(md5sum < "/dev/$VG/$LV" | cut -d' ' -f1)"
echo "RESULT legs_md5 $(md5sum < "/dev/mapper/$dm"_rimage_0 | cut -d' ' -f1) $(md5sum < "/dev/mapper/$dm"_rimage_1 | cut -d' ' -f1)"
run lvchange -an "$VG/$LV" || exit 1
run vgchange -an "$VG" || exit 1
dmesg | grep -E 'md[:/X]|device-mapper: raid' | sed 's/^/kmsg: /'
