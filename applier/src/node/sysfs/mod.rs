//! SR-IOV through sysfs: [`discover_sriov`] reads the NICs, PFs and their VFs in HostPlumber's `interfaceStatus`
//! format; the [`ops`] plan and carry out VF counts, VF driver binding and `sriov_drivers_autoprobe`;
//! [`nic`] binds a NIC's own driver (`pfDriver`, DPDK uplinks).
//!
//! Everything takes the sysfs root (`/sys` on a host, a fixture tree in tests). VF MAC, VLAN, QoS, trust
//! and spoofchk are netlink's, not sysfs's.

mod discover;
pub(crate) mod nic;
pub(crate) mod node;
mod ops;

pub use discover::discover_sriov;
pub use ops::{
    bind_vf_driver, plan_bind_driver, plan_drivers_autoprobe, plan_num_vfs, rollback,
    rollback_steps, run, run_with, set_drivers_autoprobe, set_num_vfs, Planned, Step, SysfsWrite,
};
