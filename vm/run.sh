#!/bin/sh
# vm/run.sh PAYLOAD_DIR [TIMEOUT_SECS]
# Boots the test VM built by vm/build.sh (qemu-system-x86_64, TCG: this machine has no KVM) with
# PAYLOAD_DIR shared read-write over virtio-9p; the guest's /init runs PAYLOAD_DIR/case.sh.
# Afterwards PAYLOAD_DIR/out/ holds guest.log (case.sh's output), rc, and console.log (the serial
# console). Exit: case.sh's exit code; 124 when the VM overran TIMEOUT_SECS (default 300); 125 when the
# VM ended without a result (panic, bad payload); 126 when the VM is not built or qemu is missing.
# PLUMBER_VM_DISK=IMAGE boots the systemd VM instead: IMAGE (a copy of the rootfs.ext4 vm/build.sh makes,
# with the case's files installed by vm/image-install.sh) as virtio disk /dev/vda, which the initramfs
# mounts and switch_roots to; its plumber-vm-case.service runs PAYLOAD_DIR/case.sh the same way.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
payload=$(cd "${1:?usage: vm/run.sh PAYLOAD_DIR [TIMEOUT_SECS]}" && pwd)
timeout_secs=${2:-300}
vm=${PLUMBER_VM_DIR:-$here/../.cache/vm/current}
command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "vm/run: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 126; }
for f in vmlinuz initramfs.cpio.gz; do
    [ -e "$vm/$f" ] || { echo "vm/run: $vm/$f missing; run vm/build.sh" >&2; exit 126; }
done
mkdir -p "$payload/out"
rm -f "$payload/out/rc" "$payload/out/guest.log"
disk_args=
root_arg=
if [ -n "${PLUMBER_VM_DISK:-}" ]; then
    [ -f "$PLUMBER_VM_DISK" ] || { echo "vm/run: $PLUMBER_VM_DISK missing" >&2; exit 126; }
    disk_args="-drive file=$PLUMBER_VM_DISK,format=raw,if=virtio,cache=unsafe"
    root_arg="plumber.root=/dev/vda"
fi
start=$(date +%s.%N)
set +e
timeout --foreground -k 5 "$timeout_secs" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -smp 2 -m 1G \
    -nographic -no-reboot -nodefaults -serial stdio -monitor none \
    -kernel "$vm/vmlinuz" -initrd "$vm/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init $root_arg ${PLUMBER_VM_APPEND:-}" \
    $disk_args \
    -fsdev local,id=payload,path="$payload",security_model=none \
    -device virtio-9p-pci,fsdev=payload,mount_tag=payload \
    </dev/null >"$payload/out/console.log" 2>&1
qrc=$?
set -e
end=$(date +%s.%N)
echo "vm/run: VM ran $(echo "$end - $start" | bc) s (qemu exit $qrc)" >&2
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
    echo "vm/run: timeout after ${timeout_secs}s; console tail:" >&2
    tail -n 20 "$payload/out/console.log" >&2
    exit 124
fi
if [ ! -f "$payload/out/rc" ]; then
    echo "vm/run: the guest left no result; console tail:" >&2
    tail -n 30 "$payload/out/console.log" >&2
    exit 125
fi
exit "$(cat "$payload/out/rc")"
