//! Merging the templates that select a node into one [`NodeConfig`]: the entry points and the merge's
//! skeleton. Each part of a template is merged by its own file (`links`, `sriov` with `resolve`, `ovs`),
//! the node-level rules that span templates are in `rules` and `roles`, and `claims` is what every part builds on.
//!
//! Templates are taken in a fixed order (higher `spec.priority` first, then by name), so the result never
//! depends on input order. Every scalar a template sets is a *claim* that remembers the template, the YAML
//! path and the priority: equal claims agree, a higher priority overrides a lower one, and two different
//! values at the same priority are a [`Conflict`] naming both templates, both paths and both values. Set-like lists (addresses, routes, VLANs, members) are unions.

mod claims;
mod links;
mod nic_driver;
mod ovs;
mod ovs_names;
mod pools;
mod resolve;
mod roles;
mod rules;
mod sriov;

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::error::{Conflict, Error, FieldError, Origin, Result};
use crate::inventory::HostNetwork;
use crate::node::{NodeConfig, Skipped, TemplateRef};
use crate::parse::Loaded;

pub use sriov::{SriovKey, SriovPart};

use claims::Claim;
use links::LinkB;
use ovs::OvsB;
use sriov::PfB;

/// Merge `templates` (already validated and selected) for one node. `inventory`, when given, resolves PF
/// selectors and DPDK uplinks to real devices and bounds `numVfs` by `totalVfs`.
pub fn merge(templates: &[&Loaded], inventory: Option<&HostNetwork>) -> Result<NodeConfig> {
    merge_reusing(templates, inventory, None).0
}

/// [`merge`] with `inventory` (the node's discovery) used only to find the PCI address of DPDK uplinks
/// named by interface, everything else merged as without an inventory: what the agent checks before
/// applying, so that a template's own contradictions (an SR-IOV entry against an interface entry) are
/// reported alike on every node, also on one that lacks the PF, while `nodeInterface: eno2, dpdk: true`
/// resolves by the same rule as in [`merge`] (and as `plumber apply` merges on the node).
pub fn merge_resolving_uplinks(
    templates: &[&Loaded],
    inventory: Option<&HostNetwork>,
) -> Result<NodeConfig> {
    let order = merge_order(templates);
    let mut m = Merger {
        uplinks: inventory,
        ..Default::default()
    };
    for t in &order {
        m.template(t);
    }
    let part = m.sriov_part();
    m.finish(&order, part)
}

/// [`merge`] for many nodes at once (fleet mode), which share most of their SR-IOV merges: expanding
/// per-VF settings is most of a merge (512 claims for 4 PFs of 64 VFs with two settings).
///
/// With `reuse` (an earlier merge's [`SriovPart`] whose [`SriovKey`] equals this merge's), `sriovConfig`
/// is not merged again. Without it, the SR-IOV part merged here is returned with the result, when it had
/// no conflict and no error, for the caller to keep under [`SriovKey::of`]; so every message is the one
/// [`merge`] gives, and the result is always the same as [`merge`]'s.
pub fn merge_reusing(
    templates: &[&Loaded],
    inventory: Option<&HostNetwork>,
    reuse: Option<&SriovPart>,
) -> (Result<NodeConfig>, Option<SriovPart>) {
    let order = merge_order(templates);
    let mut m = Merger {
        inventory,
        skip_sriov: reuse.is_some(),
        ..Default::default()
    };
    for t in &order {
        m.template(t);
    }
    let (part, fresh) = match reuse {
        Some(part) => (part.clone(), None),
        None => {
            let part = m.sriov_part();
            let fresh = (!m.sriov_trouble).then(|| part.clone());
            (part, fresh)
        }
    };
    (m.finish(&order, part), fresh)
}

/// The templates in merge order: higher `spec.priority` first, then by name.
fn merge_order<'t>(templates: &[&'t Loaded]) -> Vec<&'t Loaded> {
    let mut order: Vec<&Loaded> = templates.to_vec();
    order.sort_by(|a, b| {
        b.template
            .spec
            .priority()
            .cmp(&a.template.spec.priority())
            .then_with(|| a.name().cmp(b.name()))
    });
    order
}

/// The state of one node's merge: what the templates claimed so far, per part, and what went wrong.
#[derive(Default)]
struct Merger<'a> {
    inventory: Option<&'a HostNetwork>,
    /// Where DPDK uplinks named by interface are looked up when there is no `inventory`
    /// ([`merge_resolving_uplinks`]).
    uplinks: Option<&'a HostNetwork>,
    links: BTreeMap<String, LinkB>,
    pfs: BTreeMap<crate::node::PfSelector, PfB>,
    ovs: BTreeMap<String, OvsB>,
    conflicts: Vec<Conflict>,
    errors: Vec<FieldError>,
    /// The origin of the template being merged, shared by all its claims.
    cur: Rc<Origin>,
    /// The SR-IOV part is reused ([`merge_reusing`]): `sriovConfig` is not merged again.
    skip_sriov: bool,
    /// Merging `sriovConfig` gave a conflict or an error (the part is then not handed out for reuse).
    sriov_trouble: bool,
    /// `sriovConfig` entries for devices the inventory does not have, in merge order.
    skipped: Vec<Skipped>,
}

impl<'a> Merger<'a> {
    /// The inventory DPDK uplinks named by interface are resolved from.
    fn uplink_inventory(&self) -> Option<&'a HostNetwork> {
        self.inventory.or(self.uplinks)
    }

    /// A claim of `value` at `path` by the template `t` being merged.
    fn c<T>(&self, t: &Loaded, path: String, value: T) -> Claim<T> {
        Claim {
            value,
            origin: self.cur.clone(),
            path: path.into(),
            priority: t.template.spec.priority(),
        }
    }

    /// Merge one template's claims, part by part.
    fn template(&mut self, t: &Loaded) {
        self.cur = Rc::new(t.origin.clone());
        let spec = &t.template.spec;
        for (i, ic) in spec.interface_config.iter().enumerate() {
            self.interface(t, i, ic);
        }
        for (i, b) in spec.bond_config.iter().enumerate() {
            self.bond(t, i, b);
        }
        for (i, b) in spec.bridge_config.iter().enumerate() {
            self.bridge(t, i, b);
        }
        if !self.skip_sriov {
            let before = (self.conflicts.len(), self.errors.len());
            for (i, s) in spec.sriov_config.iter().enumerate() {
                self.sriov(t, i, s);
            }
            if (self.conflicts.len(), self.errors.len()) != before {
                self.sriov_trouble = true;
            }
        }
        for (i, o) in spec.ovs_config.iter().enumerate() {
            self.ovs_bridge(t, i, o);
        }
    }

    /// The merged node, or every conflict (else every error) found.
    fn finish(mut self, order: &[&Loaded], part: SriovPart) -> Result<NodeConfig> {
        // A NIC the templates give roles that exclude each other: refused for that alone, before a DPDK
        // uplink's PCI address is looked for (which would hide the contradiction behind "unknown").
        let contradictions = roles::check(order);
        if !contradictions.is_empty() {
            return Err(Error::Invalid(contradictions));
        }
        let mut links = self.links_done();
        rules::check(&links, &mut self.errors);
        self.skipped = part.skipped;
        let sriov = sriov::unify_mtu(part.pfs, &mut links, order, &mut self.conflicts);
        let (ovs, uplink_origins) = self.ovs_done(&links.links);
        let nic_drivers = nic_driver::nic_drivers(
            &sriov,
            &ovs,
            &uplink_origins,
            &links.links,
            self.uplink_inventory(),
            &mut self.errors,
        );
        let sriov: Vec<_> = sriov.into_iter().map(|(pf, _)| pf).collect();
        ovs::check_dpdk_not_sriov(&ovs, &sriov, &uplink_origins, &mut self.errors);
        ovs_names::check_unique(&ovs, &uplink_origins, &mut self.errors);
        nic_driver::check_dpdk_not_skipped_pf(
            order,
            &ovs,
            &sriov,
            &uplink_origins,
            &mut self.errors,
        );
        if !self.conflicts.is_empty() {
            return Err(Error::Conflicts(self.conflicts));
        }
        if !self.errors.is_empty() {
            return Err(Error::Invalid(self.errors));
        }
        let mut templates: Vec<TemplateRef> = order
            .iter()
            .map(|t| TemplateRef {
                name: t.name().to_string(),
                priority: t.template.spec.priority(),
                generation: t.template.metadata.generation,
            })
            .collect();
        templates.sort();
        Ok(NodeConfig {
            templates,
            links: links.links,
            sriov,
            ovs,
            nic_drivers,
            skipped: self.skipped,
        })
    }
}
