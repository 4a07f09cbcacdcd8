#!/bin/sh
# The whole test suite, from a fresh Debian 12 machine: installs the real consumers the tests run
# (netplan's generator, ovsdb-server/ovs-vsctl, nmcli, bash, PyYAML; groff for the man pages, git for the
# commit `--version` names) from Debian's packages, then runs every test.
# A missing tool makes its test fail, never skip.
set -eu
cd "$(dirname "$0")"

need=""
# The VM cases (tests/vm, vm/build.sh): qemu, busybox, the kernel source netdevsim is built from, and
# the tools to build an out-of-tree module against the downloaded kernel's headers; debootstrap and
# e2fsprogs for the systemd VM's root disk (vm/build-rootfs.sh, case 2). python3-yaml: PyYAML, the YAML 1.1
# reader the tests feed plumber's YAML to (tests/support/pyyaml.rs). The cluster tests (tests/cluster): etcd
# (etcd-server) under the API server of ../shared/k8s/, whose keys openssl makes; xz-utils unpacks it (and
# ../shared/sriovdp/'s SR-IOV device plugin, which names devices from pci.ids: tests/render/device_plugin.rs).
for pkg in netplan.io openvswitch-switch network-manager iproute2 dash bash tar git groff-base python3-yaml \
    qemu-system-x86 busybox-static linux-source-6.1 build-essential bc flex bison libelf-dev kmod cpio \
    xz-utils debootstrap e2fsprogs etcd-server openssl pci.ids util-linux; do
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
# Lints are errors: a warning left in is a warning nobody reads.
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
# Doc links are checked: a module moved or an item renamed breaks the comment that names it.
RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -A rustdoc::private_intra_doc_links" \
    cargo doc --workspace --no-deps --document-private-items --locked --quiet
# The real-kernel VM (kernel, netdevsim, initramfs) under .cache/vm/, built once and reused; the VM test
# binary also runs it, this only keeps its build out of a test's time. A failure here fails the run.
vm/build.sh >/dev/null
# The image's binary (deploy/Dockerfile: FROM scratch, no libc) must link with no shared library and run.
# The same static link as the Dockerfile's, in the dev profile: linking is what could fail, and the
# image profile's fat LTO would add minutes to every CI run for the same answer. Its own target dir, so
# its RUSTFLAGS do not rebuild the tests' crates.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked -p plumber \
    --target x86_64-unknown-linux-gnu --target-dir target/static
static_bin=target/static/x86_64-unknown-linux-gnu/debug/plumber
# ldd (libc-bin, always there) says "statically linked" for static and static-pie executables alike.
if ! ldd "$static_bin" 2>&1 | grep -q 'statically linked'; then
    echo "ci-test: $static_bin is not statically linked:" >&2
    ldd "$static_bin" >&2 || true
    exit 1
fi
"$static_bin" --version >/dev/null || { echo "ci-test: $static_bin --version failed" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log" "$log.rc"' EXIT
# POSIX sh has no pipefail: keep cargo's own exit status beside the log. `|| rc=$?`, because under
# `set -e` a failing cargo would end the group before the status is written.
{ rc=0; cargo test --workspace --locked "$@" || rc=$?; echo "$rc" >"$log.rc"; } 2>&1 | tee "$log"
status=$(cat "$log.rc")
# One closing line for the whole run (cargo prints one per test binary, the last often a 0-test doc run).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
