//! The applier's integration tests: one binary, one module per concern.

mod apply_cli;
mod cli;
mod common;
mod crash;
mod do_no_harm;
mod guard;
mod hostplumber_status;
mod install;
mod netns;
mod nic_driver;
mod ovs;
mod readme;
mod scoped;
mod sysfs;
mod sysfs_fixture;
mod uplink;
mod vf;
mod vf_mtu;
mod watch;
