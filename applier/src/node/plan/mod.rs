//! `plan(desired, current) -> Vec<Op>`: the pure diff between a node's [`NodeConfig`] and what it has.
//! Executing the ops makes the node match; planning again on the rediscovered state gives nothing, which
//! is how `verify` works; undoing the executed ops in reverse order (`Op::inverse`) is how rollback
//! works.
//!
//! Order matters to the kernel and is fixed here:
//! 1. links of the wrong kind that the templates own are deleted, missing ones are created: bonds and
//!    bridges, then VLANs parents first;
//! 2. membership in bonds and bridges: the templates' bonds and bridges get exactly their members; a
//!    link in a controller the templates do not define stays there;
//! 3. MTUs: lowered children first, then raised parents first (a VLAN's MTU cannot exceed its parent's);
//! 4. links up;
//! 5. of the address families the templates state (an unstated family is the host's and is left
//!    alone): missing addresses added; unlisted `boot`/`static` routes removed; unlisted addresses removed
//!    (the kernel flushes a link's IPv4 routes when its last IPv4 address goes, so a replacement arrives
//!    first and the routes go before; the removal that empties a link's IPv4 carries the other routes the
//!    kernel drops with it, for rollback). The IPv6 link-local address stays, and so do dynamic
//!    (DHCP/SLAAC) addresses of a family the templates put on DHCP;
//! 6. missing routes added (after the addresses that make their gateways reachable);
//! 7. SR-IOV VF settings (MAC, VLAN and QoS, rates, spoofchk, trust) that differ, one request per VF.

mod op;
mod recover;
mod release;
pub mod scope;
pub mod vf;
mod vf_mtu;

use std::collections::{BTreeMap, BTreeSet};

use plumber_render::node::{Addressing, Link, LinkKind, NodeConfig};

pub use op::{Op, RouteSpec, Snapshot};
pub(crate) use recover::recovery;
pub use release::{release, Owned};
pub(crate) use vf_mtu::{sriov_mtu_ops, vf_netdevs};

use plumber_render::model::IpCidr;

use crate::node::state::{CurrentKind, CurrentState, LinkState, RouteProto};

/// Something the plan cannot do by changing the node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0} does not exist on this node (plumber configures NICs, it cannot create them)")]
    MissingDevice(String),
    #[error("{name} exists as a {kind} link; plumber replaces only VLANs, bonds and bridges, move it out of the way")]
    WrongKind { name: String, kind: String },
}

/// The kernel's default route metric for a family (what a route without one gets).
pub fn default_metric(v6: bool) -> u32 {
    if v6 {
        1024
    } else {
        0
    }
}

/// What plumber would create for a desired link: VLANs, bonds and bridges; `None` for a device.
fn spec(kind: &LinkKind) -> Option<LinkKind> {
    (!matches!(kind, LinkKind::Device)).then(|| kind.clone())
}

/// The link as it stands, as plumber would create it (for replacing and rollback).
fn current_spec(l: &LinkState) -> Option<LinkKind> {
    match &l.kind {
        CurrentKind::Vlan { parent, id } => Some(LinkKind::Vlan {
            parent: parent.clone(),
            id: *id,
        }),
        CurrentKind::Bond { mode } => Some(LinkKind::Bond {
            mode: *mode,
            options: Default::default(),
        }),
        CurrentKind::Bridge => Some(LinkKind::Bridge {
            stp: None,
            forward_delay: None,
        }),
        CurrentKind::Device | CurrentKind::Other { .. } => None,
    }
}

/// Whether the current link is what the desired one needs (options that can change in place, such as
/// bond monitoring or STP, are not part of the identity).
fn same_kind(want: &LinkKind, have: &CurrentKind) -> bool {
    match (want, have) {
        (LinkKind::Device, CurrentKind::Device | CurrentKind::Other { .. }) => true,
        (LinkKind::Vlan { parent, id }, CurrentKind::Vlan { parent: p, id: i }) => {
            parent == p && id == i
        }
        (LinkKind::Bond { mode, .. }, CurrentKind::Bond { mode: m }) => mode == m,
        (LinkKind::Bridge { .. }, CurrentKind::Bridge) => true,
        _ => false,
    }
}

/// Depth in the link tree: devices 0, bonds and bridges 1, a VLAN one more than its parent.
fn depth(node: &NodeConfig, name: &str) -> usize {
    let mut d = 0;
    let mut cur = name;
    while let Some(l) = node.links.get(cur) {
        match &l.kind {
            LinkKind::Vlan { parent, .. } if d < 16 => {
                d += 1;
                cur = parent;
            }
            LinkKind::Bond { .. } | LinkKind::Bridge { .. } => return d + 1,
            _ => return d,
        }
    }
    d
}

pub fn plan(desired: &NodeConfig, current: &CurrentState) -> Result<Vec<Op>, PlanError> {
    let mut ops = Vec::new();

    // 1. Links. A link of the wrong kind that plumber can replace is deleted with everything the kernel
    // would take down with it (VLANs on it), its members released first, so that rollback can put all of
    // it back; then every missing link is created, parents first.
    let mut links: Vec<&Link> = desired.links.values().collect();
    links.sort_by_key(|l| (depth(desired, &l.name), l.name.clone()));
    let mut doomed: BTreeSet<String> = BTreeSet::new();
    for l in &links {
        match (current.links.get(&l.name), spec(&l.kind)) {
            (Some(have), _) if same_kind(&l.kind, &have.kind) => {}
            (None, None) => return Err(PlanError::MissingDevice(l.name.clone())),
            (Some(have), None) => {
                return Err(PlanError::WrongKind {
                    name: l.name.clone(),
                    kind: have.kind.label().to_string(),
                })
            }
            (None, Some(_)) => {}
            (Some(have), Some(_)) => {
                if current_spec(have).is_none() {
                    return Err(PlanError::WrongKind {
                        name: l.name.clone(),
                        kind: have.kind.label().to_string(),
                    });
                }
                doomed.insert(l.name.clone());
            }
        }
    }
    // VLANs stacked on a doomed link go with it.
    with_vlans_on(&mut doomed, current);
    ops.extend(delete_ops(&doomed, current));
    let mut created: BTreeSet<&str> = BTreeSet::new();
    for l in &links {
        if let Some(s) = spec(&l.kind) {
            if !current.links.contains_key(&l.name) || doomed.contains(&l.name) {
                ops.push(Op::CreateLink {
                    name: l.name.clone(),
                    spec: s,
                    restore: None,
                });
                created.insert(&l.name);
            }
        }
    }
    let have = |name: &str| {
        if created.contains(name) || doomed.contains(name) {
            None
        } else {
            current.links.get(name).map(|h| {
                // Members of a doomed link were released above.
                let mut h = h.clone();
                if h.controller.as_ref().is_some_and(|c| doomed.contains(c)) {
                    h.controller = None;
                }
                h
            })
        }
    };

    // 2. Membership. A link's membership is what the templates state: a bond or bridge of theirs has
    // exactly the members they list, and a member they list is moved to it. A link named for something
    // else (its MTU, VLANs) that is a port of a controller the templates do not define (the host's own
    // bridge) stays there. A port of an Open vSwitch bridge on the kernel datapath has the datapath
    // (`ovs-system`, kind `openvswitch`) as its controller: that is OVS's business (the OVS stage).
    let ours = |c: &str| {
        desired
            .links
            .get(c)
            .is_some_and(|l| matches!(l.kind, LinkKind::Bond { .. } | LinkKind::Bridge { .. }))
    };
    for l in &links {
        let want = l.controller.as_ref().map(|c| c.name.clone());
        let is = have(&l.name).and_then(|h| h.controller.clone());
        if want.is_none() && !is.as_deref().is_some_and(ours) {
            continue;
        }
        if want != is {
            ops.push(Op::SetController {
                link: l.name.clone(),
                controller: want,
                previous: is,
            });
        }
    }

    // 3. MTUs: lowering children first, then raising parents first.
    let mut lower = Vec::new();
    let mut raise = Vec::new();
    // A VLAN created without an MTU of its own gets its parent's as it will be, as at boot, where the
    // parent's MTU is set before the VLAN is made (otherwise the VLAN would keep the parent's old MTU
    // until the next reboot).
    let inherited = |l: &Link| -> Option<u32> {
        let mut cur = l;
        for _ in 0..16 {
            if let Some(m) = cur.mtu {
                return Some(m);
            }
            let LinkKind::Vlan { parent, .. } = &cur.kind else {
                return None;
            };
            if !created.contains(cur.name.as_str()) {
                return None;
            }
            cur = desired.links.get(parent)?;
        }
        None
    };
    for l in &links {
        let mtu = match l.mtu {
            Some(m) => m,
            None if created.contains(l.name.as_str()) => match inherited(l) {
                Some(m) => m,
                None => continue,
            },
            None => continue,
        };
        match have(&l.name) {
            Some(h) if h.mtu == mtu => {}
            Some(h) if mtu < h.mtu => lower.push(Op::SetMtu {
                link: l.name.clone(),
                mtu,
                previous: Some(h.mtu),
            }),
            Some(h) => raise.push(Op::SetMtu {
                link: l.name.clone(),
                mtu,
                previous: Some(h.mtu),
            }),
            None => raise.push(Op::SetMtu {
                link: l.name.clone(),
                mtu,
                previous: None,
            }),
        }
    }
    lower.reverse();
    ops.extend(lower);
    ops.extend(raise);

    // 4. Up.
    for l in &links {
        if !have(&l.name).is_some_and(|h| h.up) {
            ops.push(Op::SetUp {
                link: l.name.clone(),
                up: true,
            });
        }
    }

    // 5 and 6. Addresses and routes of the families the templates state; an unstated family is the
    // host's and is not looked at. Missing addresses first (a replacement arrives before the old one
    // goes: the kernel flushes a link's IPv4 routes with its last IPv4 address), then unlisted routes
    // removed while their addresses are still there, then unlisted addresses, then missing routes.
    let mut adds = Vec::new();
    let mut dels = Vec::new();
    for l in &links {
        let h = have(&l.name);
        let cur = h.as_ref().map(|h| h.addresses.as_slice()).unwrap_or(&[]);
        let want: BTreeSet<_> = l.addresses().copied().collect();
        for a in cur {
            let Some(fam) = l.family(!a.cidr.is_ipv4()) else {
                continue;
            };
            let keep = want.contains(&a.cidr) || a.is_link_local() || (a.dynamic && fam.dhcp);
            if !keep {
                dels.push((l.name.as_str(), a.cidr));
            }
        }
        let present: BTreeSet<_> = cur.iter().map(|a| a.cidr).collect();
        for a in l.addresses() {
            if !present.contains(a) {
                adds.push(Op::AddAddress {
                    link: l.name.clone(),
                    cidr: *a,
                });
            }
        }
    }
    let added_v4 = |name: &str| {
        adds.iter()
            .filter(
                |o| matches!(o, Op::AddAddress { link, cidr } if link == name && cidr.is_ipv4()),
            )
            .count()
    };
    let added_v4: BTreeMap<&str, usize> = links
        .iter()
        .map(|l| (l.name.as_str(), added_v4(&l.name)))
        .collect();
    ops.extend(adds);

    let want_routes: BTreeSet<RouteSpec> = links
        .iter()
        .flat_map(|l| {
            let v4 = l.ipv4.as_ref().map(|a| routes(&l.name, a, false));
            let v6 = l.ipv6.as_ref().map(|a| routes(&l.name, a, true));
            v4.into_iter().chain(v6).flatten()
        })
        .collect();
    let stated = |dev: &str, v6: bool| {
        desired
            .links
            .get(dev)
            .is_some_and(|l| l.family(v6).is_some())
    };
    let mut have_routes: BTreeMap<RouteSpec, bool> = BTreeMap::new();
    for r in &current.routes {
        if !stated(&r.dev, !r.dst.is_ipv4())
            || created.contains(r.dev.as_str())
            || doomed.contains(&r.dev)
        {
            continue;
        }
        have_routes.insert(route_spec(r), r.removable());
    }
    let mut removed: BTreeSet<RouteSpec> = BTreeSet::new();
    for (r, removable) in &have_routes {
        if *removable && !want_routes.contains(r) {
            ops.push(Op::DelRoute { route: r.clone() });
            removed.insert(r.clone());
        }
    }
    ops.extend(address_removals(&dels, current, &removed, &|l: &str| {
        added_v4.get(l).copied().unwrap_or(0)
    }));
    for r in want_routes {
        if !have_routes.contains_key(&r) {
            ops.push(Op::AddRoute { route: r });
        }
    }

    // 7. VF settings, on the VFs the PF has.
    for pf in &desired.sriov {
        if pf.vfs.is_empty() {
            continue;
        }
        let Some(name) = &pf.name else {
            return Err(PlanError::MissingDevice(pf.selector.to_string()));
        };
        let Some(have) = current.links.get(name) else {
            return Err(PlanError::MissingDevice(name.clone()));
        };
        for c in vf::vf_changes(name, &have.vfs, &pf.vfs) {
            ops.push(Op::SetVf {
                pf: c.pf,
                vf: c.vf,
                set: c.set,
                previous: c.previous,
            });
        }
    }
    Ok(ops)
}

/// The removals of `dels` (link, address), each with the routes the kernel drops with it: when the last
/// IPv4 address of a link goes, the kernel flushes every IPv4 route through the link (its own prefix
/// routes come back with an address). The last removal of a link's IPv4 carries those routes, so that a
/// rollback puts them back after the address. `added_v4` counts the IPv4 addresses the plan adds to a
/// link (then nothing is flushed); routes the plan `removed` already are not counted.
fn address_removals(
    dels: &[(&str, IpCidr)],
    current: &CurrentState,
    removed: &BTreeSet<RouteSpec>,
    added_v4: &dyn Fn(&str) -> usize,
) -> Vec<Op> {
    let mut ops: Vec<Op> = dels
        .iter()
        .map(|(link, cidr)| Op::DelAddress {
            link: link.to_string(),
            cidr: *cidr,
            flushed: Vec::new(),
        })
        .collect();
    let emptied: BTreeSet<&str> = dels
        .iter()
        .filter(|(_, c)| c.is_ipv4())
        .map(|(l, _)| *l)
        .collect();
    for name in emptied {
        let Some(h) = current.links.get(name) else {
            continue;
        };
        let left = h
            .addresses
            .iter()
            .filter(|a| a.cidr.is_ipv4() && !dels.contains(&(name, a.cidr)))
            .count()
            + added_v4(name);
        if left > 0 {
            continue;
        }
        let last = ops.iter_mut().rev().find(
            |o| matches!(o, Op::DelAddress { link, cidr, .. } if link == name && cidr.is_ipv4()),
        );
        if let Some(Op::DelAddress { flushed, .. }) = last {
            *flushed = current
                .routes
                .iter()
                .filter(|r| r.dev == name && r.dst.is_ipv4() && r.proto != RouteProto::Kernel)
                .map(route_spec)
                .filter(|r| !removed.contains(r))
                .collect();
        }
    }
    ops
}

/// Adds to `doomed` every VLAN stacked on one of its links (the kernel deletes them with it).
fn with_vlans_on(doomed: &mut BTreeSet<String>, current: &CurrentState) {
    loop {
        let more: Vec<String> = current
            .links
            .values()
            .filter(
                |l| matches!(&l.kind, CurrentKind::Vlan { parent, .. } if doomed.contains(parent)),
            )
            .filter(|l| !doomed.contains(&l.name))
            .map(|l| l.name.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        doomed.extend(more);
    }
}

/// Deleting the links of `doomed` (VLANs, bonds, bridges that exist): VLANs before their parents, each
/// link's members released first, each deletion with the snapshot its rollback re-creates.
fn delete_ops(doomed: &BTreeSet<String>, current: &CurrentState) -> Vec<Op> {
    let mut ops = Vec::new();
    let doomed_depth = |name: &str| {
        let mut d = 0;
        let mut cur = name;
        while let Some(CurrentKind::Vlan { parent, .. }) = current.links.get(cur).map(|l| &l.kind) {
            d += 1;
            cur = parent;
            if d > 16 {
                break;
            }
        }
        d
    };
    let mut doomed_order: Vec<&String> = doomed.iter().collect();
    doomed_order.sort_by_key(|n| std::cmp::Reverse(doomed_depth(n)));
    for name in doomed_order {
        let Some(l) = current.links.get(name) else {
            continue;
        };
        let Some(old) = current_spec(l) else {
            continue;
        };
        for m in current
            .links
            .values()
            .filter(|m| m.controller.as_deref() == Some(name.as_str()))
        {
            ops.push(Op::SetController {
                link: m.name.clone(),
                controller: None,
                previous: Some(name.clone()),
            });
        }
        let snapshot = Snapshot {
            mtu: l.mtu,
            up: l.up,
            addresses: l
                .addresses
                .iter()
                .filter(|a| !a.dynamic && !a.is_link_local())
                .map(|a| a.cidr)
                .collect(),
            routes: current
                .routes
                .iter()
                .filter(|r| &r.dev == name && r.removable())
                .map(route_spec)
                .collect(),
        };
        ops.push(Op::DeleteLink {
            name: name.clone(),
            spec: old,
            snapshot,
        });
    }
    ops
}

fn routes(dev: &str, a: &Addressing, v6: bool) -> Vec<RouteSpec> {
    a.routes
        .iter()
        .map(|r| RouteSpec {
            dev: dev.to_string(),
            dst: r.to.cidr(v6),
            via: r.via,
            metric: r.metric.map(|m| m.get()).unwrap_or(default_metric(v6)),
            table: r.table.map(|t| t.get()).unwrap_or(254),
            proto: crate::node::state::RouteProto::Static,
        })
        .collect()
}

fn route_spec(r: &crate::node::state::RouteState) -> RouteSpec {
    RouteSpec {
        dev: r.dev.clone(),
        dst: r.dst,
        via: r.via,
        metric: r.metric.unwrap_or(default_metric(!r.dst.is_ipv4())),
        table: r.table,
        proto: r.proto,
    }
}

/// The ops that undo `done` (the ops executed so far, in order): their inverses, last first, except
/// that routes come back last of all: a route the plan removed may need an address the plan removed
/// after it (its gateway's subnet, its source), and the kernel refuses a gateway it cannot reach. The
/// routes the kernel flushed with a removed address come back with them.
pub fn rollback(done: &[Op]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut routes = Vec::new();
    for o in done.iter().rev() {
        match o.inverse() {
            Some(i @ Op::AddRoute { .. }) => routes.push(i),
            Some(i) => ops.push(i),
            None => {}
        }
        if let Op::DelAddress { flushed, .. } = o {
            routes.extend(flushed.iter().map(|r| Op::AddRoute { route: r.clone() }));
        }
    }
    ops.extend(routes);
    ops
}

#[cfg(test)]
mod tests;
