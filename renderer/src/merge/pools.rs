//! The node-level rules of device plugin pools, checked on the merged SR-IOV claims: one pool (one
//! `<resourcePrefix>/<resourceName>`) has one set of options and one device type on a node, whichever
//! PFs and templates feed it. (One VF in two pools is the per-VF claim rule of `sriov`.)
//!
//! The device type follows from the VF driver (the PF's own for a whole NIC in PF mode): `vfio-pci`,
//! `uio_pci_generic` and `igb_uio` give a userspace device (a pod gets `/dev/vfio/N`), any kernel
//! driver, or none, a network interface.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Conflict;
use crate::model::DriverName;
use crate::node::{PfSelector, Pool};

use super::claims::Claim;
use super::sriov::PfB;

/// A pool's device type, and which driver (field and name) gave it, as shown in a conflict.
#[derive(Clone)]
struct DeviceType {
    userspace: bool,
    because: String,
}

impl DeviceType {
    /// The type `driver` (the templates' `field`, canonical, or none) gives: userspace for the drivers
    /// [`DriverName::is_userspace`] names, a network interface for any other or none.
    fn of(field: &str, driver: Option<&str>) -> DeviceType {
        let userspace = driver
            .and_then(|d| DriverName::parse(d).ok())
            .is_some_and(|d| d.is_userspace());
        let kind = if userspace { "userspace" } else { "netdevice" };
        let because = match driver {
            Some(d) => format!("{kind} ({field} {d})"),
            None => format!("{kind} (no {field})"),
        };
        DeviceType { userspace, because }
    }
}

/// A conflict for every pool fed with two sets of options or two device types.
pub(super) fn check(pfs: &BTreeMap<PfSelector, PfB>, conflicts: &mut Vec<Conflict>) {
    let mut first: BTreeMap<(String, String), (Claim<Pool>, DeviceType)> = BTreeMap::new();
    let mut reported: BTreeSet<(String, String, &'static str)> = BTreeSet::new();
    for pf in pfs.values() {
        let vf_kind = DeviceType::of("vfDriver", pf.vf_driver());
        let vfs = pf.pool_claims().map(|c| (c, vf_kind.clone()));
        let whole = pf
            .pf_pool_claim()
            .map(|(c, d)| (c, DeviceType::of("pfDriver", d)));
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
            if seen_kind.userspace != kind.userspace
                && reported.insert((key.0.clone(), key.1, "type"))
            {
                conflicts.push(Conflict {
                    field: format!("the device type of pool {resource}"),
                    first: seen.side(seen_kind.because.clone()),
                    second: claim.side(kind.because.clone()),
                });
            }
        }
    }
}
