//! A NIC's own driver: the merged [`NicDriver`]s (every PF with a `pfDriver`, every DPDK uplink on
//! `vfio-pci`) and the checks that a NIC given to a userspace driver is not also configured as a
//! network interface: it has none once bound (no MTU, VLANs, addresses, membership, kernel OVS port,
//! VFs or VF settings for it).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{FieldError, Origin};
use crate::inventory::HostNetwork;
use crate::model::{DriverName, PciAddr};
use crate::node::*;
use crate::parse::Loaded;

use super::ovs::UplinkOrigins;

/// The driver HostPlumber binds DPDK uplinks to (`dpdk-devbind.py -b vfio-pci`), and plumber too.
const DPDK_DRIVER: &str = "vfio-pci";

/// Where a NIC's driver was asked for: the template and the YAML path.
type Place = (Origin, String);

/// The NICs the templates give a driver, with the errors for a NIC given to a userspace driver and
/// configured in a way that needs its network interface.
pub(super) fn nic_drivers(
    sriov: &[(SriovPf, Option<Place>)],
    ovs: &[OvsBridge],
    uplinks: &UplinkOrigins,
    links: &BTreeMap<String, Link>,
    inventory: Option<&HostNetwork>,
    errors: &mut Vec<FieldError>,
) -> Vec<NicDriver> {
    let mut out: Vec<(NicDriver, Place)> = Vec::new();
    for (pf, at) in sriov {
        let (Some(driver), Some(at)) = (&pf.pf_driver, at) else {
            continue;
        };
        if driver.is_userspace() {
            pf_without_netdev(pf, driver, at, errors);
        }
        out.push((
            NicDriver {
                selector: pf.selector.clone(),
                name: pf.name.clone(),
                pci: pf.pci,
                driver: driver.clone(),
                owners: pf.owners.clone(),
            },
            at.clone(),
        ));
    }
    let vfio = DriverName::parse(DPDK_DRIVER).expect("a driver name");
    let mut dpdk: BTreeMap<_, (NicDriver, Place)> = BTreeMap::new();
    for b in ovs {
        let at = uplinks.get(&b.name).cloned().unwrap_or_default();
        for pci in b
            .ports
            .iter()
            .flat_map(|p| &p.interfaces)
            .filter_map(|i| i.dpdk_devargs)
        {
            let name = inventory
                .and_then(|inv| inv.by_pci(&pci))
                .and_then(|i| i.pf_name.clone());
            let entry = dpdk.entry(pci).or_insert_with(|| {
                let nic = NicDriver {
                    selector: PfSelector::Pci(pci),
                    name,
                    pci: Some(pci),
                    driver: vfio.clone(),
                    owners: BTreeSet::new(),
                };
                (nic, at.clone())
            });
            entry.0.owners.extend(b.owners.iter().cloned());
        }
    }
    out.extend(dpdk.into_values());
    for (nic, (origin, path)) in &out {
        let Some(name) = nic.name.as_deref().filter(|_| nic.binds()) else {
            continue;
        };
        let uses = uses_of(name, links, ovs);
        if !uses.is_empty() {
            errors.push(FieldError {
                origin: origin.clone(),
                path: path.clone(),
                message: format!(
                    "{name} is given to {}, which takes its network interface away, and the \
                     templates also use {name} as a network interface ({}); give {name} one role",
                    nic.driver,
                    uses.join(", "),
                ),
            });
        }
    }
    out.into_iter().map(|(n, _)| n).collect()
}

/// A DPDK uplink at the PCI address an `sriovConfig` entry names (`pciAddr`, the selector it uses)
/// whose PF the inventory left out (best effort: no such NIC here) is still a template that asks one
/// device to be both: refused as [`super::ovs::check_dpdk_not_sriov`] refuses it for a PF that is
/// there, so that the answer does not depend on the node.
pub(super) fn check_dpdk_not_skipped_pf(
    order: &[&Loaded],
    ovs: &[OvsBridge],
    sriov: &[SriovPf],
    uplinks: &UplinkOrigins,
    errors: &mut Vec<FieldError>,
) {
    let written: Vec<PciAddr> = order
        .iter()
        .flat_map(|t| &t.template.spec.sriov_config)
        .filter(|s| s.pf_name.is_none())
        .filter_map(|s| s.pci_addr)
        .filter(|a| !sriov.iter().any(|pf| pf.pci == Some(*a)))
        .collect();
    for b in ovs {
        for i in b.ports.iter().flat_map(|p| &p.interfaces) {
            let Some(a) = i.dpdk_devargs.filter(|a| written.contains(a)) else {
                continue;
            };
            let (origin, path) = uplinks.get(&b.name).cloned().unwrap_or_default();
            errors.push(FieldError {
                origin,
                path,
                message: format!(
                    "{} ({a}) is a DPDK uplink and also an SR-IOV PF ({}); a device cannot be both",
                    i.name,
                    PfSelector::Pci(a)
                ),
            });
        }
    }
}

/// What needs a PF's network interface (or its kernel PF driver) beside a userspace `pfDriver` that
/// several templates merged into (one template is refused by validation already).
fn pf_without_netdev(pf: &SriovPf, driver: &DriverName, at: &Place, errors: &mut Vec<FieldError>) {
    let mut what = Vec::new();
    if let Some(n) = pf.num_vfs.filter(|n| *n > 0) {
        what.push(format!("numVfs {n}"));
    }
    if let Some(d) = &pf.vf_driver {
        what.push(format!("vfDriver {d}"));
    }
    if let Some(m) = pf.mtu {
        what.push(format!("mtu {m}"));
    }
    if !pf.vfs.is_empty() {
        what.push("VF settings".to_string());
    }
    if !what.is_empty() {
        let others: Vec<&str> = pf
            .owners
            .iter()
            .map(String::as_str)
            .filter(|o| Some(*o) != at.0.template.as_deref())
            .collect();
        let by = match others.len() {
            0 => String::new(),
            1 => format!(" (template {})", others[0]),
            _ => format!(" (templates {})", others.join(", ")),
        };
        errors.push(FieldError {
            origin: at.0.clone(),
            path: at.1.clone(),
            message: format!(
                "{driver} takes {} whole (no network interface, no VFs), and the templates also \
                 set {} for it{by}; remove pfDriver to keep the PF's kernel driver, or those settings",
                pf.selector,
                what.join(", ")
            ),
        });
    }
}

/// How the templates use `name` as a network interface: its own settings, a VLAN on it, a kernel OVS
/// port.
fn uses_of(name: &str, links: &BTreeMap<String, Link>, ovs: &[OvsBridge]) -> Vec<String> {
    let mut uses = Vec::new();
    let link = links.get(name);
    if let Some(l) = link {
        if let Some(c) = &l.controller {
            // A member's families are stated empty by its membership.
            uses.push(format!("a member of {}", c.name));
        } else if l.ipv4.is_some() || l.ipv6.is_some() {
            uses.push("its addresses".to_string());
        }
        if l.mtu.is_some() {
            uses.push("its MTU".to_string());
        }
    }
    for l in links.values() {
        if matches!(&l.kind, LinkKind::Vlan { parent, .. } if parent == name) {
            uses.push(format!("the parent of VLAN {}", l.name));
        }
    }
    if link.is_some() && uses.is_empty() {
        uses.push("an interfaceConfig entry".to_string());
    }
    for b in ovs.iter().filter(|b| !b.dpdk) {
        let kernel_port = b
            .ports
            .iter()
            .flat_map(|p| &p.interfaces)
            .any(|i| i.dpdk_devargs.is_none() && i.name == name);
        if kernel_port {
            uses.push(format!("a port of OVS bridge {}", b.name));
        }
    }
    uses
}

#[cfg(test)]
mod tests {
    use crate::inventory::HostNetwork;
    use crate::pipeline::{load, node_config, Source};

    /// `eno2` (a PF, at 0000:01:00.1), `ens9` (no SR-IOV) and `eno3` (a PF on vfio-pci).
    const INVENTORY: &str = "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetwork\nmetadata: {name: n1}\nstatus:\n  interfaceStatus:\n    - {pfName: eno2, pciAddr: \"0000:01:00.1\", vendorId: \"8086\", deviceId: \"1572\", sriovEnabled: true, sriovStatus: {totalVfs: 64}}\n    - {pfName: ens9, pciAddr: \"0000:09:00.0\", sriovEnabled: false}\n    - {pfName: eno3, pciAddr: \"0000:01:00.2\", vendorId: \"8086\", deviceId: \"1572\", pfDriver: vfio-pci, sriovEnabled: true, sriovStatus: {totalVfs: 64}}\n";

    fn node(spec: &str) -> crate::error::Result<crate::node::NodeConfig> {
        let text = format!(
            "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: t}}\nspec:\n{spec}"
        );
        let t = load(&[Source {
            name: "t.yaml".into(),
            text,
        }])?;
        let inv = HostNetwork::parse(INVENTORY, "inv.yaml").unwrap();
        node_config(&t, None, Some(&inv))
    }

    #[test]
    fn a_dpdk_uplink_by_name_is_a_nic_on_vfio_pci_named_by_the_inventory() {
        let n = node("  ovsConfig:\n    - {bridgeName: br0, nodeInterface: eno2, dpdk: true}\n")
            .unwrap();
        let got: Vec<(Option<&str>, String, &str)> = n
            .nic_drivers
            .iter()
            .map(|d| {
                (
                    d.name.as_deref(),
                    d.pci.unwrap().to_string(),
                    d.driver.as_str(),
                )
            })
            .collect();
        assert_eq!(got, [(Some("eno2"), "0000:01:00.1".into(), "vfio-pci")]);
        assert!(n.nic_drivers[0].binds());
    }

    #[test]
    fn a_whole_nic_without_sriov_can_go_to_vfio_pci_and_a_kernel_pf_driver_binds_nothing() {
        // ens9 has no SR-IOV: an entry that only gives it to vfio-pci is not skipped.
        let n = node("  sriovConfig:\n    - {pfName: ens9, pfDriver: vfio_pci}\n    - {pfName: eno2, pfDriver: i40e, numVfs: 2}\n").unwrap();
        assert!(n.skipped.is_empty(), "{:?}", n.skipped);
        let got: Vec<(&str, &str, bool)> = n
            .nic_drivers
            .iter()
            .map(|d| (d.name.as_deref().unwrap(), d.driver.as_str(), d.binds()))
            .collect();
        assert_eq!(got, [("eno2", "i40e", false), ("ens9", "vfio-pci", true)]);
        // The same entry with VFs needs SR-IOV: skipped.
        let n = node("  sriovConfig:\n    - {pfName: ens9, pfDriver: i40e, numVfs: 2}\n").unwrap();
        assert_eq!(n.skipped.len(), 1);
    }

    #[test]
    fn vfs_on_a_nic_given_to_vfio_pci_are_skipped_saying_so() {
        let n = node("  sriovConfig:\n    - {pfName: eno3, numVfs: 4}\n").unwrap();
        let got: Vec<String> = n.skipped.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            got,
            ["template t spec.sriovConfig[0] (pfName eno3): is a NIC of this node on vfio-pci, which cannot make VFs"]
        );
        // By its model it is no PF either; eno2 is.
        let n = node("  sriovConfig:\n    - {vendorId: \"8086\", deviceId: \"1572\", numVfs: 4}\n")
            .unwrap();
        let pfs: Vec<Option<&str>> = n.sriov.iter().map(|p| p.name.as_deref()).collect();
        assert_eq!(pfs, [Some("eno2")]);
    }

    #[test]
    fn a_dpdk_uplink_that_an_sriov_entry_names_is_refused_on_a_node_without_the_device() {
        // 0000:03:00.0 is not in the inventory: the SR-IOV entry is skipped, the contradiction stays.
        let spec = "  sriovConfig:\n    - {pciAddr: \"0000:03:00.0\", numVfs: 4}\n  ovsConfig:\n    - {bridgeName: dpdk-br0, nodeInterface: \"0000:03:00.0\", dpdk: true}\n";
        let e = node(spec).unwrap_err().to_string();
        assert!(
            e.contains("(0000:03:00.0) is a DPDK uplink and also an SR-IOV PF (pciAddr 0000:03:00.0); a device cannot be both"),
            "{e}"
        );
        assert_eq!(e.matches("a device cannot be both").count(), 1, "{e}");
    }

    #[test]
    fn a_dpdk_uplink_that_is_also_a_vlan_parent_a_member_and_a_kernel_port_is_refused_naming_each()
    {
        // Named eno2 everywhere: refused before resolution, for the names alone (`roles`).
        let by_name = "  interfaceConfig:\n    - name: eno2\n      vlan: [{id: 1000}]\n  bondConfig:\n    - {name: bond0, mode: active-backup, members: [eno2]}\n  ovsConfig:\n    - {bridgeName: dpdk0, nodeInterface: eno2, dpdk: true}\n    - {bridgeName: br1, nodeInterface: \"eno2,eno4\"}\n";
        let e = node(by_name).unwrap_err().to_string();
        assert!(e.contains("eno2 has roles that exclude each other"), "{e}");
        // The uplink by eno2's PCI address: only the resolved NIC shows the contradiction (here).
        let e = node(&by_name.replace(
            "nodeInterface: eno2, dpdk",
            "nodeInterface: \"0000:01:00.1\", dpdk",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("spec.ovsConfig[0].nodeInterface: eno2 is given to vfio-pci, which takes its network interface away, and the templates also use eno2 as a network interface (a member of bond0, the parent of VLAN eno2.1000, a port of OVS bridge br1); give eno2 one role"),
            "{e}"
        );
    }
}
