//! The links a plan reads: what a scoped discovery must fetch so that planning on it gives exactly the
//! plan a discovery of the whole node gives.
//!
//! [`plan`](super::plan), [`release`](fn@super::release), [`sriov_mtu_ops`](super::sriov_mtu_ops) and the
//! apply's refusals (a NIC with addresses given to a userspace driver, an OVS uplink with addresses)
//! look a link up by name, and only these names ([`links_read`]). Beyond them they read what hangs off
//! those links, which the kernel finds from the links themselves (the netlink side's closure,
//! [`crate::node::netlink::Scoped`]):
//! - every VLAN on one of them, and on those VLANs (a link deleted or replaced takes its VLANs with it;
//!   a foreign VLAN on a released link keeps the link);
//! - every member of one of them (a bond or bridge deleted or replaced releases its members first);
//! - the link each of them names by index (its controller, a VLAN's parent, the parent's parent), to
//!   name it;
//! - the routes that leave by one of them (the routes of a link's stated family, the routes a removed
//!   address flushes, the routes a deleted link's snapshot keeps, plumber's routes to let go of).
//!
//! Not here, and not read by a plan that changes nothing: the connectivity guard's probes (every default
//! gateway of the main table, and the path to each), which only a plan that changes the node computes.
//! That plan is made from a discovery of the whole node (`apply::run`).

use std::collections::BTreeSet;

use plumber_render::inventory::InterfaceStatus;
use plumber_render::node::{LinkKind, NodeConfig};

use super::Owned;

/// The names of the links that planning `node` on this node reads, with `owned` (plumber's record of
/// what it created, to let go of) and `nics` (sysfs's NICs, whose links the inventory reports): the
/// links the templates name, their VLAN parents and controllers; the SR-IOV PFs the templates configure
/// and the VF netdevs of those PFs (their MTUs); the NICs the templates give to another driver and the
/// OVS ports' interfaces (refused when they carry addresses); every link named in `owned`; every NIC's
/// link (the inventory that SR-IOV selectors resolve on lists their addresses and VFs).
pub fn links_read(node: &NodeConfig, owned: &Owned, nics: &[InterfaceStatus]) -> BTreeSet<String> {
    let mut names = nic_links(nics);
    for l in node.links.values() {
        names.insert(l.name.clone());
        if let LinkKind::Vlan { parent, .. } = &l.kind {
            names.insert(parent.clone());
        }
        if let Some(c) = &l.controller {
            names.insert(c.name.clone());
        }
    }
    for pf in &node.sriov {
        names.extend(pf.name.iter().cloned());
        // The NIC as `sriov_mtu_ops` finds it: by PCI address, else by name.
        let nic = match (&pf.pci, &pf.name) {
            (Some(pci), _) => nics.iter().find(|n| n.pci_addr.as_ref() == Some(pci)),
            (None, Some(name)) => nics.iter().find(|n| n.pf_name.as_deref() == Some(name)),
            (None, None) => None,
        };
        let vfs = nic.and_then(|n| n.sriov_status.as_ref());
        names.extend(
            vfs.iter()
                .flat_map(|s| &s.vfs)
                .filter_map(|v| v.netdev.clone()),
        );
    }
    names.extend(node.nic_drivers.iter().filter_map(|n| n.name.clone()));
    for b in &node.ovs {
        names.insert(b.name.clone());
        for p in &b.ports {
            names.insert(p.name.clone());
            names.extend(p.interfaces.iter().map(|i| i.name.clone()));
        }
    }
    names.extend(owned.links.keys().cloned());
    names.extend(owned.addresses.keys().cloned());
    names.extend(owned.routes.iter().map(|r| r.dev.clone()));
    names
}

/// The links of sysfs's NICs (`nics`): what the inventory needs from netlink (each NIC's addresses and
/// VFs), known before the templates are merged on that inventory.
pub fn nic_links(nics: &[InterfaceStatus]) -> BTreeSet<String> {
    nics.iter().filter_map(|n| n.pf_name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(spec: &str) -> NodeConfig {
        plumber_render::node_config_of_spec(spec).unwrap()
    }

    #[test]
    fn the_named_links_their_parents_and_controllers_and_everything_owned() {
        let n = node(
            "  bridgeConfig:
    - name: br0
      members: [eno2]
  interfaceConfig:
    - name: eno1
      vlan:
        - id: 100
    - name: eno3
      mtu: 9000
",
        );
        let owned: Owned = serde_json::from_str(
            r#"{"links": {"bond9": "bond"}, "addresses": {"eno7": ["10.0.0.2/24"]},
                "routes": [{"dev": "eno8", "dst": "10.50.0.0/16", "via": "10.0.0.1", "metric": 0,
                            "table": 254, "proto": "static"}]}"#,
        )
        .unwrap();
        let nics = vec![InterfaceStatus {
            pf_name: Some("eno9".into()),
            ..InterfaceStatus::default()
        }];
        let names: Vec<String> = links_read(&n, &owned, &nics).into_iter().collect();
        assert_eq!(
            names,
            ["bond9", "br0", "eno1", "eno1.100", "eno2", "eno3", "eno7", "eno8", "eno9"]
        );
    }
}
