//! The VM cases: plumber on a real Debian 6.1 kernel (8021q, bonding, netdevsim SR-IOV, openvswitch),
//! booted under qemu (TCG) by `vm/run.sh` from what `vm/build.sh` builds out of Debian's packages.
//! Each case prepares a payload directory (binaries, their shared libraries, templates, a guest
//! script), boots the VM on it, and asserts on what the guest leaves in `out/`. A missing qemu, kernel
//! or tool fails the case: nothing here skips.

mod harness;

mod case1_applier;
mod case2_reboot;
mod case3_drift;
mod case4_comprehensive;
mod case5_networkmanager;
