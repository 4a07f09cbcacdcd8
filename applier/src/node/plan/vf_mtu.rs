//! `sriovConfig.mtu` at runtime, as HostPlumber sets it: the PF's MTU, then every VF's. The VFs' MTUs
//! are those of their network interfaces; a VF has one only while a netdev driver (`iavf`, `mlx5_core`)
//! is bound to it, so a VF on `vfio-pci` (or unbound) is skipped: its MTU is the user's (a VM or a DPDK
//! application) to set. The PF's own MTU op is here when no `interfaceConfig` names the PF (otherwise
//! [`super::plan`] makes it, from the link's MTU the merge unified with the PF's).
//!
//! VFs cannot exceed their PF's MTU, so raising goes PF first, then VFs, after the plan's ops, and
//! lowering VFs first, then the PF, before them (children first, as for VLANs): [`sriov_mtu_ops`]
//! returns the two lists apart, for the caller to put around the plan's ops.

use plumber_render::inventory::InterfaceStatus;
use plumber_render::node::NodeConfig;

use super::Op;
use crate::node::state::CurrentState;

/// The MTU ops of every PF with an `mtu` and of its VFs' netdevs, as the node has them now (`nics` from
/// sysfs, MTUs from `current`): `(lowering, raising)`, in PF order.
pub(crate) fn sriov_mtu_ops(
    node: &NodeConfig,
    nics: &[InterfaceStatus],
    current: &CurrentState,
) -> (Vec<Op>, Vec<Op>) {
    let mut lower = Vec::new();
    let mut raise = Vec::new();
    for pf in &node.sriov {
        let Some(mtu) = pf.mtu else { continue };
        let nic = match (&pf.pci, &pf.name) {
            (Some(pci), _) => nics.iter().find(|n| n.pci_addr.as_ref() == Some(pci)),
            (None, Some(name)) => nics.iter().find(|n| n.pf_name.as_deref() == Some(name)),
            (None, None) => None,
        };
        let Some(nic) = nic else { continue };
        let set = |name: &str| {
            let have = current.links.get(name)?;
            (have.mtu != mtu).then(|| Op::SetMtu {
                link: name.to_string(),
                mtu,
                previous: Some(have.mtu),
            })
        };
        let pf_op = nic
            .pf_name
            .as_deref()
            .filter(|n| !node.links.contains_key(*n))
            .and_then(set);
        let vf_ops: Vec<Op> = nic
            .sriov_status
            .iter()
            .flat_map(|s| &s.vfs)
            .filter_map(|vf| set(vf.netdev.as_deref()?))
            .collect();
        let lowers = |o: &Op| matches!(o, Op::SetMtu { previous: Some(p), .. } if mtu < *p);
        let (vf_lower, vf_raise): (Vec<Op>, Vec<Op>) = vf_ops.into_iter().partition(lowers);
        lower.extend(vf_lower);
        match pf_op {
            Some(o) if lowers(&o) => lower.push(o),
            Some(o) => raise.push(o),
            None => {}
        }
        raise.extend(vf_raise);
    }
    (lower, raise)
}

/// The VF netdevs of the NICs' VFs, by name.
pub(crate) fn vf_netdevs(nics: &[InterfaceStatus]) -> std::collections::BTreeSet<String> {
    nics.iter()
        .filter_map(|n| n.sriov_status.as_ref())
        .flat_map(|s| s.vfs.iter().filter_map(|v| v.netdev.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::state::{CurrentKind, LinkState};
    use plumber_render::inventory::{SriovStatus, VfStatus};
    use plumber_render::model::PciAddr;
    use plumber_render::node::{PfSelector, SriovPf};

    fn pci(s: &str) -> PciAddr {
        PciAddr::parse(s).unwrap()
    }

    fn nic(name: &str, addr: &str, vfs: &[(u32, Option<&str>)]) -> InterfaceStatus {
        InterfaceStatus {
            pf_name: Some(name.into()),
            pci_addr: Some(pci(addr)),
            sriov_enabled: Some(true),
            sriov_status: Some(SriovStatus {
                num_vfs: Some(vfs.len() as u32),
                total_vfs: Some(8),
                vfs: vfs
                    .iter()
                    .map(|(id, n)| VfStatus {
                        id: *id,
                        netdev: n.map(str::to_string),
                        ..VfStatus::default()
                    })
                    .collect(),
            }),
            ..InterfaceStatus::default()
        }
    }

    fn state(links: &[(&str, u32)]) -> CurrentState {
        let mut s = CurrentState::default();
        for (name, mtu) in links {
            s.links.insert(
                name.to_string(),
                LinkState {
                    name: name.to_string(),
                    kind: CurrentKind::Device,
                    mtu: *mtu,
                    up: true,
                    controller: None,
                    addresses: vec![],
                    vfs: vec![],
                },
            );
        }
        s
    }

    fn pf(selector: PfSelector, name: Option<&str>, addr: Option<&str>, mtu: u32) -> SriovPf {
        SriovPf {
            selector,
            name: name.map(str::to_string),
            pci: addr.map(pci),
            num_vfs: Some(3),
            vf_driver: None,
            pf_driver: None,
            mtu: Some(mtu),
            vfs: Default::default(),
            pools: Default::default(),
            pool: None,
            owners: Default::default(),
        }
    }

    fn node(pfs: Vec<SriovPf>) -> NodeConfig {
        NodeConfig {
            sriov: pfs,
            ..NodeConfig::default()
        }
    }

    fn set(link: &str, mtu: u32, previous: u32) -> Op {
        Op::SetMtu {
            link: link.into(),
            mtu,
            previous: Some(previous),
        }
    }

    #[test]
    fn the_pf_then_every_vf_netdev_and_vfio_vfs_are_skipped() {
        // VF 0 and 2 have netdevs (iavf), VF 1 none (vfio-pci); VF 2 is already right.
        let nics = [nic(
            "ens1f0",
            "0000:5e:00.0",
            &[(0, Some("ens1f0v0")), (1, None), (2, Some("ens1f0v2"))],
        )];
        let cur = state(&[("ens1f0", 1500), ("ens1f0v0", 1500), ("ens1f0v2", 9000)]);
        let by_name = |mtu| {
            pf(
                PfSelector::Name("ens1f0".into()),
                Some("ens1f0"),
                Some("0000:5e:00.0"),
                mtu,
            )
        };
        assert_eq!(
            sriov_mtu_ops(&node(vec![by_name(9000)]), &nics, &cur),
            (
                vec![],
                vec![set("ens1f0", 9000, 1500), set("ens1f0v0", 9000, 1500)]
            )
        );
        // Lowering: the VFs before the PF, in the other list (before the plan's ops).
        assert_eq!(
            sriov_mtu_ops(&node(vec![by_name(1400)]), &nics, &cur),
            (
                vec![
                    set("ens1f0v0", 1400, 1500),
                    set("ens1f0v2", 1400, 9000),
                    set("ens1f0", 1400, 1500)
                ],
                vec![]
            )
        );
        // An interfaceConfig entry for the PF: its MTU is the plan's, only the VFs' are here.
        let mut n = node(vec![by_name(9000)]);
        let link = plumber_render::node_config_of_spec(
            "  interfaceConfig:\n    - name: ens1f0\n      mtu: 9000\n",
        )
        .unwrap()
        .links;
        n.links = link;
        assert_eq!(
            sriov_mtu_ops(&n, &nics, &cur),
            (vec![], vec![set("ens1f0v0", 9000, 1500)])
        );
    }

    #[test]
    fn the_pf_is_found_by_pci_address_and_nothing_without_an_mtu_or_a_link() {
        let nics = [
            nic("ens1f0", "0000:5e:00.0", &[(0, Some("a0"))]),
            nic("ens1f1", "0000:5e:00.1", &[(0, Some("b0"))]),
        ];
        // b0's link is not in the netlink snapshot (it appeared after it), nor is ens1f1: skipped.
        let cur = state(&[("ens1f0", 9000), ("a0", 1500)]);
        let by_pci = |addr: &str| pf(PfSelector::Pci(pci(addr)), None, Some(addr), 9000);
        assert_eq!(
            sriov_mtu_ops(&node(vec![by_pci("0000:5e:00.1")]), &nics, &cur),
            (vec![], vec![])
        );
        assert_eq!(
            sriov_mtu_ops(&node(vec![by_pci("0000:5e:00.0")]), &nics, &cur),
            (vec![], vec![set("a0", 9000, 1500)])
        );
        let mut no_mtu = by_pci("0000:5e:00.0");
        no_mtu.mtu = None;
        assert_eq!(
            sriov_mtu_ops(&node(vec![no_mtu]), &nics, &cur),
            (vec![], vec![])
        );
        assert_eq!(
            vf_netdevs(&nics).into_iter().collect::<Vec<_>>(),
            ["a0", "b0"]
        );
    }
}
