//! SR-IOV: `sriovConfig` claims per PF and per VF, the merged [`SriovPf`]s, the unification of a PF's
//! MTU with its link's (one setting, two places to write it), and the [`SriovPart`] of a merge that
//! fleet mode reuses between nodes with an equal [`SriovKey`].

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Conflict, ConflictSide};
use crate::inventory::{HostNetwork, InterfaceStatus};
use crate::model::*;
use crate::node::*;
use crate::parse::Loaded;

use super::claims::{claim_opt, Claim};
use super::links::LinksDone;
use super::Merger;

/// What the templates claimed for one PF.
#[derive(Default)]
pub(super) struct PfB {
    selector: Option<PfSelector>,
    name: Option<String>,
    pci: Option<PciAddr>,
    total_vfs: Option<u32>,
    num_vfs: Option<Claim<u32>>,
    vf_driver: Option<Claim<String>>,
    pf_driver: Option<Claim<String>>,
    mtu: Option<Claim<u32>>,
    vfs: BTreeMap<u32, VfB>,
    /// The pool of the PF itself (PF mode).
    pf_pool: Option<Claim<Pool>>,
    owners: BTreeSet<String>,
}

impl PfB {
    /// The canonical VF driver the templates gave this PF, if any.
    pub(super) fn vf_driver(&self) -> Option<&str> {
        self.vf_driver.as_ref().map(|c| c.value.as_str())
    }

    /// The pool claim of each VF that has one, by VF id.
    pub(super) fn pool_claims(&self) -> impl Iterator<Item = &Claim<Pool>> {
        self.vfs.values().filter_map(|v| v.pool.as_ref())
    }

    /// The claim of the pool the PF itself is in (PF mode), with the PF's own driver.
    pub(super) fn pf_pool_claim(&self) -> Option<(&Claim<Pool>, Option<&str>)> {
        let driver = self.pf_driver.as_ref().map(|c| c.value.as_str());
        self.pf_pool.as_ref().map(|c| (c, driver))
    }
}

/// What the templates claimed for one VF, one claim per setting of a `vfs` entry.
#[derive(Default, Clone)]
struct VfB {
    mac: Option<Claim<String>>,
    vlan: Option<Claim<u16>>,
    qos: Option<Claim<u8>>,
    trust: Option<Claim<bool>>,
    spoofchk: Option<Claim<bool>>,
    max_tx_rate: Option<Claim<u32>>,
    min_tx_rate: Option<Claim<u32>>,
    pool: Option<Claim<Pool>>,
}

/// The pool a `sriovConfig` entry or a `vfs` entry names, with its options.
fn pool_of(
    name: Option<&ResourceName>,
    prefix: Option<&ResourcePrefix>,
    vhost: Option<bool>,
    rdma: Option<bool>,
) -> Option<Pool> {
    name.map(|n| Pool {
        prefix: prefix
            .map(|p| p.as_str())
            .unwrap_or(DEFAULT_RESOURCE_PREFIX)
            .to_string(),
        name: n.as_str().to_string(),
        need_vhost_net: vhost.unwrap_or(false),
        is_rdma: rdma.unwrap_or(false),
    })
}

/// A merged PF: the result with its own MTU (before the link's is added), and where that MTU was
/// set, for a conflict with the link's.
#[derive(Clone)]
pub(super) struct PfDone {
    pf: SriovPf,
    mtu_side: Option<ConflictSide>,
    /// Where `pfDriver` was set, for the checks of [`super::nic_driver`].
    pub(super) driver_at: Option<(crate::error::Origin, String)>,
}

/// The SR-IOV part of a merge: the merged PFs and the entries skipped for devices the inventory does
/// not have. Made by [`merge_reusing`](super::merge_reusing), to reuse for a node whose [`SriovKey`] is
/// equal.
#[derive(Clone)]
pub struct SriovPart {
    pub(super) pfs: Vec<PfDone>,
    pub(super) skipped: Vec<Skipped>,
}

/// Everything the SR-IOV part of a merge depends on, owned: the templates that have an `sriovConfig`
/// (in merge order, each by name, priority and `sriovConfig`) and the inventory's `interfaceStatus`.
/// Equal keys give equal [`SriovPart`]s, whichever loaded templates they were made from.
#[derive(Debug, Clone, PartialEq)]
pub struct SriovKey {
    templates: Vec<(String, i32, Vec<SriovConfig>)>,
    inventory: Option<Vec<InterfaceStatus>>,
}

impl SriovKey {
    /// The key of merging `templates` (in any order) with `inventory`.
    pub fn of(templates: &[&Loaded], inventory: Option<&HostNetwork>) -> SriovKey {
        SriovKey {
            templates: super::merge_order(templates)
                .iter()
                .filter(|t| !t.template.spec.sriov_config.is_empty())
                .map(|t| {
                    let spec = &t.template.spec;
                    (
                        t.name().to_string(),
                        spec.priority(),
                        spec.sriov_config.clone(),
                    )
                })
                .collect(),
            inventory: inventory.map(|i| i.status.interface_status.clone()),
        }
    }
}

impl VfB {
    /// The claims of one `vfs` entry; `at` makes the template's claim at a setting's path.
    fn of(vf: &VfConfig, at: impl Fn(&str) -> Claim<()>) -> VfB {
        VfB {
            mac: vf.mac.map(|m| at("mac").with(m.to_string())),
            vlan: vf.vlan.map(|v| at("vlan").with(v.get())),
            qos: vf.qos.map(|v| at("qos").with(v.get())),
            trust: vf.trust.map(|v| at("trust").with(v)),
            spoofchk: vf.spoofchk.map(|v| at("spoofchk").with(v)),
            max_tx_rate: vf.max_tx_rate.map(|v| at("maxTxRate").with(v.get())),
            min_tx_rate: vf.min_tx_rate.map(|v| at("minTxRate").with(v.get())),
            pool: pool_of(
                vf.resource_name.as_ref(),
                vf.resource_prefix.as_ref(),
                vf.need_vhost_net,
                vf.is_rdma,
            )
            .map(|p| at("resourceName").with(p)),
        }
    }

    /// Add `new`'s claims; `field` names a setting in a conflict ("trust of VF 3 on ens1f0").
    fn absorb(&mut self, new: &VfB, field: impl Fn(&str) -> String, conflicts: &mut Vec<Conflict>) {
        let c = conflicts;
        claim_opt(&mut self.mac, new.mac.clone(), || field("mac"), c);
        claim_opt(&mut self.vlan, new.vlan.clone(), || field("vlan"), c);
        claim_opt(&mut self.qos, new.qos.clone(), || field("qos"), c);
        claim_opt(&mut self.trust, new.trust.clone(), || field("trust"), c);
        claim_opt(
            &mut self.spoofchk,
            new.spoofchk.clone(),
            || field("spoofchk"),
            c,
        );
        let max = new.max_tx_rate.clone();
        claim_opt(&mut self.max_tx_rate, max, || field("maxTxRate"), c);
        let min = new.min_tx_rate.clone();
        claim_opt(&mut self.min_tx_rate, min, || field("minTxRate"), c);
        let pool = new.pool.clone();
        claim_opt(&mut self.pool, pool, || field("the pool"), c);
    }

    /// Whether a `vfs` entry set anything for this VF besides its pool (a VF only in a pool has no
    /// per-VF settings to apply).
    fn has_settings(&self) -> bool {
        let VfB {
            mac,
            vlan,
            qos,
            trust,
            spoofchk,
            max_tx_rate,
            min_tx_rate,
            pool,
        } = self;
        let only_pool = mac.is_none()
            && vlan.is_none()
            && qos.is_none()
            && trust.is_none()
            && spoofchk.is_none()
            && max_tx_rate.is_none()
            && min_tx_rate.is_none();
        !(only_pool && pool.is_some())
    }

    fn done(&self) -> VfSettings {
        VfSettings {
            mac: self
                .mac
                .as_ref()
                .map(|c| MacAddr::parse(&c.value).expect("validated MAC")),
            vlan: self.vlan.as_ref().map(|c| c.value),
            qos: self.qos.as_ref().map(|c| c.value),
            trust: self.trust.as_ref().map(|c| c.value),
            spoofchk: self.spoofchk.as_ref().map(|c| c.value),
            max_tx_rate: self.max_tx_rate.as_ref().map(|c| c.value),
            min_tx_rate: self.min_tx_rate.as_ref().map(|c| c.value),
        }
    }
}

impl Merger<'_> {
    /// One `sriovConfig` entry, for every PF it selects.
    pub(super) fn sriov(&mut self, t: &Loaded, i: usize, s: &SriovConfig) {
        let p = format!("spec.sriovConfig[{i}]");
        for (key, name, pci, total) in self.resolve_pfs(t, &p, s) {
            if let (Some(n), Some(tv)) = (s.num_vfs, total) {
                if n.get() > tv {
                    self.errors.push(crate::error::FieldError {
                        origin: t.origin.clone(),
                        path: format!("{p}.numVfs"),
                        message: format!(
                            "{n} is above the {tv} VFs {} supports",
                            name.clone().unwrap_or(key.to_string())
                        ),
                    });
                }
            }
            let what = key.to_string();
            let num_vfs = s.num_vfs.map(|n| self.c(t, format!("{p}.numVfs"), n.get()));
            let vf_driver = s.vf_driver.as_ref().map(|d| {
                let d = d.canonical().as_str().to_string();
                self.c(t, format!("{p}.vfDriver"), d)
            });
            let pf_driver = s.pf_driver.as_ref().map(|d| {
                let d = d.canonical().as_str().to_string();
                self.c(t, format!("{p}.pfDriver"), d)
            });
            let mtu = s.mtu.map(|m| self.c(t, format!("{p}.mtu"), m.get()));
            let entries: Vec<VfB> = s
                .vfs
                .iter()
                .enumerate()
                .map(|(j, vf)| VfB::of(vf, |f| self.c(t, format!("{p}.vfs[{j}].{f}"), ())))
                .collect();
            // The entry's own pool: every VF below numVfs that none of its `vfs` entries gives a pool.
            let entry_pool = pool_of(
                s.resource_name.as_ref(),
                s.resource_prefix.as_ref(),
                s.need_vhost_net,
                s.is_rdma,
            )
            .map(|pool| VfB {
                pool: Some(self.c(t, format!("{p}.resourceName"), pool)),
                ..Default::default()
            });
            let pooled_by_range: BTreeSet<u32> = s
                .vfs
                .iter()
                .filter(|vf| vf.resource_name.is_some())
                .flat_map(|vf| vf.id.iter())
                .collect();
            // A whole NIC on a userspace driver, without VFs, is a pool of its own (PF mode).
            let pf_mode = s.pf_driver.as_ref().is_some_and(|d| d.is_userspace())
                && s.num_vfs.map_or(0, |n| n.get()) == 0;
            let pf_pool = pool_of(
                s.resource_name.as_ref(),
                s.resource_prefix.as_ref(),
                s.need_vhost_net,
                s.is_rdma,
            )
            .filter(|_| pf_mode)
            .map(|pool| self.c(t, format!("{p}.resourceName"), pool));
            let conflicts = &mut self.conflicts;
            let pf = self.pfs.entry(key.clone()).or_default();
            pf.selector.get_or_insert(key.clone());
            pf.name = pf.name.take().or(name);
            pf.pci = pf.pci.or(pci);
            pf.total_vfs = pf.total_vfs.or(total);
            pf.owners.insert(t.name().to_string());
            claim_opt(
                &mut pf.num_vfs,
                num_vfs,
                || format!("numVfs of {what}"),
                conflicts,
            );
            let driver = || format!("vfDriver of {what}");
            claim_opt(&mut pf.vf_driver, vf_driver, driver, conflicts);
            let driver = || format!("pfDriver of {what}");
            claim_opt(&mut pf.pf_driver, pf_driver, driver, conflicts);
            claim_opt(&mut pf.mtu, mtu, || format!("the MTU of {what}"), conflicts);
            let field = || format!("the pool of {what}");
            claim_opt(&mut pf.pf_pool, pf_pool, field, conflicts);
            for (vf, new) in s.vfs.iter().zip(&entries) {
                for id in vf.id.iter() {
                    let field = |f: &str| format!("{f} of VF {id} on {what}");
                    pf.vfs.entry(id).or_default().absorb(new, field, conflicts);
                }
            }
            if let (Some(new), Some(n)) = (&entry_pool, s.num_vfs) {
                for id in (0..n.get()).filter(|id| !pooled_by_range.contains(id)) {
                    let field = |f: &str| format!("{f} of VF {id} on {what}");
                    pf.vfs.entry(id).or_default().absorb(new, field, conflicts);
                }
            }
        }
    }

    /// The merged PFs, in selector order, with their own MTU (the link's is added by [`unify_mtu`]),
    /// and the skipped entries.
    pub(super) fn sriov_part(&mut self) -> SriovPart {
        let before = self.conflicts.len();
        super::pools::check(&self.pfs, &mut self.conflicts);
        if self.conflicts.len() != before {
            self.sriov_trouble = true;
        }
        let pfs = std::mem::take(&mut self.pfs)
            .into_iter()
            .map(|(key, b)| PfDone {
                mtu_side: b.mtu.as_ref().map(|c| c.side(c.value.to_string())),
                driver_at: b.pf_driver.as_ref().map(|c| c.place()),
                pf: SriovPf {
                    selector: b.selector.clone().unwrap_or(key),
                    name: b.name.clone(),
                    pci: b.pci,
                    num_vfs: b.num_vfs.as_ref().map(|c| c.value),
                    vf_driver: b
                        .vf_driver
                        .as_ref()
                        .map(|c| DriverName::parse(&c.value).expect("validated driver")),
                    pf_driver: b
                        .pf_driver
                        .as_ref()
                        .map(|c| DriverName::parse(&c.value).expect("validated driver")),
                    mtu: b.mtu.as_ref().map(|c| c.value),
                    vfs: b
                        .vfs
                        .iter()
                        .filter(|(_, v)| v.has_settings())
                        .map(|(id, v)| (*id, v.done()))
                        .collect(),
                    pools: b
                        .vfs
                        .iter()
                        .filter_map(|(id, v)| v.pool.as_ref().map(|c| (*id, c.value.clone())))
                        .collect(),
                    pool: b.pf_pool.as_ref().map(|c| c.value.clone()),
                    owners: b.owners,
                },
            })
            .collect();
        SriovPart {
            pfs,
            skipped: std::mem::take(&mut self.skipped),
        }
    }
}

/// The PF's MTU and the link's MTU are one setting: a PF without one takes its link's, a link without
/// one takes its PF's, and two different ones are a conflict. `order` is the merge order (for the
/// link side's priority).
pub(super) fn unify_mtu(
    pfs: Vec<PfDone>,
    done: &mut LinksDone,
    order: &[&Loaded],
    conflicts: &mut Vec<Conflict>,
) -> Vec<(SriovPf, Option<(crate::error::Origin, String)>)> {
    let mut sriov = Vec::new();
    for PfDone {
        mut pf,
        mtu_side,
        driver_at,
    } in pfs
    {
        // The other direction: a PF whose link has an MTU gets it from the udev rule too, before its
        // VFs exist (VF drivers read the PF's MTU when they start).
        let link_mtu = pf
            .name
            .as_ref()
            .and_then(|n| done.links.get(n))
            .and_then(|l| l.mtu);
        if let (Some(n), Some(pfm), Some(side)) = (&pf.name, pf.mtu, &mtu_side) {
            if let Some(l) = done.links.get_mut(n) {
                match l.mtu {
                    None => l.mtu = Some(pfm),
                    Some(lm) if lm != pfm => {
                        let (origin, path) = done.mtu_origin[n].clone();
                        conflicts.push(Conflict {
                            field: format!("the MTU of {n}"),
                            first: ConflictSide {
                                template: origin.template.clone().unwrap_or_default(),
                                path,
                                value: lm.to_string(),
                                priority: order
                                    .iter()
                                    .find(|t| Some(t.name()) == origin.template.as_deref())
                                    .map(|t| t.template.spec.priority())
                                    .unwrap_or(0),
                            },
                            second: side.clone(),
                        });
                    }
                    _ => {}
                }
            }
        }
        // A PF given to a userspace driver has no interface for its link's MTU ([`super::nic_driver`]
        // refuses that link).
        if !pf.pf_driver.as_ref().is_some_and(|d| d.is_userspace()) {
            pf.mtu = pf.mtu.or(link_mtu);
        }
        sriov.push((pf, driver_at));
    }
    sriov
}

// Fleet mode shares parts and keys between threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<SriovPart>();
    shared::<SriovKey>();
};
