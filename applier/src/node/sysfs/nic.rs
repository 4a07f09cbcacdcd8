//! A NIC's own driver at runtime: binding the NICs the templates give a userspace driver (a PF's
//! `pfDriver: vfio-pci`, a DPDK uplink) and giving them back to the driver they had when no template
//! asks any more; a kernel `pfDriver` is only checked. Pure, on the discovered `interfaceStatus` list
//! and the record of the NICs plumber bound ([`BoundNics`], kept in the state directory because a
//! bound NIC has no network interface left to find it by).
//!
//! ```json
//! {"0000:3b:00.0": {"name": "ens4f0", "driver": "vfio-pci", "previous": "i40e"}}
//! ```

use std::collections::BTreeMap;

use plumber_render::inventory::InterfaceStatus;
use plumber_render::model::{DriverName, PciAddr};
use plumber_render::node::NicDriver;
use serde::{Deserialize, Serialize};

use super::node::Binding;
use super::ops::{device_path, plan_bind_driver, Planned, Step, SysfsWrite};
use crate::node::{Error, Result};

/// A NIC plumber bound to a userspace driver: its network interface's name before (what discovery
/// reports it as once the interface is gone), the driver, and the driver it had (restored on release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BoundNic {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    pub(crate) driver: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) previous: Option<String>,
}

/// The NICs plumber bound, by PCI address.
pub(crate) type BoundNics = BTreeMap<PciAddr, BoundNic>;

/// Gives the NICs of `nics` that have no network interface the name `bound` recorded for them, so that
/// a NIC plumber bound is found (and published, and resolved by `plumber-render --inventory`) under the
/// name its templates use.
pub(crate) fn name_bound(nics: &mut [InterfaceStatus], bound: &BoundNics) {
    for n in nics.iter_mut().filter(|n| n.pf_name.is_none()) {
        if let Some(b) = n.pci_addr.and_then(|p| bound.get(&p)) {
            n.pf_name = b.name.clone();
        }
    }
}

/// The discovered NIC a [`NicDriver`] is: by PCI address, else by name (a bound NIC is listed under its
/// recorded name).
fn find<'a>(nic: &NicDriver, nics: &'a [InterfaceStatus]) -> Option<&'a InterfaceStatus> {
    match (&nic.pci, &nic.name) {
        (Some(pci), _) => nics.iter().find(|n| n.pci_addr.as_ref() == Some(pci)),
        (None, Some(name)) => nics.iter().find(|n| n.pf_name.as_deref() == Some(name)),
        (None, None) => None,
    }
}

/// What the NIC stage does: bind, then give back, and the record once it is done.
#[derive(Debug, Default)]
pub(crate) struct NicPlan {
    /// The steps that give NICs the driver the templates name.
    pub(crate) bind: Vec<Planned>,
    /// The steps that give NICs no template names any more their previous driver (letting go).
    pub(crate) release: Vec<Planned>,
    /// The record of bound NICs once the steps are done.
    pub(crate) keep: BoundNics,
}

impl NicPlan {
    /// Every step, in order.
    pub(crate) fn steps(&self) -> Vec<Planned> {
        [self.bind.clone(), self.release.clone()].concat()
    }
}

/// The steps that give every NIC of `desired` its driver, and every NIC of `bound` no longer desired
/// its previous driver back; with the record to keep once they are done. Refuses a NIC that is not a
/// PCI NIC of this node and a kernel driver other than the NIC's (plumber does not move a NIC between
/// two network drivers: the interface the rest of the templates configure would go away and come back
/// in the middle of the apply; bind it once, for example with driverctl, and plumber checks it).
/// `bindings` has each NIC's `driver_override` ([`super::node::bindings`]).
pub(crate) fn plan_nics(
    desired: &[NicDriver],
    nics: &[InterfaceStatus],
    bindings: &BTreeMap<PciAddr, Binding>,
    bound: &BoundNics,
) -> Result<NicPlan> {
    let mut plan = Vec::new();
    let mut keep = BoundNics::new();
    for want in desired {
        let nic = find(want, nics)
            .filter(|n| n.bus.is_none())
            .and_then(|n| n.pci_addr.map(|p| (n, p)));
        let Some((nic, pci)) = nic else {
            return Err(Error::Sysfs(format!(
                "{} ({}) is not a PCI NIC of this node",
                want.selector, want.driver
            )));
        };
        let current = nic.pf_driver.as_deref();
        let driver = want.driver.canonical();
        if !want.binds() {
            if current != Some(driver.as_str()) {
                return Err(Error::Sysfs(format!(
                    "{} ({pci}) is bound to {}, not to pfDriver {driver}: plumber binds a NIC only to \
                     a userspace driver (vfio-pci); a NIC moved between two network drivers would \
                     lose its interface in the middle of the apply. Bind it once (driverctl \
                     set-override {pci} {driver}), or remove pfDriver",
                    want.selector,
                    current.unwrap_or("no driver"),
                )));
            }
            continue;
        }
        if let Some(b) = bound.get(&pci) {
            keep.insert(pci, b.clone());
        }
        if current == Some(driver.as_str()) {
            continue;
        }
        let ov = bindings
            .get(&pci)
            .and_then(|b| b.driver_override.as_deref());
        plan.extend(plan_bind_driver(pci, &driver, current, ov));
        keep.entry(pci).or_insert_with(|| BoundNic {
            name: nic.pf_name.clone(),
            driver: driver.as_str().to_string(),
            previous: current.map(str::to_string),
        });
    }
    let mut release = Vec::new();
    for (pci, b) in bound.iter().filter(|(p, _)| !keep.contains_key(p)) {
        let now = nics
            .iter()
            .find(|n| n.pci_addr.as_ref() == Some(pci))
            .and_then(|n| n.pf_driver.as_deref());
        // Rebound by someone else since (or gone): theirs now.
        if now == Some(b.driver.as_str()) {
            let ov = bindings.get(pci).and_then(|b| b.driver_override.as_deref());
            release.extend(plan_release(*pci, b, ov));
        }
    }
    Ok(NicPlan {
        bind: plan,
        release,
        keep,
    })
}

/// Giving a NIC back to the driver it had before plumber bound it (or leaving it unbound when it had
/// none), with `driver_override` cleared at the end as it was.
fn plan_release(pci: PciAddr, b: &BoundNic, current_override: Option<&str>) -> Vec<Planned> {
    let override_path = device_path(pci).join("driver_override");
    let clear = |back: &str| Planned {
        step: Step::Write(SysfsWrite {
            path: override_path.clone(),
            value: "\n".into(),
        }),
        inverse: vec![Step::Write(SysfsWrite {
            path: override_path.clone(),
            value: back.to_string(),
        })],
    };
    match b
        .previous
        .as_deref()
        .and_then(|p| DriverName::parse(p).ok())
    {
        Some(previous) => {
            let mut plan = plan_bind_driver(pci, &previous, Some(&b.driver), current_override);
            plan.push(clear(previous.as_str()));
            plan
        }
        None => {
            let drivers = std::path::Path::new("bus/pci/drivers");
            let mut plan = vec![Planned {
                step: Step::Unbind {
                    dev: pci,
                    driver: b.driver.clone(),
                },
                inverse: vec![
                    Step::Write(SysfsWrite {
                        path: drivers.join(&b.driver).join("bind"),
                        value: pci.to_string(),
                    }),
                    Step::ExpectDriver {
                        dev: pci,
                        driver: b.driver.clone(),
                    },
                ],
            }];
            if current_override.is_some() {
                plan.push(clear(current_override.unwrap_or_default()));
            }
            plan
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumber_render::node::PfSelector;

    fn pci(s: &str) -> PciAddr {
        PciAddr::parse(s).unwrap()
    }

    fn nic(name: Option<&str>, addr: &str, driver: Option<&str>) -> InterfaceStatus {
        InterfaceStatus {
            pf_name: name.map(str::to_string),
            pci_addr: Some(pci(addr)),
            pf_driver: driver.map(str::to_string),
            ..Default::default()
        }
    }

    fn want(name: Option<&str>, addr: Option<&str>, driver: &str) -> NicDriver {
        NicDriver {
            selector: match (name, addr) {
                (Some(n), _) => PfSelector::Name(n.into()),
                (None, a) => PfSelector::Pci(pci(a.unwrap())),
            },
            name: name.map(str::to_string),
            pci: addr.map(pci),
            driver: DriverName::parse(driver).unwrap(),
            owners: Default::default(),
        }
    }

    fn lines(plan: &[Planned]) -> Vec<String> {
        plan.iter().map(|p| p.step.to_string()).collect()
    }

    #[test]
    fn a_nic_is_bound_recorded_kept_and_given_back() {
        let nics = [nic(Some("eno2"), "0000:01:00.1", Some("i40e"))];
        let desired = [want(Some("eno2"), None, "vfio_pci")];
        let p = plan_nics(&desired, &nics, &BTreeMap::new(), &BoundNics::new()).unwrap();
        let (plan, rec) = (p.steps(), p.keep);
        assert_eq!(
            lines(&plan),
            [
                "unbind 0000:01:00.1 from i40e",
                "write \"vfio-pci\" to bus/pci/devices/0000:01:00.1/driver_override",
                "write \"0000:01:00.1\" to bus/pci/drivers_probe",
                "wait for 0000:01:00.1 to be bound to vfio-pci",
            ]
        );
        let b = &rec[&pci("0000:01:00.1")];
        assert_eq!(
            (b.name.as_deref(), b.driver.as_str(), b.previous.as_deref()),
            (Some("eno2"), "vfio-pci", Some("i40e"))
        );
        // Bound, the NIC is listed under its recorded name: nothing to do, the record stays.
        let bound_now = [nic(Some("eno2"), "0000:01:00.1", Some("vfio-pci"))];
        let mut ov = BTreeMap::new();
        ov.insert(
            pci("0000:01:00.1"),
            Binding {
                driver: Some("vfio-pci".into()),
                driver_override: Some("vfio-pci".into()),
            },
        );
        let p = plan_nics(&desired, &bound_now, &ov, &rec).unwrap();
        assert!(p.steps().is_empty(), "{:?}", lines(&p.steps()));
        assert_eq!(p.keep, rec);
        // No template asks any more: back to i40e, the override cleared.
        let p = plan_nics(&[], &bound_now, &ov, &rec).unwrap();
        assert!(p.keep.is_empty() && p.bind.is_empty());
        assert_eq!(
            lines(&p.release),
            [
                "unbind 0000:01:00.1 from vfio-pci",
                "write \"i40e\" to bus/pci/devices/0000:01:00.1/driver_override",
                "write \"0000:01:00.1\" to bus/pci/drivers_probe",
                "wait for 0000:01:00.1 to be bound to i40e",
                "write \"\" to bus/pci/devices/0000:01:00.1/driver_override",
            ]
        );
        // Rebound to another driver since by someone else: left alone.
        let elsewhere = [nic(Some("eno2"), "0000:01:00.1", Some("ixgbe"))];
        assert!(plan_nics(&[], &elsewhere, &ov, &rec)
            .unwrap()
            .steps()
            .is_empty());
    }

    #[test]
    fn a_kernel_pf_driver_is_checked_and_a_missing_nic_refused() {
        let nics = [nic(Some("ens1f0"), "0000:03:00.0", Some("i40e"))];
        let ok = [want(Some("ens1f0"), Some("0000:03:00.0"), "i40e")];
        let p = plan_nics(&ok, &nics, &BTreeMap::new(), &BoundNics::new()).unwrap();
        assert!(p.steps().is_empty() && p.keep.is_empty());
        let other = [want(Some("ens1f0"), Some("0000:03:00.0"), "ice")];
        let e = plan_nics(&other, &nics, &BTreeMap::new(), &BoundNics::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("pfName ens1f0 (0000:03:00.0) is bound to i40e, not to pfDriver ice"),
            "{e}"
        );
        let gone = [want(None, Some("0000:09:00.0"), "vfio-pci")];
        let e = plan_nics(&gone, &nics, &BTreeMap::new(), &BoundNics::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("pciAddr 0000:09:00.0 (vfio-pci) is not a PCI NIC"),
            "{e}"
        );
    }
}
