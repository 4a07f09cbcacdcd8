//! What a node's SR-IOV configuration asks of sysfs: the VF count of every PF (through 0 when it changes)
//! and then the driver of every VF. Pure, on the discovered `interfaceStatus` list; the VF bindings come
//! in as data ([`Binding`]) so that the plan prints the same against a host and a fixture tree.
//!
//! Two stages, because a VF's PCI address exists only once its PF has VFs: [`plan_counts`] first, then
//! [`plan_drivers`] on the node as it is after the counts were carried out.
//!
//! ```yaml
//! sriovConfig:
//! - pfName: ens1f0
//!   numVfs: 8          # plan_counts: 4 -> 0 -> 8, each followed by a wait for the virtfn links
//!   vfDriver: vfio-pci # plan_drivers: driver_override + drivers_probe for every VF not bound to it
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use plumber_render::inventory::InterfaceStatus;
use plumber_render::model::{DriverName, PciAddr};
use plumber_render::node::SriovPf;

use super::discover::{link_basename, read_parsed};
use super::ops::{device_path, plan_bind_driver, plan_num_vfs, Planned, Step, SysfsWrite};
use crate::node::{Error, Result};

/// A VF's driver as sysfs has it: the bound driver and `driver_override`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Binding {
    pub(crate) driver: Option<String>,
    pub(crate) driver_override: Option<String>,
}

/// The discovered NIC a configured PF is (by PCI address; the merge resolved names and IDs to it).
fn nic<'a>(pf: &SriovPf, nics: &'a [InterfaceStatus]) -> Result<&'a InterfaceStatus> {
    let found = match (&pf.pci, &pf.name) {
        (Some(pci), _) => nics.iter().find(|n| n.pci_addr.as_ref() == Some(pci)),
        (None, Some(name)) => nics.iter().find(|n| n.pf_name.as_deref() == Some(name)),
        (None, None) => None,
    };
    found.ok_or_else(|| {
        Error::Sysfs(format!(
            "SR-IOV PF ({}) is not a PCI NIC of this node",
            pf.selector
        ))
    })
}

/// The VF-count steps for every PF whose `numVfs` differs from what it has (through 0; ≤ totalvfs).
pub(crate) fn plan_counts(desired: &[SriovPf], nics: &[InterfaceStatus]) -> Result<Vec<Planned>> {
    let mut plan = Vec::new();
    for pf in desired {
        let Some(want) = pf.num_vfs else { continue };
        let nic = nic(pf, nics)?;
        let pci = nic.pci_addr.filter(|_| nic.bus.is_none()).ok_or_else(|| {
            Error::Sysfs(format!(
                "SR-IOV PF ({}) is not a PCI NIC of this node",
                pf.selector
            ))
        })?;
        // No VFs asked of a NIC that cannot have any (a whole NIC for vfio-pci): nothing to do.
        if want == 0 && nic.sriov_status.is_none() {
            continue;
        }
        let status = nic.sriov_status.as_ref().ok_or_else(|| {
            Error::Sysfs(format!(
                "{} ({pci}) does not do SR-IOV (no sriov_totalvfs)",
                nic.pf_name.as_deref().unwrap_or("?")
            ))
        })?;
        let total = status.total_vfs.unwrap_or(0);
        let have = status.num_vfs.unwrap_or(0);
        plan.extend(plan_num_vfs(pci, have, want, total)?);
    }
    Ok(plan)
}

/// The driver-binding steps for every VF of a PF with a `vfDriver` that is not bound to it (by its
/// canonical name, `iavf` for `i40evf`). `bindings` has every VF's current binding (see [`bindings`]).
pub(crate) fn plan_drivers(
    desired: &[SriovPf],
    nics: &[InterfaceStatus],
    bindings: &BTreeMap<PciAddr, Binding>,
) -> Result<Vec<Planned>> {
    let mut plan = Vec::new();
    for pf in desired {
        let Some(driver) = &pf.vf_driver else {
            continue;
        };
        let nic = nic(pf, nics)?;
        let Some(status) = &nic.sriov_status else {
            continue;
        };
        for vf in &status.vfs {
            let Some(pci) = vf.pci_addr else { continue };
            let b = bindings.get(&pci).cloned().unwrap_or_default();
            plan.extend(plan_bind_driver(
                pci,
                &driver.canonical(),
                b.driver.as_deref(),
                b.driver_override.as_deref(),
            ));
        }
    }
    Ok(plan)
}

/// The steps that put back the VF bindings of `before` (VFs a count change destroyed and its rollback
/// re-created come back unbound, or bound by autoprobe): each VF still there is bound to its old driver
/// (or unbound) and gets its old `driver_override` back.
pub(crate) fn plan_restore(
    before: &BTreeMap<PciAddr, Binding>,
    now: &BTreeMap<PciAddr, Binding>,
) -> Vec<Planned> {
    let mut plan = Vec::new();
    for (pci, was) in before {
        let Some(is) = now.get(pci) else { continue };
        if was == is {
            continue;
        }
        let override_path = device_path(*pci).join("driver_override");
        let mut override_now = is.driver_override.clone();
        match (&was.driver, &is.driver) {
            (Some(d), cur) if cur.as_ref() != Some(d) => {
                let Ok(name) = DriverName::parse(d) else {
                    continue;
                };
                plan.extend(plan_bind_driver(
                    *pci,
                    &name,
                    cur.as_deref(),
                    is.driver_override.as_deref(),
                ));
                override_now = Some(d.clone());
            }
            (None, Some(cur)) => plan.push(Planned {
                step: Step::Unbind {
                    dev: *pci,
                    driver: cur.clone(),
                },
                inverse: vec![],
            }),
            _ => {}
        }
        if override_now != was.driver_override {
            plan.push(Planned {
                step: Step::Write(SysfsWrite {
                    path: override_path,
                    value: was.driver_override.clone().unwrap_or_else(|| "\n".into()),
                }),
                inverse: vec![],
            });
        }
    }
    plan
}

/// The binding of every VF in `nics`, and of every PCI NIC (whose own driver a `pfDriver` or a DPDK
/// uplink may set), read from `sysfs`.
pub(crate) fn bindings(sysfs: &Path, nics: &[InterfaceStatus]) -> BTreeMap<PciAddr, Binding> {
    let vfs = nics
        .iter()
        .filter_map(|n| n.sriov_status.as_ref())
        .flat_map(|s| &s.vfs)
        .filter_map(|vf| vf.pci_addr);
    let pci_nics = nics
        .iter()
        .filter(|n| n.bus.is_none())
        .filter_map(|n| n.pci_addr);
    vfs.chain(pci_nics)
        .map(|pci| {
            let dev = sysfs.join(device_path(pci));
            let b = Binding {
                driver: link_basename(&dev.join("driver")),
                driver_override: read_parsed(&dev.join("driver_override"), |s| {
                    (!s.is_empty() && s != "(null)").then(|| s.to_string())
                }),
            };
            (pci, b)
        })
        .collect()
}

/// A PF with SR-IOV as discovery reports it, its VFs at `vfs` (PCI addresses, VF ids from 0), for tests.
#[cfg(test)]
pub(crate) fn sample_nic(
    name: &str,
    addr: &str,
    num: u32,
    total: u32,
    vfs: &[&str],
) -> InterfaceStatus {
    InterfaceStatus {
        pf_name: Some(name.into()),
        pci_addr: Some(PciAddr::parse(addr).unwrap()),
        sriov_enabled: Some(true),
        sriov_status: Some(plumber_render::inventory::SriovStatus {
            num_vfs: Some(num),
            total_vfs: Some(total),
            vfs: vfs
                .iter()
                .enumerate()
                .map(|(i, a)| plumber_render::inventory::VfStatus {
                    id: i as u32,
                    pci_addr: Some(PciAddr::parse(a).unwrap()),
                    ..Default::default()
                })
                .collect(),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumber_render::node::PfSelector;

    fn pci(s: &str) -> PciAddr {
        PciAddr::parse(s).unwrap()
    }

    fn pf(name: &str, addr: &str, num: Option<u32>, driver: Option<&str>) -> SriovPf {
        SriovPf {
            selector: PfSelector::Name(name.into()),
            name: Some(name.into()),
            pci: Some(pci(addr)),
            num_vfs: num,
            vf_driver: driver.map(|d| DriverName::parse(d).unwrap()),
            pf_driver: None,
            mtu: None,
            vfs: Default::default(),
            pools: Default::default(),
            pool: None,
            owners: Default::default(),
        }
    }

    fn lines(plan: &[Planned]) -> Vec<String> {
        plan.iter().map(|p| p.step.to_string()).collect()
    }

    #[test]
    fn counts_change_through_zero_and_only_where_they_differ() {
        let nics = [
            sample_nic("ens1f0", "0000:03:00.0", 4, 64, &[]),
            sample_nic("ens1f1", "0000:03:00.1", 2, 64, &[]),
        ];
        let desired = [
            pf("ens1f0", "0000:03:00.0", Some(8), None),
            pf("ens1f1", "0000:03:00.1", Some(2), None),
        ];
        assert_eq!(
            lines(&plan_counts(&desired, &nics).unwrap()),
            [
                "write \"0\" to bus/pci/devices/0000:03:00.0/sriov_numvfs",
                "wait for 0000:03:00.0 to have 0 VFs",
                "write \"8\" to bus/pci/devices/0000:03:00.0/sriov_numvfs",
                "wait for 0000:03:00.0 to have 8 VFs",
            ]
        );
    }

    #[test]
    fn more_vfs_than_the_device_has_and_a_missing_pf_are_refused() {
        let nics = [sample_nic("ens1f0", "0000:03:00.0", 0, 8, &[])];
        let e = plan_counts(&[pf("ens1f0", "0000:03:00.0", Some(9), None)], &nics)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 8"), "{e}");
        let e = plan_counts(&[pf("ens2f0", "0000:04:00.0", Some(1), None)], &nics)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("pfName ens2f0") && e.contains("not a PCI NIC"),
            "{e}"
        );
    }

    #[test]
    fn drivers_bind_only_vfs_bound_elsewhere_by_canonical_name() {
        let nics = [sample_nic(
            "ens1f0",
            "0000:03:00.0",
            2,
            8,
            &["0000:03:02.0", "0000:03:02.1"],
        )];
        let mut b = BTreeMap::new();
        b.insert(
            pci("0000:03:02.0"),
            Binding {
                driver: Some("iavf".into()),
                driver_override: None,
            },
        );
        b.insert(
            pci("0000:03:02.1"),
            Binding {
                driver: Some("vfio-pci".into()),
                driver_override: Some("vfio-pci".into()),
            },
        );
        // i40evf is iavf's old name: VF 0 is bound already, VF 1 moves.
        let plan = plan_drivers(
            &[pf("ens1f0", "0000:03:00.0", None, Some("i40evf"))],
            &nics,
            &b,
        )
        .unwrap();
        assert_eq!(
            lines(&plan),
            [
                "unbind 0000:03:02.1 from vfio-pci",
                "write \"iavf\" to bus/pci/devices/0000:03:02.1/driver_override",
                "write \"0000:03:02.1\" to bus/pci/drivers_probe",
                "wait for 0000:03:02.1 to be bound to iavf",
            ]
        );
        // Putting the old bindings back: VF 1 goes back to vfio-pci with its override.
        let mut now = b.clone();
        now.get_mut(&pci("0000:03:02.1")).unwrap().driver = None;
        now.get_mut(&pci("0000:03:02.1")).unwrap().driver_override = None;
        assert_eq!(
            lines(&plan_restore(&b, &now)),
            [
                "write \"vfio-pci\" to bus/pci/devices/0000:03:02.1/driver_override",
                "write \"0000:03:02.1\" to bus/pci/drivers_probe",
                "wait for 0000:03:02.1 to be bound to vfio-pci",
            ]
        );
        assert!(plan_restore(&b, &b).is_empty());
        // Nothing to do once every VF is bound to the driver.
        b.get_mut(&pci("0000:03:02.1")).unwrap().driver = Some("iavf".into());
        b.get_mut(&pci("0000:03:02.1")).unwrap().driver_override = Some("iavf".into());
        assert!(plan_drivers(
            &[pf("ens1f0", "0000:03:00.0", None, Some("iavf"))],
            &nics,
            &b
        )
        .unwrap()
        .is_empty());
    }
}
