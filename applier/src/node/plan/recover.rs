//! Undoing an apply that a crash interrupted: given the ops it meant to carry out (its write-ahead
//! journal, in order) and the node as it is now, the ops that put the node back as it was before the
//! apply.
//!
//! The crash may have hit before, during or after any op, so no op is assumed done: each is undone only
//! when its effect is there, walking the journal last first, on a model of the node that takes in each
//! undo as it is decided (a bridge created and then given an address is first stripped, then deleted).
//! An op whose effect is missing never happened and is skipped; so is an undo that would find nothing to
//! act on. A link the journal deleted is re-created from its snapshot, or, when it exists already (a
//! crash during an earlier recovery), completed to it. A link the journal creates that exists with
//! another kind was not created (it is the link the apply was to replace, or someone else's): no op
//! on it is undone. Routes come back last, as in [`rollback`].
//!
//! Recovering twice is the same as recovering once: on the node as it was before the apply, the
//! recovery is empty. That is also how a recovery is verified.
//!
//! [`rollback`]: super::rollback

use std::collections::BTreeSet;

use plumber_render::node::LinkKind;

use super::{route_spec, same_kind, Op, RouteSpec, Snapshot};
use crate::node::state::{AddressState, CurrentKind, CurrentState, LinkState, RouteState};

/// The ops that undo what was done of `journal` on `current` (see the module doc). Pure.
pub(crate) fn recovery(journal: &[Op], current: &CurrentState) -> Vec<Op> {
    let mut m = Model(current.clone());
    let mut ops = Vec::new();
    // Routes put back, last of all (their gateways need the addresses put back before them).
    let mut routes = Vec::new();
    // Links the journal creates that exist with another kind: the creation did not happen (the link
    // is the one it was to replace, or someone else's), so neither did any op on the new link.
    let foreign: BTreeSet<&str> = journal
        .iter()
        .filter_map(|op| match op {
            Op::CreateLink { name, spec, .. } => current
                .links
                .get(name)
                .is_some_and(|l| !same_kind(spec, &l.kind))
                .then_some(name.as_str()),
            _ => None,
        })
        .collect();
    for op in journal.iter().rev() {
        let on_foreign = match op {
            Op::CreateLink { .. } | Op::DeleteLink { .. } => false,
            Op::SetController {
                controller: Some(c),
                ..
            } if foreign.contains(c.as_str()) => true,
            _ => foreign.contains(op.link()),
        };
        if on_foreign {
            continue;
        }
        match op {
            Op::CreateLink { name, spec, .. } => {
                if m.has_kind(name, spec) {
                    ops.push(Op::DeleteLink {
                        name: name.clone(),
                        spec: spec.clone(),
                        snapshot: Snapshot::default(),
                    });
                    m.delete(name);
                }
            }
            Op::DeleteLink {
                name,
                spec,
                snapshot,
            } => {
                if !m.0.links.contains_key(name) {
                    ops.push(Op::CreateLink {
                        name: name.clone(),
                        spec: spec.clone(),
                        restore: Some(snapshot.clone()),
                    });
                    m.create(name, spec, snapshot);
                } else if m.has_kind(name, spec) {
                    // Re-created by an interrupted recovery, maybe without all it had.
                    m.complete(name, snapshot, &mut ops, &mut routes);
                }
            }
            Op::SetController {
                link,
                controller,
                previous,
            } => {
                let Some(l) = m.0.links.get(link) else {
                    continue;
                };
                let back_to = previous.as_ref().is_none_or(|c| m.0.links.contains_key(c));
                if l.controller == *controller && l.controller != *previous && back_to {
                    let undo = Op::SetController {
                        link: link.clone(),
                        controller: previous.clone(),
                        previous: l.controller.clone(),
                    };
                    m.0.links.get_mut(link).unwrap().controller = previous.clone();
                    ops.push(undo);
                }
            }
            Op::SetMtu {
                link,
                previous: Some(p),
                ..
            } => {
                if let Some(l) = m.0.links.get_mut(link) {
                    if l.mtu != *p {
                        ops.push(Op::SetMtu {
                            link: link.clone(),
                            mtu: *p,
                            previous: Some(l.mtu),
                        });
                        l.mtu = *p;
                    }
                }
            }
            Op::SetMtu { previous: None, .. } => {}
            Op::SetUp { link, up } => {
                if let Some(l) = m.0.links.get_mut(link) {
                    if l.up == *up {
                        ops.push(Op::SetUp {
                            link: link.clone(),
                            up: !up,
                        });
                        l.up = !up;
                    }
                }
            }
            Op::AddAddress { link, cidr } => {
                if m.has_address(link, cidr) {
                    ops.push(Op::DelAddress {
                        link: link.clone(),
                        cidr: *cidr,
                        flushed: Vec::new(),
                    });
                    m.del_address(link, cidr);
                }
            }
            Op::DelAddress {
                link,
                cidr,
                flushed,
            } => {
                if m.0.links.contains_key(link) && !m.has_address(link, cidr) {
                    ops.push(Op::AddAddress {
                        link: link.clone(),
                        cidr: *cidr,
                    });
                    m.add_address(link, cidr);
                }
                for r in flushed {
                    m.put_back(r, &mut routes);
                }
            }
            Op::AddRoute { route } => {
                if m.has_route(route) {
                    ops.push(Op::DelRoute {
                        route: route.clone(),
                    });
                    m.0.routes.retain(|r| route_spec(r) != *route);
                }
            }
            Op::DelRoute { route } => m.put_back(route, &mut routes),
            Op::SetVf {
                pf,
                vf,
                set,
                previous,
            } => {
                let Some(v) =
                    m.0.links
                        .get_mut(pf)
                        .and_then(|l| l.vfs.iter_mut().find(|v| v.id == *vf))
                else {
                    continue;
                };
                let mut back = v.clone();
                back.apply(previous);
                if back != *v {
                    ops.push(Op::SetVf {
                        pf: pf.clone(),
                        vf: *vf,
                        set: previous.clone(),
                        previous: set.clone(),
                    });
                    *v = back;
                }
            }
        }
    }
    ops.extend(routes);
    ops
}

/// The node as the recovery goes: what the kernel does with each undo, as far as [`CurrentState`]
/// tells.
struct Model(CurrentState);

impl Model {
    fn has_kind(&self, name: &str, spec: &LinkKind) -> bool {
        self.0
            .links
            .get(name)
            .is_some_and(|l| same_kind(spec, &l.kind))
    }

    fn has_address(&self, link: &str, cidr: &plumber_render::model::IpCidr) -> bool {
        self.0
            .links
            .get(link)
            .is_some_and(|l| l.addresses.iter().any(|a| a.cidr == *cidr))
    }

    fn has_route(&self, route: &RouteSpec) -> bool {
        self.0.routes.iter().any(|r| route_spec(r) == *route)
    }

    /// The kernel takes the link's routes and the VLANs on it along, and releases its members.
    fn delete(&mut self, name: &str) {
        self.0.links.remove(name);
        self.0.routes.retain(|r| r.dev != name);
        let vlans: Vec<String> = self
            .0
            .links
            .values()
            .filter(|l| matches!(&l.kind, CurrentKind::Vlan { parent, .. } if parent == name))
            .map(|l| l.name.clone())
            .collect();
        for l in self.0.links.values_mut() {
            if l.controller.as_deref() == Some(name) {
                l.controller = None;
            }
        }
        for v in vlans {
            self.delete(&v);
        }
    }

    fn create(&mut self, name: &str, spec: &LinkKind, s: &Snapshot) {
        let kind = CurrentKind::from(spec);
        self.0.links.insert(
            name.to_string(),
            LinkState {
                name: name.to_string(),
                kind,
                mtu: s.mtu,
                up: s.up,
                controller: None,
                addresses: s
                    .addresses
                    .iter()
                    .map(|c| AddressState {
                        cidr: *c,
                        dynamic: false,
                    })
                    .collect(),
                vfs: Vec::new(),
            },
        );
        for r in &s.routes {
            self.add_route(r);
        }
    }

    /// The ops that bring an existing link to its snapshot: MTU, up, addresses, then routes (last).
    fn complete(&mut self, name: &str, s: &Snapshot, ops: &mut Vec<Op>, routes: &mut Vec<Op>) {
        let l = self.0.links.get_mut(name).expect("complete() on a link");
        if s.mtu != 0 && l.mtu != s.mtu {
            ops.push(Op::SetMtu {
                link: name.to_string(),
                mtu: s.mtu,
                previous: Some(l.mtu),
            });
            l.mtu = s.mtu;
        }
        if s.up && !l.up {
            ops.push(Op::SetUp {
                link: name.to_string(),
                up: true,
            });
            l.up = true;
        }
        for c in &s.addresses {
            if !self.has_address(name, c) {
                ops.push(Op::AddAddress {
                    link: name.to_string(),
                    cidr: *c,
                });
                self.add_address(name, c);
            }
        }
        for r in &s.routes {
            self.put_back(r, routes);
        }
    }

    fn add_address(&mut self, link: &str, cidr: &plumber_render::model::IpCidr) {
        if let Some(l) = self.0.links.get_mut(link) {
            l.addresses.push(AddressState {
                cidr: *cidr,
                dynamic: false,
            });
        }
    }

    /// The kernel flushes a link's IPv4 routes with its last IPv4 address.
    fn del_address(&mut self, link: &str, cidr: &plumber_render::model::IpCidr) {
        let Some(l) = self.0.links.get_mut(link) else {
            return;
        };
        l.addresses.retain(|a| a.cidr != *cidr);
        if cidr.is_ipv4() && !l.addresses.iter().any(|a| a.cidr.is_ipv4()) {
            self.0
                .routes
                .retain(|r| !(r.dev == link && r.dst.is_ipv4()));
        }
    }

    fn add_route(&mut self, r: &RouteSpec) {
        self.0.routes.push(RouteState {
            dev: r.dev.clone(),
            dst: r.dst,
            via: r.via,
            metric: Some(r.metric),
            table: r.table,
            src: None,
            proto: r.proto,
        });
    }

    /// Puts a removed route back (last), unless it is there or its link is gone.
    fn put_back(&mut self, r: &RouteSpec, routes: &mut Vec<Op>) {
        if self.0.links.contains_key(&r.dev) && !self.has_route(r) {
            routes.push(Op::AddRoute { route: r.clone() });
            self.add_route(r);
        }
    }
}
