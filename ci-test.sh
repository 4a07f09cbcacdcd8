#!/bin/sh
# The whole test suite, from a fresh Debian 12 machine: installs the real consumers the tests run
# (netplan's generator, ovsdb-server/ovs-vsctl, nmcli, bash) from Debian's packages, then runs every test.
# A missing tool makes its test fail, never skip.
set -eu
cd "$(dirname "$0")"

need=""
for pkg in netplan.io openvswitch-switch network-manager bash tar; do
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
cargo test --workspace --locked "$@"
