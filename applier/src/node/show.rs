//! `plumber show`: the node's state in the `HostNetwork` status format, from sysfs (NICs, SR-IOV)
//! and netlink (links, addresses, routes). What `plumber-render --inventory` reads.

use std::net::IpAddr;
use std::path::Path;

use plumber_render::inventory::{
    AddressStatus, HostNetwork, HostNetworkStatus, InterfaceStatus, InventoryMeta, LinkStatus,
    RouteStatus, RoutesStatus, VfStatus,
};

use crate::node::state::{CurrentKind, CurrentState, RouteProto, RouteState, VfState};

/// Sets `status.pools`: the SR-IOV device plugin's pools and their VFs, from its configuration under
/// `root` (`/etc/pcidp/config.json`, plumber's or not) resolved on `status`'s NICs as the device
/// plugin selects. No configuration: no pools. One that is not the device plugin's JSON: an error
/// naming the file, and no pools.
pub fn set_pools(root: &Path, status: &mut HostNetworkStatus) -> Result<(), String> {
    status.pools.clear();
    let path = root.join(plumber_render::render::pcidp::PATH.trim_start_matches('/'));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    status.pools =
        plumber_render::inventory::pools(&text, &status.interface_status).map_err(|e| {
            format!(
                "{}: not the device plugin's configuration: {e}",
                path.display()
            )
        })?;
    Ok(())
}

/// Names the NICs plumber bound to a userspace driver (they have no network interface left) as the
/// state directory `state_dir` recorded them, in `hn` as [`host_network`] made it.
pub fn name_bound_nics(hn: &mut HostNetwork, state_dir: &Path) {
    let bound = crate::node::apply::bound::read(state_dir);
    crate::node::sysfs::nic::name_bound(&mut hn.status.interface_status, &bound);
    hn.status
        .interface_status
        .sort_by(|a, b| a.pf_name.cmp(&b.pf_name));
}

/// Assemble the published object from a netlink snapshot and the sysfs NIC list.
pub fn host_network(
    node: &str,
    state: &CurrentState,
    sysfs: &Path,
) -> crate::node::Result<HostNetwork> {
    let nics = crate::node::sysfs::discover_sriov(sysfs)?;
    Ok(host_network_of(node, state, nics))
}

/// [`host_network`] with sysfs's NIC list read already (`nics`). The NICs' addresses and VFs come from
/// `state`'s links of the same names; the links and routes listed are `state`'s.
pub fn host_network_of(
    node: &str,
    state: &CurrentState,
    mut nics: Vec<InterfaceStatus>,
) -> HostNetwork {
    merge_vfs(&mut nics, state);
    // A NIC's addresses are all listed, link-local ones too (HostPlumber's `interfaceStatus` did);
    // a link's leave out the link-local ones (see `links_and_routes_leave_out_what_the_kernel_derives`).
    let family = |name: &str, v6: bool, link_local: bool| -> Option<AddressStatus> {
        let l = state.links.get(name)?;
        let address: Vec<String> = l
            .addresses
            .iter()
            .filter(|a| a.cidr.is_ipv4() != v6 && (link_local || !a.is_link_local()))
            .map(|a| a.cidr.to_string())
            .collect();
        (!address.is_empty()).then_some(AddressStatus { address })
    };
    for nic in &mut nics {
        if let Some(name) = nic.pf_name.clone() {
            nic.ipv4 = family(&name, false, true);
            nic.ipv6 = family(&name, true, true);
        }
    }
    let links = state
        .links
        .values()
        .map(|l| {
            let (parent, vlan_id) = match &l.kind {
                CurrentKind::Vlan { parent, id } => (Some(parent.clone()), Some(*id)),
                _ => (None, None),
            };
            LinkStatus {
                name: l.name.clone(),
                kind: l.kind.label().to_string(),
                mtu: l.mtu,
                up: l.up,
                parent,
                vlan_id,
                controller: l.controller.clone(),
                ipv4: family(&l.name, false, false),
                ipv6: family(&l.name, true, false),
            }
        })
        .collect();
    let mut routes = RoutesStatus::default();
    for r in state.routes.iter().filter(|r| !is_kernel_link_local(r)) {
        let v6 = matches!(r.dst.addr, IpAddr::V6(_));
        let status = RouteStatus {
            dev: r.dev.clone(),
            dst: (r.dst.prefix != 0).then(|| r.dst.to_string()),
            gw: r.via.map(|g| g.to_string()),
            src: r.src.map(|s| s.to_string()),
            metric: r
                .metric
                .filter(|m| *m != crate::node::plan::default_metric(v6)),
            table: (r.table != 254).then_some(r.table),
        };
        if v6 {
            routes.ipv6.push(status);
        } else {
            routes.ipv4.push(status);
        }
    }
    HostNetwork {
        api_version: plumber_render::model::API_VERSION.to_string(),
        kind: "HostNetwork".to_string(),
        metadata: InventoryMeta {
            name: node.to_string(),
        },
        status: HostNetworkStatus {
            interface_status: nics,
            routes: Some(routes),
            links,
            ovs_bridges: Vec::new(),
            ovs_status: Vec::new(),
            pools: Vec::new(),
        },
    }
}

/// The route the kernel adds by itself on every interface with IPv6 (`fe80::/64 proto kernel`, in the
/// main table, no gateway). One per up link, it says nothing the link list does not: on a node with
/// 1,500 VLANs it would be a quarter of the status (BENCHMARKS.md, "HostNetwork status size"), so the
/// status leaves it out, as it leaves out the links' own link-local addresses. `ip -6 route show proto
/// kernel` lists them on the node.
fn is_kernel_link_local(r: &RouteState) -> bool {
    r.proto == RouteProto::Kernel
        && r.via.is_none()
        && r.table == 254
        && r.dst.prefix == 64
        && matches!(r.dst.addr, IpAddr::V6(a) if a.segments()[..4] == [0xfe80, 0, 0, 0])
}

/// Fills each SR-IOV PF's `sriovStatus.vfs` with what netlink says of its VFs (the PF link of the same
/// name, `IFLA_VFINFO_LIST`): MAC, VLAN, QoS, spoofchk and trust merged by VF id into the entries sysfs
/// listed (PCI address, driver), and entries added, in id order, for the VFs only netlink reports. A
/// NIC without SR-IOV (no `sriovStatus`) or without a link in `state` is left as sysfs found it.
fn merge_vfs(nics: &mut [InterfaceStatus], state: &CurrentState) {
    for nic in nics {
        let Some(link) = nic.pf_name.as_ref().and_then(|n| state.links.get(n)) else {
            continue;
        };
        let Some(status) = nic.sriov_status.as_mut() else {
            continue;
        };
        if link.vfs.is_empty() {
            continue;
        }
        for vf in &link.vfs {
            match status.vfs.iter_mut().find(|s| s.id == vf.id) {
                Some(s) => merge_vf(s, vf),
                None => {
                    let mut s = VfStatus {
                        id: vf.id,
                        ..VfStatus::default()
                    };
                    merge_vf(&mut s, vf);
                    status.vfs.push(s);
                }
            }
        }
        status.vfs.sort_by_key(|v| v.id);
    }
}

/// Netlink's fields of one VF. VLAN and QoS are reported as the kernel has them (0: none); spoofchk and
/// trust only when the driver reports them; the MAC only when set.
fn merge_vf(s: &mut VfStatus, vf: &VfState) {
    s.mac = vf.mac.map(|m| m.to_string());
    s.vlan = Some(u32::from(vf.vlan));
    s.qos = Some(u32::from(vf.qos));
    s.spoofchk = vf.spoofchk;
    s.trust = vf.trust;
}

/// The node's name: `NODE_NAME` (the agent's downward API), else the kernel's hostname.
pub fn node_name() -> String {
    std::env::var("NODE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::state::LinkState;
    use plumber_render::inventory::SriovStatus;
    use plumber_render::model::{MacAddr, PciAddr};

    fn pci(s: &str) -> PciAddr {
        PciAddr::parse(s).unwrap()
    }

    fn link(name: &str, vfs: Vec<VfState>) -> LinkState {
        LinkState {
            name: name.into(),
            kind: CurrentKind::Device,
            mtu: 1500,
            up: true,
            controller: None,
            addresses: vec![],
            vfs,
        }
    }

    fn sysfs_vf(id: u32, addr: &str, driver: Option<&str>) -> VfStatus {
        VfStatus {
            id,
            pci_addr: Some(pci(addr)),
            vf_driver: driver.map(str::to_string),
            ..VfStatus::default()
        }
    }

    fn nic(name: &str, vfs: Option<Vec<VfStatus>>) -> InterfaceStatus {
        InterfaceStatus {
            pf_name: Some(name.into()),
            sriov_enabled: Some(vfs.is_some()),
            sriov_status: vfs.map(|vfs| SriovStatus {
                num_vfs: Some(vfs.len() as u32),
                total_vfs: Some(8),
                vfs,
            }),
            ..InterfaceStatus::default()
        }
    }

    #[test]
    fn netlink_vf_fields_merge_into_sysfs_vfs_by_id() {
        let mut state = CurrentState::default();
        let vfs = vec![
            VfState {
                id: 0,
                mac: Some(MacAddr([2, 0, 0, 0, 0, 0x10])),
                vlan: 100,
                qos: 3,
                spoofchk: Some(false),
                trust: Some(true),
                ..VfState::default()
            },
            // Driver reports neither spoofchk nor trust.
            VfState {
                id: 1,
                ..VfState::default()
            },
            // Not (yet) in sysfs.
            VfState {
                id: 2,
                trust: Some(false),
                spoofchk: Some(true),
                ..VfState::default()
            },
        ];
        state
            .links
            .insert("ens1f0".into(), link("ens1f0", vfs.clone()));
        // A PF without SR-IOV in sysfs, and one with no link: untouched.
        state.links.insert("eno2".into(), link("eno2", vfs));
        let mut nics = vec![
            nic(
                "ens1f0",
                Some(vec![
                    sysfs_vf(1, "0000:5e:02.1", None),
                    sysfs_vf(0, "0000:5e:02.0", Some("iavf")),
                    // sysfs lists it, netlink does not: kept as is.
                    sysfs_vf(3, "0000:5e:02.3", Some("vfio-pci")),
                ]),
            ),
            nic("eno2", None),
            nic("gone0", Some(vec![sysfs_vf(0, "0000:af:02.0", None)])),
        ];
        let before = nics.clone();
        merge_vfs(&mut nics, &state);
        assert_eq!(nics[1], before[1]);
        assert_eq!(nics[2], before[2]);
        let vfs = &nics[0].sriov_status.as_ref().unwrap().vfs;
        assert_eq!(
            vfs,
            &vec![
                VfStatus {
                    id: 0,
                    mac: Some("02:00:00:00:00:10".into()),
                    pci_addr: Some(pci("0000:5e:02.0")),
                    vlan: Some(100),
                    qos: Some(3),
                    spoofchk: Some(false),
                    trust: Some(true),
                    vf_driver: Some("iavf".into()),
                    netdev: None,
                },
                VfStatus {
                    id: 1,
                    pci_addr: Some(pci("0000:5e:02.1")),
                    vlan: Some(0),
                    qos: Some(0),
                    ..VfStatus::default()
                },
                VfStatus {
                    id: 2,
                    vlan: Some(0),
                    qos: Some(0),
                    spoofchk: Some(true),
                    trust: Some(false),
                    ..VfStatus::default()
                },
                sysfs_vf(3, "0000:5e:02.3", Some("vfio-pci")),
            ]
        );
        // The published form: HostPlumber's eight fields on every VF; an unreported trust is written
        // `false` and named in `notReported`, and reads back as unreported.
        let yaml = serde_yaml::to_string(vfs).unwrap();
        assert_eq!(yaml.matches("trust:").count(), 4, "{yaml}");
        assert_eq!(yaml.matches("- trust").count(), 2, "{yaml}");
        let back: Vec<VfStatus> = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(&back, vfs);
    }

    #[test]
    fn links_and_routes_leave_out_what_the_kernel_derives() {
        use crate::node::state::AddressState;
        use plumber_render::model::IpCidr;
        let addr = |s: &str| AddressState {
            cidr: IpCidr::parse(s).unwrap(),
            dynamic: false,
        };
        let route = |dst: &str, via: Option<&str>, proto: RouteProto, table: u32| RouteState {
            dev: "eno2.1000".into(),
            dst: IpCidr::parse(dst).unwrap(),
            via: via.map(|v| v.parse().unwrap()),
            metric: Some(256),
            table,
            src: None,
            proto,
        };
        let mut state = CurrentState::default();
        let mut vlan = link("eno2.1000", vec![]);
        vlan.addresses = vec![
            addr("fe80::1/64"),
            addr("2001:db8::5/64"),
            addr("10.0.0.5/24"),
        ];
        state.links.insert(vlan.name.clone(), vlan);
        let mut lla_only = link("eno2.1001", vec![]);
        lla_only.addresses = vec![addr("fe80::2/64")];
        state.links.insert(lla_only.name.clone(), lla_only);
        state.routes = vec![
            route("fe80::/64", None, RouteProto::Kernel, 254),
            // Not the kernel's own: a route someone added, through a gateway, in another table.
            route("fe80::/64", None, RouteProto::Static, 254),
            route("fe80::/64", Some("fe80::9"), RouteProto::Kernel, 254),
            route("fe80::/64", None, RouteProto::Kernel, 100),
            route("fe80::/10", None, RouteProto::Kernel, 254),
            route("2001:db8::/64", None, RouteProto::Kernel, 254),
        ];
        let sysfs = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(sysfs.path().join("class/net")).unwrap();
        let hn = host_network("n", &state, sysfs.path()).unwrap();
        let links = &hn.status.links;
        assert_eq!(
            links[0].ipv6,
            Some(AddressStatus {
                address: vec!["2001:db8::5/64".into()]
            })
        );
        assert_eq!(links[0].ipv4.as_ref().unwrap().address, ["10.0.0.5/24"]);
        assert_eq!(links[1].ipv6, None, "{links:?}");
        let routes = &hn.status.routes.as_ref().unwrap().ipv6;
        let shown: Vec<_> = routes
            .iter()
            .map(|r| (r.dst.as_deref().unwrap(), r.gw.as_deref(), r.table))
            .collect();
        assert_eq!(
            shown,
            [
                ("fe80::/64", None, None),
                ("fe80::/64", Some("fe80::9"), None),
                ("fe80::/64", None, Some(100)),
                ("fe80::/10", None, None),
                ("2001:db8::/64", None, None),
            ]
        );
    }
}
