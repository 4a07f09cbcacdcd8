//! The node-level rules that can span templates, checked on the merged links: a VLAN defined twice, a
//! VLAN's MTU above its parent's, a member of a controller that is not that kind, addresses on a member.

use std::collections::BTreeMap;

use crate::error::{FieldError, Origin};
use crate::node::{ControllerKind, Link, LinkKind};

use super::links::LinksDone;

/// Push an error for every rule a merged link breaks.
pub(super) fn check(done: &LinksDone, errors: &mut Vec<FieldError>) {
    let links = &done.links;
    let mut vlan_ids: BTreeMap<(String, u16), String> = BTreeMap::new();
    for l in links.values() {
        if let LinkKind::Vlan { parent, id } = &l.kind {
            if let Some(other) = vlan_ids.insert((parent.clone(), *id), l.name.clone()) {
                errors.push(FieldError {
                    origin: first_owner(l),
                    path: String::new(),
                    message: format!(
                        "VLAN {id} on {parent} is defined twice, as {other} and as {}",
                        l.name
                    ),
                });
            }
            if let (Some(own), Some(par)) = (l.mtu, links.get(parent).and_then(|p| p.mtu)) {
                if own > par {
                    let (origin, path) = done.mtu_origin[&l.name].clone();
                    errors.push(FieldError {
                        origin,
                        path,
                        message: format!(
                            "{own} is above the MTU {par} of {}'s parent {parent}",
                            l.name
                        ),
                    });
                }
            }
        }
        if let Some(c) = &l.controller {
            let ok = matches!(
                (links.get(&c.name).map(|x| &x.kind), c.kind),
                (Some(LinkKind::Bond { .. }), ControllerKind::Bond)
                    | (Some(LinkKind::Bridge { .. }), ControllerKind::Bridge)
            );
            if !ok {
                errors.push(FieldError {
                    origin: first_owner(l),
                    path: String::new(),
                    message: format!(
                        "{} is a member of {}, which is not defined as that kind",
                        l.name, c.name
                    ),
                });
            }
            if let Some((origin, path)) = done.addr_origin.get(&l.name) {
                errors.push(FieldError {
                    origin: origin.clone(),
                    path: path.clone(),
                    message: format!(
                        "{} is a member of {}; put its addresses, routes and DHCP on {} instead",
                        l.name, c.name, c.name
                    ),
                });
            }
        }
    }
}

/// The first of a link's templates, for a rule no one path breaks.
fn first_owner(l: &Link) -> Origin {
    Origin {
        template: l.owners.iter().next().cloned(),
        ..Default::default()
    }
}
