//! Letting go: what plumber created or added at runtime for templates that no longer ask for it.
//!
//! After each successful apply, the applier records [`Owned`]: the VLANs, bonds and bridges it
//! manages, the addresses and routes it put on links, and the OVS bridges and ports. When a later
//! desired state no longer names one of them (a template was deleted, stopped selecting the node, or
//! dropped the entry), [`release`] removes it: virtual links are deleted (with the snapshot that lets a
//! rollback re-create them), addresses and routes on links the templates no longer name are removed.
//! Links the templates still name are desired state already, and NICs are never deleted. The record
//! lives on the host (the state directory), so this survives restarts of the agent.
//!
//! ```json
//! {"links": {"eno2.1000": "vlan", "br0": "bridge"},
//!  "addresses": {"eno3": ["10.0.0.2/24"]},
//!  "routes": [{"dev": "eno3", "dst": "10.50.0.0/16", "via": "10.0.0.1", "metric": 0, "table": 254}],
//!  "ovsBridges": ["br-ex"], "ovsPorts": [["br-ex", "bond0"]]}
//! ```

use std::collections::{BTreeMap, BTreeSet};

use plumber_render::model::IpCidr;
use plumber_render::node::{LinkKind, NodeConfig};
use serde::{Deserialize, Serialize};

use super::{delete_ops, routes, with_vlans_on, Op, RouteSpec};
use crate::node::state::{CurrentKind, CurrentState};

/// What plumber manages at runtime on a node, by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owned {
    /// Virtual links plumber creates, with their kind (`vlan`, `bond`, `bridge`).
    #[serde(default)]
    pub links: BTreeMap<String, String>,
    /// Addresses plumber puts on each link.
    #[serde(default)]
    pub addresses: BTreeMap<String, Vec<IpCidr>>,
    #[serde(default)]
    pub(crate) routes: Vec<RouteSpec>,
    #[serde(default)]
    pub ovs_bridges: Vec<String>,
    /// `[bridge, port]` pairs.
    #[serde(default)]
    pub(crate) ovs_ports: Vec<(String, String)>,
}

impl Owned {
    /// What applying `node` makes plumber's.
    pub fn of(node: &NodeConfig) -> Owned {
        let mut o = Owned::default();
        for l in node.links.values() {
            if !matches!(l.kind, LinkKind::Device) {
                o.links.insert(l.name.clone(), l.kind.label().to_string());
            }
            let addrs: Vec<IpCidr> = l.addresses().copied().collect();
            if !addrs.is_empty() {
                o.addresses.insert(l.name.clone(), addrs);
            }
            for v6 in [false, true] {
                if let Some(a) = l.family(v6) {
                    o.routes.extend(routes(&l.name, a, v6));
                }
            }
        }
        for b in &node.ovs {
            o.ovs_bridges.push(b.name.clone());
            for p in &b.ports {
                o.ovs_ports.push((b.name.clone(), p.name.clone()));
            }
        }
        o
    }
}

/// The ops that remove what `owned` holds and `desired` no longer names, from `current`: routes, then
/// addresses, of the families the templates no longer state on a link (a family they state is desired
/// state, which `plan` makes exact), then the virtual links (members released, VLANs
/// before their parents). A link is deleted only if it still has the kind plumber gave it, and not
/// while a desired link sits on it (a VLAN's parent, a member's controller).
pub fn release(owned: &Owned, desired: &NodeConfig, current: &CurrentState) -> Vec<Op> {
    let mut ops = Vec::new();
    let named = |l: &str| desired.links.contains_key(l);
    let needed: BTreeSet<&str> = desired
        .links
        .values()
        .flat_map(|l| {
            let parent = match &l.kind {
                LinkKind::Vlan { parent, .. } => Some(parent.as_str()),
                _ => None,
            };
            parent
                .into_iter()
                .chain(l.controller.as_ref().map(|c| c.name.as_str()))
        })
        .collect();
    let mut doomed: BTreeSet<String> = owned
        .links
        .iter()
        .filter(|(name, _)| !named(name) && !needed.contains(name.as_str()))
        .filter(|(name, kind)| {
            current
                .links
                .get(*name)
                .is_some_and(|l| l.kind.label() == kind.as_str())
        })
        .map(|(name, _)| name.clone())
        .collect();
    // The kernel takes VLANs on a deleted link with it; only plumber's may go, so a foreign VLAN on a
    // released link keeps the link.
    let mut with_children = doomed.clone();
    with_vlans_on(&mut with_children, current);
    for extra in with_children
        .difference(&doomed)
        .cloned()
        .collect::<Vec<_>>()
    {
        if !owned.links.contains_key(&extra) || named(&extra) {
            if let Some(CurrentKind::Vlan { parent, .. }) =
                current.links.get(&extra).map(|l| &l.kind)
            {
                doomed.remove(parent);
            }
        }
    }
    with_vlans_on(&mut doomed, current);

    let present_routes: BTreeSet<RouteSpec> =
        current.routes.iter().map(super::route_spec).collect();
    let stated = |l: &str, v6: bool| desired.links.get(l).is_some_and(|l| l.family(v6).is_some());
    let mut removed = BTreeSet::new();
    for r in &owned.routes {
        if !stated(&r.dev, !r.dst.is_ipv4())
            && !doomed.contains(&r.dev)
            && present_routes.contains(r)
        {
            ops.push(Op::DelRoute { route: r.clone() });
            removed.insert(r.clone());
        }
    }
    let mut dels: Vec<(&str, IpCidr)> = Vec::new();
    for (link, addrs) in &owned.addresses {
        if doomed.contains(link) {
            continue;
        }
        let Some(l) = current.links.get(link) else {
            continue;
        };
        for a in addrs {
            if !stated(link, !a.is_ipv4()) && l.addresses.iter().any(|x| x.cidr == *a) {
                dels.push((link.as_str(), *a));
            }
        }
    }
    ops.extend(super::address_removals(
        &dels,
        current,
        &removed,
        &|_: &str| 0,
    ));
    ops.extend(delete_ops(&doomed, current));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::state::{AddressState, LinkState, RouteProto, RouteState};

    fn link(name: &str, kind: CurrentKind, addrs: &[&str]) -> LinkState {
        LinkState {
            name: name.into(),
            kind,
            mtu: 1500,
            up: true,
            controller: None,
            addresses: addrs
                .iter()
                .map(|a| AddressState {
                    cidr: IpCidr::parse(a).unwrap(),
                    dynamic: false,
                })
                .collect(),
            vfs: vec![],
        }
    }

    fn node(spec: &str) -> NodeConfig {
        plumber_render::node_config_of_spec(spec).unwrap()
    }

    fn lines(ops: &[Op]) -> Vec<String> {
        ops.iter().map(|o| o.to_string()).collect()
    }

    const BEFORE: &str = "  bridgeConfig:
    - name: br0
      members: [eno2]
  interfaceConfig:
    - name: eno1
      ipv4:
        address: [10.0.0.2/24]
        routes:
          - {to: 10.50.0.0/16, via: 10.0.0.1}
    - name: br0
      ipv4:
        address: [10.1.0.1/24]
";

    fn current() -> CurrentState {
        let mut eno2 = link("eno2", CurrentKind::Device, &[]);
        eno2.controller = Some("br0".into());
        let mut s = CurrentState::default();
        for l in [
            link("eno1", CurrentKind::Device, &["10.0.0.2/24", "10.9.9.9/24"]),
            eno2,
            link("br0", CurrentKind::Bridge, &["10.1.0.1/24"]),
        ] {
            s.links.insert(l.name.clone(), l);
        }
        s.routes.push(RouteState {
            dev: "eno1".into(),
            dst: IpCidr::parse("10.50.0.0/16").unwrap(),
            via: Some("10.0.0.1".parse().unwrap()),
            metric: None,
            table: 254,
            src: None,
            proto: RouteProto::Static,
        });
        s
    }

    #[test]
    fn what_no_template_names_any_more_is_removed_and_nothing_else() {
        let owned = Owned::of(&node(BEFORE));
        assert_eq!(owned.links.get("br0").map(String::as_str), Some("bridge"));
        // Nothing left: the route, the address plumber added (not the other one) and the bridge go.
        let ops = release(&owned, &NodeConfig::default(), &current());
        assert_eq!(
            lines(&ops),
            [
                "remove route 10.50.0.0/16 via 10.0.0.1 dev eno1 metric 0",
                "remove address 10.0.0.2/24 from eno1",
                "release eno2 from br0",
                "delete br0 (bridge stp off)",
            ]
        );
        // Still named: desired state handles them, release does nothing.
        assert!(release(&owned, &node(BEFORE), &current()).is_empty());
    }

    #[test]
    fn a_link_of_another_kind_now_or_under_a_desired_link_is_kept() {
        let owned = Owned::of(&node(BEFORE));
        let mut s = current();
        s.links.get_mut("br0").unwrap().kind = CurrentKind::Other {
            kind: "veth".into(),
        };
        assert!(!lines(&release(&owned, &NodeConfig::default(), &s))
            .iter()
            .any(|l| l.contains("delete br0")));
        // A desired VLAN on br0 keeps br0.
        let vlan_on_br0 =
            node("  interfaceConfig:\n    - name: br0\n      vlan:\n        - id: 5\n");
        let mut owned2 = owned.clone();
        owned2.links.insert("br0".into(), "bridge".into());
        let ops = release(&owned2, &vlan_on_br0, &current());
        assert!(
            !lines(&ops).iter().any(|l| l.contains("delete br0")),
            "{ops:?}"
        );
    }

    #[test]
    fn a_family_no_template_states_any_more_is_let_go_on_a_link_still_named() {
        // eno1 is still named (for its MTU) but its IPv4 is no longer stated: what plumber put there
        // goes, the host's own address stays.
        let owned = Owned::of(&node(BEFORE));
        let now = node("  interfaceConfig:\n    - name: eno1\n      mtu: 9000\n");
        let ops = release(&owned, &now, &current());
        assert_eq!(
            lines(&ops)[..2],
            [
                "remove route 10.50.0.0/16 via 10.0.0.1 dev eno1 metric 0",
                "remove address 10.0.0.2/24 from eno1",
            ]
        );
        // Its IPv6 stated instead: the IPv4 is still let go.
        let now = node("  interfaceConfig:\n    - name: eno1\n      ipv6: {address: []}\n");
        assert!(lines(&release(&owned, &now, &current()))
            .contains(&"remove address 10.0.0.2/24 from eno1".to_string()));
    }

    #[test]
    fn the_record_round_trips() {
        let owned = Owned::of(&node(BEFORE));
        let json = serde_json::to_string(&owned).unwrap();
        assert_eq!(serde_json::from_str::<Owned>(&json).unwrap(), owned);
    }
}
