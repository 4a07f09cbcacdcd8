#!/bin/sh
# Builds the real-kernel test VM from Debian's packages only, into .cache/vm/<kernel-release>/:
#   vmlinuz           the Debian 6.1 kernel (linux-image-*-amd64, apt-get download + dpkg-deb -x; nothing
#                     is installed into /)
#   netdevsim.ko      built out of tree from linux-source-6.1 against the downloaded kernel's own headers
#                     (Debian does not build netdevsim), with vm/netdevsim-sriov_totalvfs.patch
#   initramfs.cpio.gz busybox-static, the modules the cases need (with their dependencies, depmod'ed) and
#                     vm/init
#   rootfs.ext4       the systemd VM's root disk, by vm/build-rootfs.sh (Debian 12 by debootstrap)
# Idempotent: every step is skipped when its output exists; the key is the kernel release plus a digest
# of the harness's own inputs (this script, the patch, vm/init), so editing them rebuilds.
#
# Needs (ci-test.sh installs them): qemu-system-x86 busybox-static linux-source-6.1 build-essential bc
# flex bison libelf-dev kmod cpio xz-utils debootstrap e2fsprogs. Prints the cache directory on stdout.
# VM_KERNEL=6.1.0-NN-amd64 picks a kernel release; the default is the one linux-image-amd64 depends on.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
log() { echo "vm/build: $*" >&2; }
die() { echo "vm/build: error: $*" >&2; exit 1; }

for tool in apt-get apt-cache dpkg-deb make gcc-12 depmod modprobe cpio gzip tar xz patch; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool"
done
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx insmod || die "missing /bin/busybox (busybox-static)"
ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is dynamic; install busybox-static"
src_tar=/usr/src/linux-source-6.1.tar.xz
[ -f "$src_tar" ] || die "missing $src_tar (apt-get install linux-source-6.1)"

krel=${VM_KERNEL:-}
if [ -z "$krel" ]; then
    krel=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: linux-image-\(6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n1)
fi
[ -n "$krel" ] || die "cannot tell the kernel release (apt-cache depends linux-image-amd64)"
abi=${krel%-amd64}
kver=$(apt-cache show "linux-image-$krel" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
[ -n "$kver" ] || die "linux-image-$krel is not known to apt"
srcver=$(dpkg-query -W -f '${Version}' linux-source-6.1 2>/dev/null || true)
[ "$srcver" = "$kver" ] || die "linux-source-6.1 is $srcver but linux-image-$krel is $kver: netdevsim must be built from the same source (apt-get install linux-source-6.1=$kver, or VM_KERNEL=...)"

inputs=$(cat "$here/build.sh" "$here/netdevsim-sriov_totalvfs.patch" "$here/init" | sha256sum | cut -c1-12)
cache="$top/.cache/vm/$krel"
out="$cache/$inputs"
mkdir -p "$cache/debs"

# 1. Debian's packages, downloaded and extracted (never installed).
if [ ! -f "$cache/extracted.ok" ]; then
    log "downloading linux-image-$krel $kver and its headers"
    (cd "$cache/debs" && apt-get download -q "linux-image-$krel=$kver" "linux-headers-$krel=$kver" \
        "linux-headers-$abi-common=$kver" "linux-kbuild-6.1=$kver" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
        die "apt-get download failed"
    rm -rf "$cache/root"
    mkdir -p "$cache/root"
    for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$cache/root"; done
    # The headers' Makefile includes the common headers by absolute path; point it into the cache.
    sed -i "s|^include /usr/src/|include $cache/root/usr/src/|" "$cache/root/usr/src/linux-headers-$krel/Makefile"
    touch "$cache/extracted.ok"
fi
kroot="$cache/root"
[ -f "$kroot/boot/vmlinuz-$krel" ] || die "no vmlinuz in linux-image-$krel"

# 2. netdevsim, out of tree, against exactly this kernel's headers (the host runs another kernel).
if [ ! -f "$out/netdevsim.ko" ]; then
    log "building netdevsim.ko for $krel"
    rm -rf "$cache/nsim-src" "$cache/nsim"
    mkdir -p "$cache/nsim-src" "$out"
    tar -xJf "$src_tar" -C "$cache/nsim-src" --wildcards 'linux-source-6.1/drivers/net/netdevsim/*'
    mv "$cache/nsim-src/linux-source-6.1/drivers/net/netdevsim" "$cache/nsim"
    rm -rf "$cache/nsim-src"
    if ! grep -q sriov_totalvfs "$cache/nsim/bus.c"; then
        (cd "$cache/nsim" && patch -p1 -s <"$here/netdevsim-sriov_totalvfs.patch")
    fi
    make -s -C "$kroot/usr/src/linux-headers-$krel" M="$cache/nsim" CONFIG_NETDEVSIM=m modules >&2 ||
        die "netdevsim build failed"
    modinfo -F vermagic "$cache/nsim/netdevsim.ko" | grep -q "^$krel " || die "netdevsim.ko has the wrong vermagic"
    cp "$cache/nsim/netdevsim.ko" "$out/netdevsim.ko.tmp" && mv "$out/netdevsim.ko.tmp" "$out/netdevsim.ko"
fi

# 3. The initramfs: busybox, modules with their dependencies, /init.
if [ ! -f "$out/initramfs.cpio.gz" ]; then
    log "building the initramfs"
    mkdir -p "$kroot/lib/modules/$krel/extra"
    cp "$out/netdevsim.ko" "$kroot/lib/modules/$krel/extra/netdevsim.ko"
    depmod -b "$kroot" "$krel"
    ird="$cache/initramfs"
    rm -rf "$ird"
    mkdir -p "$ird/bin" "$ird/sbin" "$ird/etc" "$ird/proc" "$ird/sys" "$ird/dev" "$ird/tmp" "$ird/run" \
        "$ird/mnt" "$ird/lib/modules/$krel" "$ird/usr/bin" "$ird/usr/sbin" "$ird/var/run" "$ird/root"
    cp /bin/busybox "$ird/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$ird/bin/$applet"
    done
    # Everything the cases load, in dependency order (modprobe's own resolution, against the image's
    # modules.dep). virtio transport + 9p for the payload share; the networking under test.
    # virtio_blk, ext4 and crc32c: the systemd VM's root disk (vm/init switches to it on plumber.root=).
    mods="virtio_pci virtio_console 9pnet_virtio 9p dummy veth 8021q bonding netdevsim openvswitch virtio_blk crc32c_generic ext4"
    : >"$ird/etc/modules.load"
    for m in $mods; do
        modprobe -d "$kroot" -S "$krel" --show-depends "$m" >"$cache/dep.txt" || die "module $m not found"
        while read -r kind path _rest; do
            [ "$kind" = insmod ] || continue
            rel=${path#"$kroot"}
            grep -qx "$rel" "$ird/etc/modules.load" && continue
            mkdir -p "$ird$(dirname "$rel")"
            cp "$path" "$ird$rel"
            echo "$rel" >>"$ird/etc/modules.load"
        done <"$cache/dep.txt"
    done
    cp "$kroot/lib/modules/$krel/modules.order" "$kroot/lib/modules/$krel/modules.builtin" \
        "$kroot/lib/modules/$krel/modules.builtin.modinfo" "$ird/lib/modules/$krel/"
    depmod -b "$ird" "$krel"
    cp "$here/init" "$ird/init"
    chmod 755 "$ird/init"
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ird/etc/passwd"
    printf 'root:x:0:\n' >"$ird/etc/group"
    (cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.cpio.gz.tmp"
    mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
    rm -rf "$ird"
fi
ln -sf "$kroot/boot/vmlinuz-$krel" "$out/vmlinuz"
# 4. The systemd VM's root disk (case 2): Debian 12 by debootstrap, cached on its own key.
rootfs=$("$here/build-rootfs.sh" "$krel" "$kroot" "$out/netdevsim.ko") || die "vm/build-rootfs.sh failed"
ln -sf "$rootfs" "$out/rootfs.ext4"
# The one place the tests look: .cache/vm/current -> the built kernel/initramfs.
ln -sfn "$out" "$top/.cache/vm/current.tmp" && mv -T "$top/.cache/vm/current.tmp" "$top/.cache/vm/current"
echo "$out"
