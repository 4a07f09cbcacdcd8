#!/bin/sh
# The whole test suite, from a fresh Debian 12 machine: installs the real consumers the tests run
# (netplan's generator, ovsdb-server/ovs-vsctl, nmcli, bash) from Debian's packages, then runs every test.
# A missing tool makes its test fail, never skip.
set -eu
cd "$(dirname "$0")"

need=""
# The VM cases (tests/vm, vm/build.sh): qemu, busybox, the kernel source netdevsim is built from, and
# the tools to build an out-of-tree module against the downloaded kernel's headers; debootstrap and
# e2fsprogs for the systemd VM's root disk (vm/build-rootfs.sh, case 2).
for pkg in netplan.io openvswitch-switch network-manager iproute2 dash bash tar \
    qemu-system-x86 busybox-static linux-source-6.1 build-essential bc flex bison libelf-dev kmod cpio \
    xz-utils debootstrap e2fsprogs; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "ci-test: installing$need" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    # Services are not started by the tests; keep package scripts from trying.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

cargo fmt --all -- --check
# The real-kernel VM (kernel, netdevsim, initramfs) under .cache/vm/, built once and reused; the VM test
# binary also runs it, this only keeps its build out of a test's time. A failure here fails the run.
vm/build.sh >/dev/null
log=$(mktemp)
trap 'rm -f "$log" "$log.rc"' EXIT
# POSIX sh has no pipefail: keep cargo's own exit status beside the log.
{ cargo test --workspace --locked "$@"; echo $? >"$log.rc"; } 2>&1 | tee "$log"
status=$(cat "$log.rc")
# One closing line for the whole run (cargo prints one per test binary, the last often a 0-test doc run).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
