//! Addresses on a NIC that is about to become a kernel OVS uplink: refused, before any change.
//!
//! Once a kernel interface is an OVS port, the datapath takes its frames and its own addresses stop
//! working; on the node's management NIC that cuts the node off. HostPlumber moved the uplink's IPv4
//! addresses to the bridge (not IPv6, not its routes, not a DHCP lease, which the host's DHCP client
//! renews on the uplink). plumber does not move them: it refuses, naming the addresses, the interface,
//! the bridge and the fix (the bridge gets the addresses, or DHCP, in the host's network configuration;
//! or `nodeInterface` names a NIC without addresses). Checked for an interface that is not an OVS port
//! yet (one that is already a port stays as it is), with the addresses it will have once the link stage
//! is done: a family the templates state on it is theirs (`address: []` empties it first), else the
//! host's as discovered. The IPv6 link-local address does not count. DPDK interfaces are not kernel
//! interfaces; a NIC given to a userspace driver (a DPDK uplink, `pfDriver: vfio-pci`) loses its
//! interface altogether, and [`check_nic_binds`] refuses one that has addresses the same way.

use plumber_render::node::NodeConfig;

use super::OvsState;
use crate::node::state::CurrentState;

/// An address the uplink would carry into OVS: `10.0.0.5/24`, `2001:db8::5/64 (dynamic)`.
fn described(cidr: impl std::fmt::Display, dynamic: bool) -> String {
    if dynamic {
        format!("{cidr} (dynamic: DHCP or SLAAC)")
    } else {
        cidr.to_string()
    }
}

/// The addresses interface `name` will have once the link stage is done: a family the templates state
/// on it is theirs (with DHCP when they ask for it), else the host's as discovered; not the IPv6
/// link-local address.
fn carried(name: &str, desired: &NodeConfig, links: &CurrentState) -> Vec<String> {
    let stated = desired.links.get(name);
    let mut found = Vec::new();
    for v6 in [false, true] {
        match stated.and_then(|l| l.family(v6)) {
            Some(a) => {
                found.extend(a.addresses.iter().map(|c| described(c, false)));
                if a.dhcp {
                    found.push(format!(
                        "DHCP ({}, stated by the templates)",
                        if v6 { "IPv6" } else { "IPv4" }
                    ));
                }
            }
            None => {
                let have = links.links.get(name).map(|l| l.addresses.as_slice());
                found.extend(
                    have.unwrap_or_default()
                        .iter()
                        .filter(|a| a.cidr.addr.is_ipv6() == v6)
                        .filter(|a| !a.is_link_local())
                        .map(|a| described(a.cidr, a.dynamic)),
                );
            }
        }
    }
    found
}

/// `Err` naming every NIC `desired` gives to a userspace driver (`pfDriver: vfio-pci`, a DPDK uplink)
/// that still has its network interface with addresses: the bind takes the interface away, and with
/// it the addresses and every route through them (on the node's management NIC, the node itself).
/// Refused before any change, as an OVS uplink with addresses is; a NIC already bound has no interface.
pub(crate) fn check_nic_binds(desired: &NodeConfig, links: &CurrentState) -> Result<(), String> {
    let problems: Vec<String> = desired
        .nic_drivers
        .iter()
        .filter(|n| n.binds())
        .filter_map(|n| n.name.as_deref().map(|name| (n, name)))
        .filter(|(_, name)| links.links.contains_key(*name))
        .filter_map(|(n, name)| {
            let found = carried(name, desired, links);
            (!found.is_empty()).then(|| {
                format!(
                    "{name} would go to {} and has addresses: {}",
                    n.driver,
                    found.join(", ")
                )
            })
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}. A NIC given to a userspace driver has no network interface, so its addresses and the \
         routes through them would go (on the node's management NIC, the node with them), and \
         plumber does not move them: move them to another interface in the host's network \
         configuration first, or give the templates a NIC without addresses",
        problems.join("; ")
    ))
}

/// `Err` naming every new kernel uplink of `desired` that would carry addresses into OVS, and the fix.
pub(crate) fn check(
    desired: &NodeConfig,
    links: &CurrentState,
    ovs: &OvsState,
) -> Result<(), String> {
    let mut problems = Vec::new();
    for b in &desired.ovs {
        for p in &b.ports {
            for i in p.interfaces.iter().filter(|i| i.dpdk_devargs.is_none()) {
                if ovs.port_of(&i.name).is_some() {
                    continue;
                }
                let found = carried(&i.name, desired, links);
                if found.is_empty() {
                    continue;
                }
                let what = if p.is_bond() {
                    format!("a member of OVS bond {} on bridge {}", p.name, b.name)
                } else {
                    format!("a port of OVS bridge {}", b.name)
                };
                problems.push(format!(
                    "{} would become {what} and has addresses: {}",
                    i.name,
                    found.join(", ")
                ));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}. An OVS port's own addresses stop working (the datapath takes its frames; on the node's \
         management NIC that cuts the node off), and plumber does not move them: configure the \
         addresses (or DHCP) on the OVS bridge in the host's network configuration and remove them \
         from the interface, or name an interface without addresses in nodeInterface",
        problems.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::state::{AddressState, CurrentKind, LinkState};
    use plumber_render::model::IpCidr;

    fn desired(spec: &str) -> NodeConfig {
        plumber_render::node_config_of_spec(spec).unwrap()
    }

    /// A NIC with `addrs` (`/d` at the end: dynamic).
    fn nic(name: &str, addrs: &[&str]) -> LinkState {
        LinkState {
            name: name.into(),
            kind: CurrentKind::Device,
            mtu: 1500,
            up: true,
            controller: None,
            addresses: addrs
                .iter()
                .map(|a| AddressState {
                    cidr: IpCidr::parse(a.trim_end_matches("/d")).unwrap(),
                    dynamic: a.ends_with("/d"),
                })
                .collect(),
            vfs: vec![],
        }
    }

    fn links(l: Vec<LinkState>) -> CurrentState {
        CurrentState {
            links: l.into_iter().map(|l| (l.name.clone(), l)).collect(),
            routes: vec![],
        }
    }

    const ONE: &str = "  ovsConfig:\n    - bridgeName: br-ex\n      nodeInterface: eno1\n";

    #[test]
    fn an_address_on_a_new_uplink_is_refused_naming_the_fix() {
        let st = links(vec![nic(
            "eno1",
            &["10.0.0.5/24", "fe80::1/64", "2001:db8::5/64/d"],
        )]);
        let e = check(&desired(ONE), &st, &OvsState::default()).unwrap_err();
        assert_eq!(
            e,
            "eno1 would become a port of OVS bridge br-ex and has addresses: 10.0.0.5/24, 2001:db8::5/64 (dynamic: DHCP or SLAAC). An OVS port's own addresses stop working (the datapath takes its frames; on the node's management NIC that cuts the node off), and plumber does not move them: configure the addresses (or DHCP) on the OVS bridge in the host's network configuration and remove them from the interface, or name an interface without addresses in nodeInterface"
        );
    }

    #[test]
    fn without_addresses_or_already_a_port_it_is_fine() {
        // Only the IPv6 link-local address, or none, or a NIC the node lacks (a VLAN made by this apply).
        for st in [
            links(vec![nic("eno1", &["fe80::1/64"])]),
            links(vec![nic("eno1", &[])]),
            links(vec![]),
        ] {
            assert_eq!(check(&desired(ONE), &st, &OvsState::default()), Ok(()));
        }
        // Already an OVS port (of any bridge): left as it is, whatever it carries.
        let st = links(vec![nic("eno1", &["10.0.0.5/24"])]);
        let mut ovs = OvsState::default();
        ovs.apply(&super::super::OvsOp::AddBridge {
            name: "br-old".into(),
            datapath_type: "system".into(),
        });
        ovs.apply(&super::super::OvsOp::AddPort {
            bridge: "br-old".into(),
            port: super::super::PortState {
                name: "eno1".into(),
                interfaces: vec![super::super::IfaceState {
                    name: "eno1".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        });
        assert_eq!(check(&desired(ONE), &st, &ovs), Ok(()));
        // DPDK interfaces are no kernel interfaces.
        let dpdk = desired(
            "  ovsConfig:\n    - bridgeName: br-d\n      nodeInterface: 0000:03:00.1\n      dpdk: true\n",
        );
        assert_eq!(check(&dpdk, &st, &OvsState::default()), Ok(()));
    }

    /// A family the templates state is theirs: `address: []` empties it before OVS (stated addresses or
    /// DHCP on an uplink are the merge's error already).
    #[test]
    fn an_emptied_family_is_fine() {
        let st = links(vec![nic("eno1", &["10.0.0.5/24", "2001:db8::5/64"])]);
        let emptied =
            format!("{ONE}  interfaceConfig:\n    - name: eno1\n      ipv4: {{address: []}}\n");
        let e = check(&desired(&emptied), &st, &OvsState::default()).unwrap_err();
        assert!(
            e.starts_with(
                "eno1 would become a port of OVS bridge br-ex and has addresses: 2001:db8::5/64."
            ),
            "{e}"
        );
        let both = format!("{emptied}      ipv6: {{address: []}}\n");
        assert_eq!(check(&desired(&both), &st, &OvsState::default()), Ok(()));
        let e = plumber_render::node_config_of_spec(&format!(
            "{ONE}  interfaceConfig:\n    - name: eno1\n      ipv6: {{dhcp: true}}\n"
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("eno1 has addresses or DHCP in interfaceConfig"),
            "{e}"
        );
    }

    #[test]
    fn a_bond_member_with_addresses_is_refused_too() {
        let st = links(vec![nic("eno1", &[]), nic("eno2", &["192.0.2.7/24/d"])]);
        let bond =
            desired("  ovsConfig:\n    - bridgeName: br-ex\n      nodeInterface: eno1,eno2\n");
        let e = check(&bond, &st, &OvsState::default()).unwrap_err();
        assert!(
            e.starts_with("eno2 would become a member of OVS bond bond-br-ex on bridge br-ex and has addresses: 192.0.2.7/24 (dynamic: DHCP or SLAAC)."),
            "{e}"
        );
    }

    #[test]
    fn a_nic_with_addresses_is_never_given_to_a_userspace_driver() {
        let spec = "  sriovConfig:\n    - {pfName: eno2, pfDriver: vfio-pci}\n";
        let d = desired(spec);
        let e = check_nic_binds(
            &d,
            &links(vec![nic("eno2", &["10.0.0.5/24", "fe80::1/64"])]),
        )
        .unwrap_err();
        assert!(
            e.starts_with("eno2 would go to vfio-pci and has addresses: 10.0.0.5/24. A NIC given"),
            "{e}"
        );
        // Only the link-local address, or no interface any more (bound already): nothing to refuse.
        assert!(check_nic_binds(&d, &links(vec![nic("eno2", &["fe80::1/64"])])).is_ok());
        assert!(check_nic_binds(&d, &links(vec![])).is_ok());
        // A NIC the node does not name (a DPDK uplink by PCI address, no inventory) has no interface
        // with addresses to lose here.
        let dpdk =
            "  ovsConfig:\n    - {bridgeName: br0, nodeInterface: \"0000:03:00.0\", dpdk: true}\n";
        assert!(
            check_nic_binds(&desired(dpdk), &links(vec![nic("eno3", &["10.0.0.6/24"])])).is_ok()
        );
    }
}
