#!/bin/sh
# vm/build-rootfs.sh KREL KROOT NETDEVSIM_KO
# Builds the systemd test VM's root disk (called by vm/build.sh), into .cache/vm/rootfs/:
#   bookworm-<K>/tree/          debootstrap --variant=minbase of Debian 12 with systemd, udev, iproute2,
#                               netplan.io, openvswitch-switch, network-manager (with libpam-systemd, the
#                               logind its polkitd needs), kmod, dbus (K: digest of
#                               suite + packages; about a minute, once)
#   bookworm-<K>/<I>/rootfs.ext4  that tree plus the kernel's modules (/lib/modules/KREL from the
#                               downloaded linux-image, with the built netdevsim.ko, depmod'ed), vm/rootfs/
#                               (the guest's NICs and the case runner, as systemd units) and
#                               systemd-networkd enabled, made with `mkfs.ext4 -d` (no mount). I: digest of
#                               K, KREL, this script, vm/rootfs/ and netdevsim.ko.
# Each case copies rootfs.ext4 and installs its files into the copy (vm/image-install.sh, debugfs).
# Idempotent: every step is skipped when its output exists. Needs debootstrap and e2fsprogs (ci-test.sh
# installs them) and root for debootstrap. Prints the image's path on stdout. The tree is not refreshed
# when Debian updates a package: delete .cache/vm/rootfs/ to take the mirror's current packages.
# VM_MIRROR overrides the Debian mirror (default http://deb.debian.org/debian).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
log() { echo "vm/build-rootfs: $*" >&2; }
die() { echo "vm/build-rootfs: error: $*" >&2; exit 1; }
krel=${1:?usage: vm/build-rootfs.sh KREL KROOT NETDEVSIM_KO}
kroot=${2:?usage}
nsim=${3:?usage}

for tool in debootstrap mkfs.ext4 debugfs depmod sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (apt-get install debootstrap e2fsprogs kmod)"
done
[ -d "$kroot/lib/modules/$krel/kernel" ] || die "no modules under $kroot/lib/modules/$krel"
[ -f "$nsim" ] || die "no $nsim"

suite=bookworm
pkgs="systemd,systemd-sysv,udev,iproute2,netplan.io,openvswitch-switch,network-manager,libpam-systemd,kmod,dbus"
mirror=${VM_MIRROR:-http://deb.debian.org/debian}
key=$(printf '%s %s\n' "$suite" "$pkgs" | sha256sum | cut -c1-12)
base="$top/.cache/vm/rootfs/$suite-$key"
mkdir -p "$base"

# 1. Debian 12, minimal, with what the boot under test needs.
if [ ! -f "$base/tree.ok" ]; then
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
    log "debootstrap $suite ($pkgs) from $mirror"
    rm -rf "$base/tree" "$base/tree.tmp"
    debootstrap --variant=minbase --include="$pkgs" "$suite" "$base/tree.tmp" "$mirror" >"$base/debootstrap.log" 2>&1 ||
        { tail -n 20 "$base/debootstrap.log" >&2; die "debootstrap failed (log: $base/debootstrap.log)"; }
    mv "$base/tree.tmp" "$base/tree"
    touch "$base/tree.ok"
fi

# 2. The image.
inputs=$({
    echo "$key $krel"
    cat "$here/build-rootfs.sh" "$nsim"
    (cd "$here/rootfs" && find . -type f | LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done)
} | sha256sum | cut -c1-12)
out="$base/$inputs"
if [ ! -f "$out/rootfs.ext4" ]; then
    log "building the root image $out/rootfs.ext4"
    stage="$base/stage"
    rm -rf "$stage"
    cp -a "$base/tree" "$stage"
    # Less to write: documentation, manuals, locales, apt's lists and caches.
    rm -rf "$stage/usr/share/doc" "$stage/usr/share/man" "$stage/usr/share/locale" "$stage/usr/share/info" \
        "$stage/var/lib/apt/lists" "$stage/var/cache/apt" "$stage/var/cache/debconf"/*-old
    mkdir -p "$stage/var/lib/apt/lists/partial" "$stage/var/cache/apt/archives/partial"
    # The kernel's modules, the same as the busybox initramfs's, with netdevsim.
    mkdir -p "$stage/usr/lib/modules"
    cp -a "$kroot/lib/modules/$krel" "$stage/usr/lib/modules/$krel"
    mkdir -p "$stage/usr/lib/modules/$krel/extra"
    cp "$nsim" "$stage/usr/lib/modules/$krel/extra/netdevsim.ko"
    depmod -b "$stage" "$krel"
    # The guest's NICs and the case runner.
    cp -a "$here/rootfs/." "$stage/"
    ln -sf /etc/systemd/system/plumber-vm-devices.service \
        "$stage/etc/systemd/system/sysinit.target.wants/plumber-vm-devices.service"
    ln -sf /etc/systemd/system/plumber-vm-case.service \
        "$stage/etc/systemd/system/multi-user.target.wants/plumber-vm-case.service"
    # systemd-networkd on (the renderer of both flavours: netplan's generator writes networkd files).
    mkdir -p "$stage/etc/systemd/system/sockets.target.wants" "$stage/etc/systemd/system/network-online.target.wants"
    ln -sf /lib/systemd/system/systemd-networkd.service \
        "$stage/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
    ln -sf /lib/systemd/system/systemd-networkd.socket \
        "$stage/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
    # NetworkManager is installed (the keyfile case, case 5, turns it on and networkd off) but not
    # enabled: its package enables it, and two network managers would fight over every link.
    find "$stage/etc/systemd/system" -type l \( -name 'NetworkManager*' -o -name 'dbus-org.freedesktop.nm-dispatcher.service' -o -name 'dbus-org.freedesktop.NetworkManager.service' \) -delete
    # Nothing else on the boot's path: periodic jobs, a login prompt, the wait for "online" nobody needs.
    for u in apt-daily-upgrade.timer apt-daily.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer \
        e2scrub_reap.service getty@tty1.service serial-getty@ttyS0.service systemd-networkd-wait-online.service \
        systemd-pstore.service; do
        find "$stage/etc/systemd/system" -name "$u" -type l -delete
        ln -sf /dev/null "$stage/etc/systemd/system/$u"
    done
    echo plumber-vm >"$stage/etc/hostname"
    printf '/dev/vda / ext4 rw,relatime 0 0\n' >"$stage/etc/fstab"
    mkdir -p "$out"
    rm -f "$out/rootfs.ext4.tmp"
    # Room for the case's files and the boot's writes (journal, OVSDB).
    size_mb=$(($(du -sm "$stage" | cut -f1) + 256))
    mkfs.ext4 -q -F -L plumber-root -E root_owner=0:0 -d "$stage" "$out/rootfs.ext4.tmp" "${size_mb}M" >&2 ||
        die "mkfs.ext4 -d failed"
    mv "$out/rootfs.ext4.tmp" "$out/rootfs.ext4"
    rm -rf "$stage"
fi
echo "$out/rootfs.ext4"
