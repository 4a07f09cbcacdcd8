//! The names of an OVS bridge's uplink port and its interfaces: HostPlumber's, so that a node switched
//! from HostPlumber keeps the ports it made (OVSDB cannot rename a port; another name would delete and
//! re-create it, a bond flap on every node).
//!
//! | uplinks | port | interfaces |
//! |---|---|---|
//! | one kernel interface `eno2` | `eno2` | `eno2` |
//! | kernel `eno1,eno2` | `bond-<bridge>` | `eno1`, `eno2` |
//! | one DPDK device | `dpdk-<bridge>` | `dpdk-<bridge>` |
//! | DPDK `a,b,c` | `dpdkbond-<bridge>` | `<bridge>-dpdk0`, `<bridge>-dpdk1`, `<bridge>-dpdk2` |
//!
//! HostPlumber refused DPDK bonds of more than two; plumber numbers on. None of these is a kernel
//! interface name (a bond's port and a DPDK interface have no netdev), so they may exceed 15 bytes; they
//! are made of the bridge's name (letters, digits, `-_.+@`) and fixed text.

use std::collections::BTreeMap;

use crate::error::FieldError;
use crate::model::Uplink;
use crate::node::OvsBridge;

use super::ovs::UplinkOrigins;

/// The uplink port's name and its interfaces' names, in `uplinks`' order. An uplink is a DPDK interface
/// when the bridge is (`dpdk`) or when it is a PCI address; else it keeps its kernel name.
pub(super) fn uplink_names(bridge: &str, dpdk: bool, uplinks: &[Uplink]) -> (String, Vec<String>) {
    let bond = uplinks.len() > 1;
    let ifaces: Vec<String> = uplinks
        .iter()
        .enumerate()
        .map(|(i, u)| match u {
            Uplink::Name(n) if !dpdk => n.to_string(),
            _ if bond => format!("{bridge}-dpdk{i}"),
            _ => format!("dpdk-{bridge}"),
        })
        .collect();
    let port = match (bond, dpdk) {
        (true, true) => format!("dpdkbond-{bridge}"),
        (true, false) => format!("bond-{bridge}"),
        (false, _) => ifaces.first().cloned().unwrap_or_default(),
    };
    (port, ifaces)
}

/// What a name is to the bridge that uses it.
fn roles(b: &OvsBridge) -> BTreeMap<&str, &'static str> {
    let mut m = BTreeMap::new();
    for p in &b.ports {
        for i in &p.interfaces {
            m.insert(i.name.as_str(), "an uplink interface");
        }
        m.entry(p.name.as_str()).or_insert("a port");
    }
    m.insert(b.name.as_str(), "the bridge");
    m
}

/// Bridge, port and interface names are each OVSDB's once per node: a name two bridges use (an
/// interface listed by both, or a bridge named like another's port, such as `bond-br1` next to the bond
/// of `br1`) would make the bridges take it from each other on every apply. An error at the uplink of
/// the second bridge (by name) that uses it.
pub(super) fn check_unique(
    ovs: &[OvsBridge],
    origins: &UplinkOrigins,
    errors: &mut Vec<FieldError>,
) {
    let mut seen: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for b in ovs {
        for (name, role) in roles(b) {
            match seen.get(name) {
                Some((other, their)) => {
                    let (origin, path) = origins.get(&b.name).cloned().unwrap_or_default();
                    errors.push(FieldError {
                        origin,
                        path,
                        message: format!(
                            "{name} is {their} of OVS bridge {other} and {role} of OVS bridge {}; an OVS name belongs to one bridge",
                            b.name
                        ),
                    });
                }
                None => {
                    seen.insert(name, (b.name.as_str(), role));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IfName, PciAddr};

    fn name(n: &str) -> Uplink {
        Uplink::Name(IfName::parse(n).unwrap())
    }

    fn pci(a: &str) -> Uplink {
        Uplink::Pci(PciAddr::parse(a).unwrap())
    }

    fn names(bridge: &str, dpdk: bool, uplinks: &[Uplink]) -> (String, Vec<String>) {
        uplink_names(bridge, dpdk, uplinks)
    }

    #[test]
    fn hostplumbers_names() {
        // createOvsBridge: `add-port <bridge> <nodeInterface>`.
        assert_eq!(
            names("ovs-br01", false, &[name("eno2.1000")]),
            ("eno2.1000".into(), vec!["eno2.1000".into()])
        );
        // createOvsBond: `add-bond <bridge> bond-<bridge> nic1 nic2`.
        assert_eq!(
            names("ovs-br01", false, &[name("eno1"), name("eno2")]),
            ("bond-ovs-br01".into(), vec!["eno1".into(), "eno2".into()])
        );
        // createDpdkBridge: port and interface `dpdk-<bridge>`, by name or by PCI address alike.
        for u in [name("eno2"), pci("0000:03:00.1")] {
            assert_eq!(
                names("dpdk-br", true, &[u]),
                ("dpdk-dpdk-br".into(), vec!["dpdk-dpdk-br".into()])
            );
        }
        // createOvsDpdkBond: `dpdkbond-<bridge>` over `<bridge>-dpdk0`, `<bridge>-dpdk1`, in order.
        assert_eq!(
            names("br1", true, &[pci("0000:03:00.1"), name("eno2")]),
            (
                "dpdkbond-br1".into(),
                vec!["br1-dpdk0".into(), "br1-dpdk1".into()]
            )
        );
    }

    #[test]
    fn more_than_two_members_number_on() {
        let (port, ifaces) = names(
            "br1",
            true,
            &[name("a"), name("b"), name("c"), pci("0000:03:00.1")],
        );
        assert_eq!(port, "dpdkbond-br1");
        assert_eq!(ifaces, ["br1-dpdk0", "br1-dpdk1", "br1-dpdk2", "br1-dpdk3"]);
        let (port, ifaces) = names("br1", false, &[name("a"), name("b"), name("c")]);
        assert_eq!((port.as_str(), ifaces.len()), ("bond-br1", 3));
    }

    /// A bridge named like another bridge's bond port, and one NIC on two bridges: each is refused at
    /// the second bridge by name; names used once are fine.
    #[test]
    fn a_name_belongs_to_one_bridge() {
        let err = |spec: &str| {
            crate::node_config_of_spec(&format!("  ovsConfig:\n{spec}"))
                .err()
                .map(|e| e.to_string())
        };
        let e = err("    - bridgeName: br1\n      nodeInterface: eno3,eno4\n    - bridgeName: br-c\n      nodeInterface: bond-br1\n").unwrap();
        assert!(
            e.contains("spec.ovsConfig[0].nodeInterface: bond-br1 is an uplink interface of OVS bridge br-c and a port of OVS bridge br1; an OVS name belongs to one bridge"),
            "{e}"
        );
        let e = err("    - bridgeName: br1\n      nodeInterface: eno3\n    - bridgeName: eno3\n")
            .unwrap();
        assert!(
            e.contains(
                "eno3 is an uplink interface of OVS bridge br1 and the bridge of OVS bridge eno3"
            ),
            "{e}"
        );
        assert_eq!(
            err("    - bridgeName: br1\n      nodeInterface: eno3,eno4\n    - bridgeName: br2\n      nodeInterface: eno5\n"),
            None
        );
    }

    /// A 15-byte bridge gives names longer than a kernel interface name: OVS takes them (a bond's
    /// port and a DPDK interface are no netdevs; `tests/apply/ovs.rs` adds them to a real OVSDB).
    #[test]
    fn longest_names() {
        let br = "b23456789012345";
        let (port, ifaces) = names(br, true, &[name("a"), name("b")]);
        assert_eq!(port.len(), 24);
        assert_eq!(ifaces[1], "b23456789012345-dpdk1");
    }
}
