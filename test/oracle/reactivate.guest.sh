#!/bin/bash
# Runs inside the kernel oracle guest on images left by rmeta-states.guest.sh
# (after capture-rmeta.ts has copied their rmetas): activates each VG again and
# reports what dm-raid makes of the state it finds: kernel messages, how much
# it resyncs (KiB written per disk until in sync), and whether the legs agree.
set -u
run() { echo "+ $*"; "$@"; local rc=$?; echo "[rc=$rc]"; return $rc; }
KLINES=$(dmesg | wc -l)
kmsg() {
    local n
    n=$(dmesg | wc -l)
    [ "$n" -gt "$KLINES" ] && dmesg | tail -n +$((KLINES + 1)) | grep -E 'md[:/ X]|raid|device-mapper' | sed 's/^/kmsg: /'
    KLINES=$n
}
written_kib() { local s=0 d; for d in "$@"; do set -- $(cat /sys/block/$d/stat); s=$((s + $7)); done; echo $((s / 2)); }

check() {
    local vg=$1 i st w0 dm=$1-r1
    echo "######## $vg"
    w0=$(written_kib ${DISKS_OF[$vg]})
    run vgchange -ay "$vg"
    echo "   first status: $(dmsetup status "$dm")"
    for i in $(seq 1 1500); do
        st=$(dmsetup status "$dm")
        set -- $st
        case "$6" in *[!A]*) ;; *) [ "$8" = idle ] && break ;; esac
        sleep 0.2
    done
    echo "   status: $st"
    kmsg
    echo "RESULT $vg sync_written_kib $(( $(written_kib ${DISKS_OF[$vg]}) - w0 ))"
    local sums="" n=0
    while [ -e /dev/mapper/$vg-r1_rimage_$n ]; do
        sums+="$(md5sum < /dev/mapper/$vg-r1_rimage_$n | cut -d' ' -f1) "
        n=$((n + 1))
    done
    echo "RESULT $vg legs_equal $([ "$(echo $sums | tr ' ' '\n' | sort -u | wc -l)" = 1 ] && echo yes || echo no)"
    run vgchange -an "$vg"
    kmsg
}

declare -A DISKS_OF=([vgclean]="vda vdb" [vgnosync]="vdc vdd vde" [vgdirty]="vdf vdg" [vgsyncing]="vdh vdi")
for vg in vgclean vgnosync vgdirty vgsyncing; do check $vg; done
