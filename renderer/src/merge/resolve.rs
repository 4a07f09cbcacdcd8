//! Which PFs a `sriovConfig` entry selects: the entry's own selector, or with an inventory the devices it
//! resolves to (with their PCI address and `totalVfs`); entries for devices the node does not have, or
//! that cannot have VFs, are left out and recorded as [`Skipped`].

use crate::model::*;
use crate::node::*;
use crate::parse::Loaded;

use super::Merger;

/// A PF an entry selects: merge key, name and PCI address when known, `totalVfs` from the inventory.
pub(super) type ResolvedPf = (PfSelector, Option<String>, Option<PciAddr>, Option<u32>);

impl Merger<'_> {
    /// The PFs an entry selects: itself, or (with an inventory) the devices it resolves to.
    pub(super) fn resolve_pfs(&mut self, t: &Loaded, p: &str, s: &SriovConfig) -> Vec<ResolvedPf> {
        let total = |i: &crate::inventory::InterfaceStatus| {
            i.sriov_status.as_ref().and_then(|s| s.total_vfs)
        };
        let inv = self.inventory;
        // A NIC given whole to a userspace driver (`pfDriver: vfio-pci`, no VFs) needs no SR-IOV.
        let needs_vfs = !(s.pf_driver.as_ref().is_some_and(|d| d.is_userspace())
            && s.num_vfs.is_none_or(|n| n.get() == 0));
        // A NIC on a userspace driver (vfio-pci) has no PF driver to make VFs with: no PF either.
        let on_userspace = |i: &crate::inventory::InterfaceStatus| {
            i.pf_driver
                .as_deref()
                .and_then(|d| DriverName::parse(d).ok())
                .filter(|d| d.is_userspace())
        };
        let capable = |i: &crate::inventory::InterfaceStatus| {
            !needs_vfs || (i.sriov_capable() && on_userspace(i).is_none())
        };
        // An entry for a device the node does not have is left out, and said so (best effort; the
        // caller refuses it under strict, see crate::best_effort). The same for every selector kind.
        // The reason does not name the node: fleet mode shares this part of a merge between nodes
        // whose inventories list the same NICs (SriovCache), and says which node it reports on.
        let skip = |selector: PfSelector, reason: &str| Skipped {
            template: t.name().to_string(),
            path: p.to_string(),
            selector: selector.to_string(),
            reason: reason.to_string(),
        };
        let missing = |selector: PfSelector| skip(selector, "matches no PCI NIC of this node");
        // A NIC that is there but cannot have VFs is no PF either; the reason says which it is.
        const NO_SRIOV: &str = "without SR-IOV capability (no sriov_totalvfs in sysfs)";
        let nic_name = |i: &crate::inventory::InterfaceStatus| match (&i.pf_name, i.pci_addr) {
            (Some(n), _) => crate::escape::printable(n),
            (None, Some(a)) => a.to_string(),
            (None, None) => "?".to_string(),
        };
        let no_sriov = |selector: PfSelector, nics: &[&crate::inventory::InterfaceStatus]| {
            if let (Some(d), [_]) = (nics.first().and_then(|i| on_userspace(i)), nics) {
                let reason = format!("is a NIC of this node on {d}, which cannot make VFs");
                return skip(selector, &reason);
            }
            let reason = match (&selector, nics) {
                (PfSelector::Name(_), _) => format!("is a NIC of this node {NO_SRIOV}"),
                (PfSelector::Pci(_), [i]) if i.pf_name.is_some() => {
                    format!("is {}, a NIC of this node {NO_SRIOV}", nic_name(i))
                }
                (PfSelector::Pci(_), _) => format!("is a NIC of this node {NO_SRIOV}"),
                _ => format!(
                    "matches only NICs of this node {}: {} ({})",
                    "without SR-IOV capability",
                    nics.iter()
                        .map(|i| nic_name(i))
                        .collect::<Vec<_>>()
                        .join(", "),
                    "no sriov_totalvfs in sysfs"
                ),
            };
            skip(selector, &reason)
        };
        if let Some(n) = &s.pf_name {
            let name = n.to_string();
            match inv {
                None => vec![(PfSelector::Name(name.clone()), Some(name), None, None)],
                Some(inv) => match inv.by_name(&name) {
                    Some(i) if !capable(i) => {
                        self.skipped.push(no_sriov(PfSelector::Name(name), &[i]));
                        vec![]
                    }
                    Some(i) => vec![(
                        PfSelector::Name(name.clone()),
                        Some(name),
                        i.pci_addr,
                        total(i),
                    )],
                    None => {
                        self.skipped.push(missing(PfSelector::Name(name)));
                        vec![]
                    }
                },
            }
        } else if let Some(a) = s.pci_addr {
            match inv {
                None => vec![(PfSelector::Pci(a), None, Some(a), None)],
                Some(inv) => match inv.by_pci(&a) {
                    Some(i) if !capable(i) => {
                        self.skipped.push(no_sriov(PfSelector::Pci(a), &[i]));
                        vec![]
                    }
                    Some(i) => {
                        let name = i.pf_name.clone();
                        let key = name
                            .clone()
                            .map(PfSelector::Name)
                            .unwrap_or(PfSelector::Pci(a));
                        vec![(key, name, Some(a), total(i))]
                    }
                    None => {
                        self.skipped.push(missing(PfSelector::Pci(a)));
                        vec![]
                    }
                },
            }
        } else if let (Some(v), Some(d)) = (s.vendor_id, s.device_id) {
            match inv {
                None => vec![(
                    PfSelector::Ids {
                        vendor: v,
                        device: d,
                    },
                    None,
                    None,
                    None,
                )],
                // Every PF of that model (a port of it without SR-IOV is no PF); none is skipped, as
                // a name or address that matches nothing or no PF.
                Some(inv) if inv.by_ids(v, d).is_empty() => {
                    self.skipped.push(missing(PfSelector::Ids {
                        vendor: v,
                        device: d,
                    }));
                    vec![]
                }
                Some(inv) if !inv.by_ids(v, d).iter().any(|i| capable(i)) => {
                    let nics = inv.by_ids(v, d);
                    let ids = PfSelector::Ids {
                        vendor: v,
                        device: d,
                    };
                    self.skipped.push(no_sriov(ids, &nics));
                    vec![]
                }
                Some(inv) => inv
                    .by_ids(v, d)
                    .into_iter()
                    .filter(|i| capable(i))
                    .map(|i| {
                        let key = match (&i.pf_name, i.pci_addr) {
                            (Some(n), _) => PfSelector::Name(n.clone()),
                            (None, Some(a)) => PfSelector::Pci(a),
                            (None, None) => PfSelector::Ids {
                                vendor: v,
                                device: d,
                            },
                        };
                        (key, i.pf_name.clone(), i.pci_addr, total(i))
                    })
                    .collect(),
            }
        } else {
            vec![]
        }
    }
}
