//! The node-level rules of device plugin pools, checked on the merged SR-IOV claims: one pool (one
//! `<resourcePrefix>/<resourceName>`) has one set of options and one device type on a node, whichever
//! PFs and templates feed it. (One VF in two pools is the per-VF claim rule of `sriov`.)
//!
//! The device type follows from the VF driver (the PF's own for a whole NIC in PF mode): `vfio-pci`,
//! `uio_pci_generic` and `igb_uio` give a userspace device (a pod gets `/dev/vfio/N`), any kernel
//! driver, or none, a network interface.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Conflict;
use crate::node::{PfSelector, Pool};

use super::claims::Claim;
use super::sriov::PfB;

/// Drivers that take a VF away from the kernel's network stack.
const USERSPACE_DRIVERS: &[&str] = &["vfio-pci", "uio_pci_generic", "igb_uio"];

/// The device type a pool gets from a PF's VF driver, as shown in a conflict.
pub(super) fn device_type(field: &str, driver: Option<&str>) -> String {
    match driver {
        Some(d) if USERSPACE_DRIVERS.contains(&d) => format!("userspace ({field} {d})"),
        Some(d) => format!("netdevice ({field} {d})"),
        None => format!("netdevice (no {field})"),
    }
}

/// Whether two device types (as [`device_type`] shows them) are the same kind.
fn same_kind(a: &str, b: &str) -> bool {
    a.split(' ').next() == b.split(' ').next()
}

/// A conflict for every pool fed with two sets of options or two device types.
pub(super) fn check(pfs: &BTreeMap<PfSelector, PfB>, conflicts: &mut Vec<Conflict>) {
    let mut first: BTreeMap<(String, String), (Claim<Pool>, String)> = BTreeMap::new();
    let mut reported: BTreeSet<(String, String, &'static str)> = BTreeSet::new();
    for pf in pfs.values() {
        let vf_kind = device_type("vfDriver", pf.vf_driver());
        let vfs = pf.pool_claims().map(|c| (c, vf_kind.clone()));
        let whole = pf
            .pf_pool_claim()
            .map(|(c, d)| (c, device_type("pfDriver", d)));
        for (claim, kind) in vfs.chain(whole) {
            let key = (claim.value.prefix.clone(), claim.value.name.clone());
            let Some((seen, seen_kind)) = first.get(&key) else {
                first.insert(key, (claim.clone(), kind.clone()));
                continue;
            };
            let resource = claim.value.resource();
            if seen.value != claim.value
                && reported.insert((key.0.clone(), key.1.clone(), "options"))
            {
                conflicts.push(Conflict {
                    field: format!("the options of pool {resource}"),
                    first: seen.side(seen.value.options()),
                    second: claim.side(claim.value.options()),
                });
            }
            if !same_kind(seen_kind, &kind) && reported.insert((key.0.clone(), key.1, "type")) {
                conflicts.push(Conflict {
                    field: format!("the device type of pool {resource}"),
                    first: seen.side(seen_kind.clone()),
                    second: claim.side(kind.clone()),
                });
            }
        }
    }
}
