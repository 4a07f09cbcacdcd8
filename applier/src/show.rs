//! `plumber show`: the node's state in the `HostNetwork` status format, from sysfs (PCI NICs and SR-IOV)
//! and netlink (links, addresses, routes). What `plumber-render --inventory` reads.

use std::net::IpAddr;
use std::path::Path;

use plumber_render::inventory::{
    AddressStatus, HostNetwork, HostNetworkStatus, InventoryMeta, LinkStatus, RouteStatus,
    RoutesStatus,
};

use crate::state::{CurrentKind, CurrentState};

/// Assemble the published object from a netlink snapshot and the sysfs NIC list.
pub fn host_network(node: &str, state: &CurrentState, sysfs: &Path) -> crate::Result<HostNetwork> {
    let mut nics = crate::sysfs::discover_sriov(sysfs)?;
    let family = |name: &str, v6: bool| -> Option<AddressStatus> {
        let l = state.links.get(name)?;
        let address: Vec<String> = l
            .addresses
            .iter()
            .filter(|a| a.cidr.is_ipv4() != v6)
            .map(|a| a.cidr.to_string())
            .collect();
        (!address.is_empty()).then_some(AddressStatus { address })
    };
    for nic in &mut nics {
        if let Some(name) = nic.pf_name.clone() {
            nic.ipv4 = family(&name, false);
            nic.ipv6 = family(&name, true);
        }
    }
    let links = state
        .links
        .values()
        .map(|l| {
            let (kind, parent, vlan_id) = match &l.kind {
                CurrentKind::Device => ("device".to_string(), None, None),
                CurrentKind::Vlan { parent, id } => {
                    ("vlan".to_string(), Some(parent.clone()), Some(*id))
                }
                CurrentKind::Bond { .. } => ("bond".to_string(), None, None),
                CurrentKind::Bridge => ("bridge".to_string(), None, None),
                CurrentKind::Other { kind } => (kind.clone(), None, None),
            };
            LinkStatus {
                name: l.name.clone(),
                kind,
                mtu: l.mtu,
                up: l.up,
                parent,
                vlan_id,
                controller: l.controller.clone(),
                ipv4: family(&l.name, false),
                ipv6: family(&l.name, true),
            }
        })
        .collect();
    let mut routes = RoutesStatus::default();
    for r in &state.routes {
        let v6 = matches!(r.dst.addr, IpAddr::V6(_));
        let status = RouteStatus {
            dev: r.dev.clone(),
            dst: (r.dst.prefix != 0).then(|| r.dst.to_string()),
            gw: r.via.map(|g| g.to_string()),
            src: None,
            metric: r.metric.filter(|m| *m != crate::plan::default_metric(v6)),
            table: (r.table != 254).then_some(r.table),
        };
        if v6 {
            routes.ipv6.push(status);
        } else {
            routes.ipv4.push(status);
        }
    }
    Ok(HostNetwork {
        api_version: plumber_render::model::API_VERSION.to_string(),
        kind: "HostNetwork".to_string(),
        metadata: InventoryMeta {
            name: node.to_string(),
        },
        status: HostNetworkStatus {
            interface_status: nics,
            routes: Some(routes),
            links,
        },
    })
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
