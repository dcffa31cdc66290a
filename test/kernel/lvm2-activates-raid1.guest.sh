#!/bin/bash
# Kernel oracle guest, case A of raid1-interop.test.ts: real lvm2 and dm-raid
# activate a raid1 that another tool made, synced, wrote and stopped cleanly.
# Reports what the kernel makes of it at once (status, kernel messages, bytes
# written by activation), then whether the legs are equal and the LV's md5.
# Env: VG, LV. Prints "RESULT key value" lines for the test.
set -u
run() { echo "+ $*"; "$@"; local rc=$?; echo "[rc=$rc]"; return $rc; }
written_kib() { local d s=0; for d in /sys/block/vd*; do set -- $(cat $d/stat); s=$((s + $7)); done; echo $((s / 2)); }
dm=$VG-$LV

run lvs -a -o name,attr,segtype,devices,region_size "$VG"
klines=$(dmesg | wc -l)
w0=$(written_kib)
run vgchange -ay "$VG" || exit 1
echo "RESULT first_status $(dmsetup status "$dm")"
run lvs -o name,copy_percent,raid_sync_action "$VG/$LV"
# md starts a resync from its own thread once the table is loaded, so a first
# "idle" may come before it: look again a little later.
sleep 2
echo "RESULT later_status $(dmsetup status "$dm")"
echo "RESULT activation_written_kib $(( $(written_kib) - w0 ))"
dmesg | tail -n +$((klines + 1)) | grep -E 'md[:/X]|device-mapper: raid' | sed 's/^/RESULT kmsg /'
if out=$(cmp "/dev/mapper/${dm}_rimage_0" "/dev/mapper/${dm}_rimage_1" 2>&1); then
    echo "RESULT legs_cmp equal"
else
    echo "RESULT legs_cmp $out"
fi
echo "RESULT lv_md5 $(md5sum < "/dev/$VG/$LV" | cut -d' ' -f1)"
run vgchange -an "$VG"
