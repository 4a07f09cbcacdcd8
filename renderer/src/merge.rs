//! Merging the templates that select a node into one [`NodeConfig`].
//!
//! Templates are taken in a fixed order (higher `spec.priority` first, then by name), so the result never
//! depends on input order. Every scalar a template sets is a *claim* that remembers the template, the YAML
//! path and the priority: equal claims agree, a higher priority overrides a lower one, and two different
//! values at the same priority are a [`Conflict`] naming both templates, both paths and both values.
//! Set-like lists (addresses, routes, VLANs, members) are unions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use crate::error::{Conflict, ConflictSide, Error, FieldError, Origin, Result};
use crate::inventory::HostNetwork;
use crate::model::*;
use crate::node::*;
use crate::parse::Loaded;
use crate::validate::vlan_name;

/// Merge `templates` (already validated and selected) for one node. `inventory`, when given, resolves PF
/// selectors and DPDK uplinks to real devices and bounds `numVfs` by `totalVfs`.
pub fn merge(templates: &[&Loaded], inventory: Option<&HostNetwork>) -> Result<NodeConfig> {
    merge_shared(templates, inventory, None)
}

/// [`merge`] for many nodes at once (fleet mode): the SR-IOV part of a node's merge depends only on the
/// templates that have an `sriovConfig` (in merge order) and on the inventory's `interfaceStatus`, and a
/// fleet's nodes usually share both, while expanding per-VF settings is most of a merge (512 claims for
/// 4 PFs of 64 VFs with two settings). Nodes with the same of both share one SR-IOV merge. Only merges
/// whose SR-IOV part had no conflict and no error are shared, so every message is the one [`merge`]
/// gives; the result is always the same as [`merge`]'s. Templates are known by their address: use one
/// cache for one set of loaded templates, which must not move or be dropped while the cache is in use.
#[derive(Default)]
pub struct SriovCache(Mutex<Vec<SriovEntry>>);

/// Templates by address (they outlive the cache: fleet mode keeps them all), the inventory's
/// `interfaceStatus`, and the merged PFs.
type SriovEntry = (
    Vec<usize>,
    Option<Vec<crate::inventory::InterfaceStatus>>,
    Arc<SriovDone>,
);

/// The merged PFs and the entries skipped for devices the inventory does not have.
type SriovDone = (Vec<PfDone>, Vec<Skipped>);

impl SriovCache {
    /// A fleet has few distinct SR-IOV setups; past this many, new ones are merged and not kept.
    const MAX: usize = 64;

    fn get(&self, key: &[usize], inventory: Option<&HostNetwork>) -> Option<Arc<SriovDone>> {
        let inv = inventory.map(|i| &i.status.interface_status);
        self.0
            .lock()
            .expect("sriov cache lock")
            .iter()
            .find(|(k, i, _)| k.as_slice() == key && i.as_ref() == inv)
            .map(|(_, _, v)| v.clone())
    }

    fn put(&self, key: Vec<usize>, inventory: Option<&HostNetwork>, value: Arc<SriovDone>) {
        let mut entries = self.0.lock().expect("sriov cache lock");
        if entries.len() < Self::MAX {
            entries.push((
                key,
                inventory.map(|i| i.status.interface_status.clone()),
                value,
            ));
        }
    }
}

/// A merged PF: the result with its own MTU (before the link's is added), and where that MTU was
/// set, for a conflict with the link's.
#[derive(Clone)]
struct PfDone {
    pf: SriovPf,
    mtu_side: Option<ConflictSide>,
}

/// [`merge`], sharing SR-IOV merges through `cache` when given.
pub fn merge_shared(
    templates: &[&Loaded],
    inventory: Option<&HostNetwork>,
    cache: Option<&SriovCache>,
) -> Result<NodeConfig> {
    let mut order: Vec<&Loaded> = templates.to_vec();
    order.sort_by(|a, b| {
        b.template
            .spec
            .priority()
            .cmp(&a.template.spec.priority())
            .then_with(|| a.name().cmp(b.name()))
    });
    let mut m = Merger {
        inventory,
        ..Default::default()
    };
    let shared = cache.map(|c| {
        let key: Vec<usize> = order
            .iter()
            .filter(|t| !t.template.spec.sriov_config.is_empty())
            .map(|t| *t as *const Loaded as usize)
            .collect();
        let hit = c.get(&key, inventory);
        (c, key, hit)
    });
    m.skip_sriov = matches!(&shared, Some((_, _, Some(_))));
    for t in &order {
        m.template(t);
    }
    let (pfs, skipped) = match shared {
        Some((_, _, Some(hit))) => (*hit).clone(),
        Some((c, key, None)) => {
            let done = (m.pfs_done(), std::mem::take(&mut m.skipped));
            if !m.sriov_trouble {
                c.put(key, inventory, Arc::new(done.clone()));
            }
            done
        }
        None => (m.pfs_done(), std::mem::take(&mut m.skipped)),
    };
    m.skipped = skipped;
    m.finish(&order, pfs)
}

/// A value a template set, with where it was set. Origins and paths are shared (`Rc`) because one VF
/// range entry claims the same path for every VF it covers.
#[derive(Clone)]
struct Claim<T> {
    value: T,
    origin: Rc<Origin>,
    path: Rc<str>,
    priority: i32,
}

impl<T> Claim<T> {
    fn side(&self, show: String) -> ConflictSide {
        ConflictSide {
            template: self.origin.template.clone().unwrap_or_default(),
            path: self.path.to_string(),
            value: show,
            priority: self.priority,
        }
    }
}

/// Record `new` in `slot`, or report a conflict.
fn claim<T: PartialEq + fmt::Display>(
    slot: &mut Option<Claim<T>>,
    new: Claim<T>,
    field: impl FnOnce() -> String,
    conflicts: &mut Vec<Conflict>,
) {
    match slot {
        None => *slot = Some(new),
        Some(old) if old.value == new.value => {}
        Some(old) if new.priority > old.priority => *slot = Some(new),
        Some(old) if new.priority < old.priority => {}
        Some(old) => conflicts.push(Conflict {
            field: field(),
            first: old.side(old.value.to_string()),
            second: new.side(new.value.to_string()),
        }),
    }
}

#[derive(Default)]
struct LinkB {
    kind: Option<Claim<LinkKind>>,
    mtu: Option<Claim<u32>>,
    controller: Option<Claim<CtrlV>>,
    v4: AddrB,
    v6: AddrB,
    owners: BTreeSet<String>,
}

#[derive(Clone, PartialEq)]
struct CtrlV(Controller);
impl fmt::Display for CtrlV {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.0.kind {
            ControllerKind::Bond => "bond",
            ControllerKind::Bridge => "bridge",
        };
        write!(f, "member of {k} {}", self.0.name)
    }
}

#[derive(Default)]
struct AddrB {
    /// Keyed by address; the prefix is the claim.
    addresses: Vec<IpAddr>,
    prefixes: BTreeMap<IpAddr, Option<Claim<u8>>>,
    routes: Vec<RouteKey>,
    vias: BTreeMap<RouteKey, Option<Claim<OptIp>>>,
    dhcp: Option<Claim<bool>>,
    /// Whether some template states this family (its `address` or `dhcp`); see `node::Addressing`.
    stated: bool,
    /// First place that gave this family addresses, routes or DHCP (for member checks).
    first: Option<(Rc<Origin>, String)>,
}

/// A route's identity: destination, table, metric. The gateway is what a template claims for it.
type RouteKey = (RouteDest, Option<u32>, Option<u32>);

/// A PF an entry selects: merge key, name and PCI address when known, `totalVfs` from the inventory.
type ResolvedPf = (PfSelector, Option<String>, Option<PciAddr>, Option<u32>);

#[derive(Clone, PartialEq)]
struct OptIp(Option<IpAddr>);
impl fmt::Display for OptIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "via {a}"),
            None => f.write_str("on-link (no via)"),
        }
    }
}

#[derive(Default)]
struct PfB {
    selector: Option<PfSelector>,
    name: Option<String>,
    pci: Option<PciAddr>,
    total_vfs: Option<u32>,
    num_vfs: Option<Claim<u32>>,
    vf_driver: Option<Claim<String>>,
    mtu: Option<Claim<u32>>,
    vfs: BTreeMap<u32, VfB>,
    owners: BTreeSet<String>,
}

#[derive(Default)]
struct VfB {
    mac: Option<Claim<String>>,
    vlan: Option<Claim<u16>>,
    qos: Option<Claim<u8>>,
    trust: Option<Claim<bool>>,
    spoofchk: Option<Claim<bool>>,
    max_tx_rate: Option<Claim<u32>>,
    min_tx_rate: Option<Claim<u32>>,
}

#[derive(Default)]
struct OvsB {
    dpdk: Option<Claim<bool>>,
    uplinks: Option<Claim<UplinksV>>,
    mtu_request: Option<Claim<u32>>,
    bond_mode: Option<Claim<String>>,
    lacp: Option<Claim<String>>,
    owners: BTreeSet<String>,
}

#[derive(Clone, PartialEq)]
struct UplinksV(Vec<Uplink>);
impl fmt::Display for UplinksV {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v: Vec<String> = self.0.iter().map(|u| u.to_string()).collect();
        write!(f, "nodeInterface {}", v.join(","))
    }
}

#[derive(Default)]
struct Merger<'a> {
    inventory: Option<&'a HostNetwork>,
    links: BTreeMap<String, LinkB>,
    pfs: BTreeMap<PfSelector, PfB>,
    ovs: BTreeMap<String, OvsB>,
    conflicts: Vec<Conflict>,
    errors: Vec<FieldError>,
    /// The origin of the template being merged, shared by all its claims.
    cur: Rc<Origin>,
    /// Where each OVS bridge's uplink was set, for errors found after merging.
    ovs_uplink_origin: BTreeMap<String, (Origin, String)>,
    /// The SR-IOV part comes from a [`SriovCache`]: `sriovConfig` is not merged again.
    skip_sriov: bool,
    /// Merging `sriovConfig` gave a conflict or an error (the result is then not shared).
    sriov_trouble: bool,
    /// `sriovConfig` entries for devices the inventory does not have, in merge order.
    skipped: Vec<Skipped>,
}

impl<'a> Merger<'a> {
    fn c<T>(&self, t: &Loaded, path: String, value: T) -> Claim<T> {
        Claim {
            value,
            origin: self.cur.clone(),
            path: path.into(),
            priority: t.template.spec.priority(),
        }
    }

    fn link(&mut self, name: &str, t: &Loaded) -> &mut LinkB {
        let l = self.links.entry(name.to_string()).or_default();
        l.owners.insert(t.name().to_string());
        l
    }

    fn template(&mut self, t: &Loaded) {
        self.cur = Rc::new(t.origin.clone());
        let spec = &t.template.spec;
        for (i, ic) in spec.interface_config.iter().enumerate() {
            self.interface(t, i, ic);
        }
        for (i, b) in spec.bond_config.iter().enumerate() {
            let p = format!("spec.bondConfig[{i}]");
            // Without miimon the kernel does no link monitoring at all, while NetworkManager quietly uses
            // 100 ms: default it to 100 ms everywhere so every distro gets the same bond.
            let mut options = b.options.clone().unwrap_or_default();
            options.miimon = options.miimon.or(Some(Millis(100)));
            let kind = LinkKind::Bond {
                mode: b.mode,
                options,
            };
            self.set_kind(t, b.name.as_str(), format!("{p}.name"), kind);
            for (j, m) in b.members.iter().enumerate() {
                let ctrl = CtrlV(Controller {
                    name: b.name.to_string(),
                    kind: ControllerKind::Bond,
                });
                self.set_controller(t, m.as_str(), format!("{p}.members[{j}]"), ctrl);
            }
        }
        for (i, b) in spec.bridge_config.iter().enumerate() {
            let p = format!("spec.bridgeConfig[{i}]");
            let kind = LinkKind::Bridge {
                stp: b.stp,
                forward_delay: b.forward_delay.map(|d| d.get()),
            };
            self.set_kind(t, b.name.as_str(), format!("{p}.name"), kind);
            for (j, m) in b.members.iter().enumerate() {
                let ctrl = CtrlV(Controller {
                    name: b.name.to_string(),
                    kind: ControllerKind::Bridge,
                });
                self.set_controller(t, m.as_str(), format!("{p}.members[{j}]"), ctrl);
            }
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

    fn set_kind(&mut self, t: &Loaded, name: &str, path: String, kind: LinkKind) {
        let c = self.c(t, path, kind);
        let mut conflicts = std::mem::take(&mut self.conflicts);
        claim(
            &mut self.link(name, t).kind,
            c,
            || format!("the kind of interface {name}"),
            &mut conflicts,
        );
        self.conflicts = conflicts;
    }

    fn set_controller(&mut self, t: &Loaded, name: &str, path: String, ctrl: CtrlV) {
        let c = self.c(t, path, ctrl);
        let mut conflicts = std::mem::take(&mut self.conflicts);
        claim(
            &mut self.link(name, t).controller,
            c,
            || format!("the controller of interface {name}"),
            &mut conflicts,
        );
        self.conflicts = conflicts;
    }

    fn interface(&mut self, t: &Loaded, i: usize, ic: &InterfaceConfig) {
        let p = format!("spec.interfaceConfig[{i}]");
        let name = ic.name.to_string();
        let mut conflicts = std::mem::take(&mut self.conflicts);
        if let Some(m) = ic.mtu {
            let c = self.c(t, format!("{p}.mtu"), m.get());
            claim(
                &mut self.link(&name, t).mtu,
                c,
                || format!("the MTU of {name}"),
                &mut conflicts,
            );
        } else {
            self.link(&name, t);
        }
        for (j, v) in ic.vlan.iter().enumerate() {
            let vname = vlan_name(&name, v);
            let c = self.c(
                t,
                format!("{p}.vlan[{j}]"),
                LinkKind::Vlan {
                    parent: name.clone(),
                    id: v.id.get(),
                },
            );
            claim(
                &mut self.link(&vname, t).kind,
                c,
                || format!("the kind of interface {vname}"),
                &mut conflicts,
            );
        }
        for (fam, cfg) in [(false, &ic.ipv4), (true, &ic.ipv6)] {
            let Some(cfg) = cfg else { continue };
            let fp = format!("{p}.{}", if fam { "ipv6" } else { "ipv4" });
            let origin = self.cur.clone();
            let prio = t.template.spec.priority();
            let link = self.link(&name, t);
            let ab = if fam { &mut link.v6 } else { &mut link.v4 };
            let address = cfg.address.as_deref().unwrap_or_default();
            ab.stated |= cfg.address.is_some() || cfg.dhcp.is_some();
            if ab.first.is_none()
                && (!address.is_empty() || !cfg.routes.is_empty() || cfg.dhcp == Some(true))
            {
                ab.first = Some((origin.clone(), fp.clone()));
            }
            for (k, a) in address.iter().enumerate() {
                if !ab.prefixes.contains_key(&a.addr) {
                    ab.addresses.push(a.addr);
                }
                let slot = ab.prefixes.entry(a.addr).or_default();
                let c = Claim {
                    value: a.prefix,
                    origin: origin.clone(),
                    path: format!("{fp}.address[{k}]").into(),
                    priority: prio,
                };
                claim(
                    slot,
                    c,
                    || format!("the prefix length of {} on {name}", a.addr),
                    &mut conflicts,
                );
            }
            for (k, r) in cfg.routes.iter().enumerate() {
                let key = (r.to, r.table.map(|x| x.get()), r.metric.map(|x| x.get()));
                if !ab.vias.contains_key(&key) {
                    ab.routes.push(key);
                }
                let slot = ab.vias.entry(key).or_default();
                let c = Claim {
                    value: OptIp(r.via),
                    origin: origin.clone(),
                    path: format!("{fp}.routes[{k}]").into(),
                    priority: prio,
                };
                claim(
                    slot,
                    c,
                    || format!("the gateway of the route to {} on {name}", r.to),
                    &mut conflicts,
                );
            }
            if let Some(d) = cfg.dhcp {
                let c = Claim {
                    value: d,
                    origin: origin.clone(),
                    path: format!("{fp}.dhcp").into(),
                    priority: prio,
                };
                claim(
                    &mut ab.dhcp,
                    c,
                    || format!("DHCP on {name}"),
                    &mut conflicts,
                );
            }
        }
        self.conflicts = conflicts;
    }

    /// The PFs an entry selects: itself, or (with an inventory) the devices it resolves to.
    fn resolve_pfs(&mut self, t: &Loaded, p: &str, s: &SriovConfig) -> Vec<ResolvedPf> {
        let total = |i: &crate::inventory::InterfaceStatus| {
            i.sriov_status.as_ref().and_then(|s| s.total_vfs)
        };
        let inv = self.inventory;
        // An entry for a device the node does not have is left out, and said so (best effort; the
        // caller refuses it under strict, see crate::best_effort). The same for every selector kind.
        // The reason does not name the node: fleet mode shares this part of a merge between nodes
        // whose inventories list the same NICs (SriovCache), and says which node it reports on.
        let skip = |selector: PfSelector, reason: &str| Skipped {
            template: t.name().to_string(),
            path: p.to_string(),
            selector: selector.to_string(),
            reason: reason.to_string(),
        };
        let missing = |selector: PfSelector| skip(selector, "matches no PCI NIC of this node");
        // A NIC that is there but cannot have VFs is no PF either; the reason says which it is.
        const NO_SRIOV: &str = "without SR-IOV capability (no sriov_totalvfs in sysfs)";
        let nic_name = |i: &crate::inventory::InterfaceStatus| match (&i.pf_name, i.pci_addr) {
            (Some(n), _) => crate::escape::printable(n),
            (None, Some(a)) => a.to_string(),
            (None, None) => "?".to_string(),
        };
        let no_sriov = |selector: PfSelector, nics: &[&crate::inventory::InterfaceStatus]| {
            let reason = match (&selector, nics) {
                (PfSelector::Name(_), _) => format!("is a NIC of this node {NO_SRIOV}"),
                (PfSelector::Pci(_), [i]) if i.pf_name.is_some() => {
                    format!("is {}, a NIC of this node {NO_SRIOV}", nic_name(i))
                }
                (PfSelector::Pci(_), _) => format!("is a NIC of this node {NO_SRIOV}"),
                _ => format!(
                    "matches only NICs of this node {}: {} ({})",
                    "without SR-IOV capability",
                    nics.iter()
                        .map(|i| nic_name(i))
                        .collect::<Vec<_>>()
                        .join(", "),
                    "no sriov_totalvfs in sysfs"
                ),
            };
            skip(selector, &reason)
        };
        if let Some(n) = &s.pf_name {
            let name = n.to_string();
            match inv {
                None => vec![(PfSelector::Name(name.clone()), Some(name), None, None)],
                Some(inv) => match inv.by_name(&name) {
                    Some(i) if !i.sriov_capable() => {
                        self.skipped.push(no_sriov(PfSelector::Name(name), &[i]));
                        vec![]
                    }
                    Some(i) => vec![(
                        PfSelector::Name(name.clone()),
                        Some(name),
                        i.pci_addr,
                        total(i),
                    )],
                    None => {
                        self.skipped.push(missing(PfSelector::Name(name)));
                        vec![]
                    }
                },
            }
        } else if let Some(a) = s.pci_addr {
            match inv {
                None => vec![(PfSelector::Pci(a), None, Some(a), None)],
                Some(inv) => match inv.by_pci(&a) {
                    Some(i) if !i.sriov_capable() => {
                        self.skipped.push(no_sriov(PfSelector::Pci(a), &[i]));
                        vec![]
                    }
                    Some(i) => {
                        let name = i.pf_name.clone();
                        let key = name
                            .clone()
                            .map(PfSelector::Name)
                            .unwrap_or(PfSelector::Pci(a));
                        vec![(key, name, Some(a), total(i))]
                    }
                    None => {
                        self.skipped.push(missing(PfSelector::Pci(a)));
                        vec![]
                    }
                },
            }
        } else if let (Some(v), Some(d)) = (s.vendor_id, s.device_id) {
            match inv {
                None => vec![(
                    PfSelector::Ids {
                        vendor: v,
                        device: d,
                    },
                    None,
                    None,
                    None,
                )],
                // Every PF of that model (a port of it without SR-IOV is no PF); none is skipped, as
                // a name or address that matches nothing or no PF.
                Some(inv) if inv.by_ids(v, d).is_empty() => {
                    self.skipped.push(missing(PfSelector::Ids {
                        vendor: v,
                        device: d,
                    }));
                    vec![]
                }
                Some(inv) if !inv.by_ids(v, d).iter().any(|i| i.sriov_capable()) => {
                    let nics = inv.by_ids(v, d);
                    let ids = PfSelector::Ids {
                        vendor: v,
                        device: d,
                    };
                    self.skipped.push(no_sriov(ids, &nics));
                    vec![]
                }
                Some(inv) => inv
                    .by_ids(v, d)
                    .into_iter()
                    .filter(|i| i.sriov_capable())
                    .map(|i| {
                        let key = match (&i.pf_name, i.pci_addr) {
                            (Some(n), _) => PfSelector::Name(n.clone()),
                            (None, Some(a)) => PfSelector::Pci(a),
                            (None, None) => PfSelector::Ids {
                                vendor: v,
                                device: d,
                            },
                        };
                        (key, i.pf_name.clone(), i.pci_addr, total(i))
                    })
                    .collect(),
            }
        } else {
            vec![]
        }
    }

    fn sriov(&mut self, t: &Loaded, i: usize, s: &SriovConfig) {
        let p = format!("spec.sriovConfig[{i}]");
        for (key, name, pci, total) in self.resolve_pfs(t, &p, s) {
            if let (Some(n), Some(tv)) = (s.num_vfs, total) {
                if n.get() > tv {
                    self.errors.push(FieldError {
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
            let claims = (
                s.num_vfs.map(|n| self.c(t, format!("{p}.numVfs"), n.get())),
                s.vf_driver.as_ref().map(|d| {
                    self.c(
                        t,
                        format!("{p}.vfDriver"),
                        d.canonical().as_str().to_string(),
                    )
                }),
                s.mtu.map(|m| self.c(t, format!("{p}.mtu"), m.get())),
            );
            let mut conflicts = std::mem::take(&mut self.conflicts);
            let pf = self.pfs.entry(key.clone()).or_default();
            pf.selector.get_or_insert(key.clone());
            pf.name = pf.name.take().or(name);
            pf.pci = pf.pci.or(pci);
            pf.total_vfs = pf.total_vfs.or(total);
            pf.owners.insert(t.name().to_string());
            if let Some(c) = claims.0 {
                claim(
                    &mut pf.num_vfs,
                    c,
                    || format!("numVfs of {what}"),
                    &mut conflicts,
                );
            }
            if let Some(c) = claims.1 {
                claim(
                    &mut pf.vf_driver,
                    c,
                    || format!("vfDriver of {what}"),
                    &mut conflicts,
                );
            }
            if let Some(c) = claims.2 {
                claim(
                    &mut pf.mtu,
                    c,
                    || format!("the MTU of {what}"),
                    &mut conflicts,
                );
            }
            let prio = t.template.spec.priority();
            let origin = self.cur.clone();
            for (j, vf) in s.vfs.iter().enumerate() {
                let vp = format!("{p}.vfs[{j}]");
                let path = |f: &str| -> Rc<str> { format!("{vp}.{f}").into() };
                let paths = [
                    path("mac"),
                    path("vlan"),
                    path("qos"),
                    path("trust"),
                    path("spoofchk"),
                    path("maxTxRate"),
                    path("minTxRate"),
                ];
                let mac = vf.mac.map(|m| m.to_string());
                for id in vf.id.iter() {
                    let b = pf.vfs.entry(id).or_default();
                    macro_rules! set {
                        ($field:ident, $n:expr, $yaml:literal, $val:expr) => {
                            if let Some(v) = $val {
                                let c = Claim {
                                    value: v,
                                    origin: origin.clone(),
                                    path: paths[$n].clone(),
                                    priority: prio,
                                };
                                claim(
                                    &mut b.$field,
                                    c,
                                    || format!("{} of VF {id} on {what}", $yaml),
                                    &mut conflicts,
                                );
                            }
                        };
                    }
                    set!(mac, 0, "mac", mac.clone());
                    set!(vlan, 1, "vlan", vf.vlan.map(|v| v.get()));
                    set!(qos, 2, "qos", vf.qos.map(|v| v.get()));
                    set!(trust, 3, "trust", vf.trust);
                    set!(spoofchk, 4, "spoofchk", vf.spoofchk);
                    set!(max_tx_rate, 5, "maxTxRate", vf.max_tx_rate.map(|v| v.get()));
                    set!(min_tx_rate, 6, "minTxRate", vf.min_tx_rate.map(|v| v.get()));
                }
            }
            self.conflicts = conflicts;
        }
    }

    fn ovs_bridge(&mut self, t: &Loaded, i: usize, o: &OvsConfig) {
        let p = format!("spec.ovsConfig[{i}]");
        let name = o.bridge_name.to_string();
        let params = o.params.clone().unwrap_or_default();
        let claims = (
            self.c(t, format!("{p}.dpdk"), o.dpdk),
            o.node_interface
                .as_ref()
                .map(|n| self.c(t, format!("{p}.nodeInterface"), UplinksV(n.0.clone()))),
            params
                .mtu_request
                .map(|m| self.c(t, format!("{p}.params.mtuRequest"), m.get())),
            params
                .bond_mode
                .map(|m| self.c(t, format!("{p}.params.bondMode"), m.as_str().to_string())),
            params
                .lacp
                .map(|l| self.c(t, format!("{p}.params.lacp"), l.as_str().to_string())),
        );
        let mut conflicts = std::mem::take(&mut self.conflicts);
        let b = self.ovs.entry(name.clone()).or_default();
        b.owners.insert(t.name().to_string());
        claim(
            &mut b.dpdk,
            claims.0,
            || format!("dpdk of OVS bridge {name}"),
            &mut conflicts,
        );
        if let Some(c) = claims.1 {
            claim(
                &mut b.uplinks,
                c,
                || format!("the uplink of OVS bridge {name}"),
                &mut conflicts,
            );
        }
        if let Some(c) = claims.2 {
            claim(
                &mut b.mtu_request,
                c,
                || format!("mtuRequest of OVS bridge {name}"),
                &mut conflicts,
            );
        }
        if let Some(c) = claims.3 {
            claim(
                &mut b.bond_mode,
                c,
                || format!("bondMode of OVS bridge {name}"),
                &mut conflicts,
            );
        }
        if let Some(c) = claims.4 {
            claim(
                &mut b.lacp,
                c,
                || format!("lacp of OVS bridge {name}"),
                &mut conflicts,
            );
        }
        self.conflicts = conflicts;
    }

    /// The merged PFs, in selector order, with their own MTU (the link's is added by `finish`).
    fn pfs_done(&mut self) -> Vec<PfDone> {
        std::mem::take(&mut self.pfs)
            .into_iter()
            .map(|(key, b)| {
                let vfs = b
                    .vfs
                    .iter()
                    .map(|(id, v)| {
                        (
                            *id,
                            VfSettings {
                                mac: v
                                    .mac
                                    .as_ref()
                                    .map(|c| MacAddr::parse(&c.value).expect("validated MAC")),
                                vlan: v.vlan.as_ref().map(|c| c.value),
                                qos: v.qos.as_ref().map(|c| c.value),
                                trust: v.trust.as_ref().map(|c| c.value),
                                spoofchk: v.spoofchk.as_ref().map(|c| c.value),
                                max_tx_rate: v.max_tx_rate.as_ref().map(|c| c.value),
                                min_tx_rate: v.min_tx_rate.as_ref().map(|c| c.value),
                            },
                        )
                    })
                    .collect();
                PfDone {
                    mtu_side: b.mtu.as_ref().map(|c| c.side(c.value.to_string())),
                    pf: SriovPf {
                        selector: b.selector.clone().unwrap_or(key),
                        name: b.name.clone(),
                        pci: b.pci,
                        num_vfs: b.num_vfs.as_ref().map(|c| c.value),
                        vf_driver: b
                            .vf_driver
                            .as_ref()
                            .map(|c| DriverName::parse(&c.value).expect("validated driver")),
                        mtu: b.mtu.as_ref().map(|c| c.value),
                        vfs,
                        owners: b.owners,
                    },
                }
            })
            .collect()
    }

    fn finish(mut self, order: &[&Loaded], pfs: Vec<PfDone>) -> Result<NodeConfig> {
        let mut links: BTreeMap<String, Link> = BTreeMap::new();
        let mut mtu_origin: BTreeMap<String, (Origin, String)> = BTreeMap::new();
        let mut addr_origin: BTreeMap<String, (Origin, String)> = BTreeMap::new();
        for (name, b) in std::mem::take(&mut self.links) {
            // A member carries no addresses: membership states both families, empty.
            let member = b.controller.is_some();
            let fam = |a: &AddrB| {
                (a.stated || member).then(|| Addressing {
                    addresses: a
                        .addresses
                        .iter()
                        .map(|ip| IpCidr {
                            addr: *ip,
                            prefix: a.prefixes[ip].as_ref().map(|c| c.value).unwrap_or(0),
                        })
                        .collect(),
                    routes: a
                        .routes
                        .iter()
                        .map(|k| Route {
                            to: k.0,
                            via: a.vias[k].as_ref().and_then(|c| c.value.0),
                            metric: k.2.map(Metric),
                            table: k.1.map(TableId),
                        })
                        .collect(),
                    dhcp: a.dhcp.as_ref().map(|c| c.value).unwrap_or(false),
                })
            };
            // NetworkManager does not install routes on a family with no address (method disabled or
            // link-local), so such a template would work on some distros and silently not on others.
            for (fam, a) in [("IPv4", &b.v4), ("IPv6", &b.v6)] {
                let dhcp = a.dhcp.as_ref().is_some_and(|c| c.value);
                if !a.routes.is_empty() && a.addresses.is_empty() && !dhcp && b.controller.is_none()
                {
                    let (origin, path) =
                        a.first.clone().expect("routes record where they came from");
                    self.errors.push(FieldError {
                        origin: (*origin).clone(),
                        path: format!("{path}.routes"),
                        message: format!("{name} has {fam} routes but no {fam} address or DHCP; give it an address"),
                    });
                }
            }
            if let Some(c) = &b.mtu {
                mtu_origin.insert(name.clone(), ((*c.origin).clone(), c.path.to_string()));
            }
            if let Some((o, p)) = b.v4.first.clone().or(b.v6.first.clone()) {
                addr_origin.insert(name.clone(), ((*o).clone(), p));
            }
            links.insert(
                name.clone(),
                Link {
                    name: name.clone(),
                    kind: b
                        .kind
                        .as_ref()
                        .map(|k| k.value.clone())
                        .unwrap_or(LinkKind::Device),
                    mtu: b.mtu.as_ref().map(|c| c.value),
                    controller: b.controller.as_ref().map(|c| c.value.0.clone()),
                    ipv4: fam(&b.v4),
                    ipv6: fam(&b.v6),
                    owners: b.owners,
                },
            );
        }

        // Node-level rules: the ones that can span templates.
        let mut vlan_ids: BTreeMap<(String, u16), String> = BTreeMap::new();
        for l in links.values() {
            if let LinkKind::Vlan { parent, id } = &l.kind {
                if let Some(other) = vlan_ids.insert((parent.clone(), *id), l.name.clone()) {
                    self.errors.push(FieldError {
                        origin: Origin {
                            template: l.owners.iter().next().cloned(),
                            ..Default::default()
                        },
                        path: String::new(),
                        message: format!(
                            "VLAN {id} on {parent} is defined twice, as {other} and as {}",
                            l.name
                        ),
                    });
                }
                if let (Some(own), Some(par)) = (l.mtu, links.get(parent).and_then(|p| p.mtu)) {
                    if own > par {
                        let (origin, path) = mtu_origin[&l.name].clone();
                        self.errors.push(FieldError {
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
                    self.errors.push(FieldError {
                        origin: Origin {
                            template: l.owners.iter().next().cloned(),
                            ..Default::default()
                        },
                        path: String::new(),
                        message: format!(
                            "{} is a member of {}, which is not defined as that kind",
                            l.name, c.name
                        ),
                    });
                }
                if let Some((origin, path)) = addr_origin.get(&l.name) {
                    self.errors.push(FieldError {
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

        // SR-IOV: the PF's MTU and the link's MTU are one setting.
        let mut sriov = Vec::new();
        for PfDone { mut pf, mtu_side } in pfs {
            // The other direction: a PF whose link has an MTU gets it from the udev rule too, before its
            // VFs exist (VF drivers read the PF's MTU when they start).
            let link_mtu = pf
                .name
                .as_ref()
                .and_then(|n| links.get(n))
                .and_then(|l| l.mtu);
            if let (Some(n), Some(pfm), Some(side)) = (&pf.name, pf.mtu, &mtu_side) {
                if let Some(l) = links.get_mut(n) {
                    match l.mtu {
                        None => l.mtu = Some(pfm),
                        Some(lm) if lm != pfm => {
                            let (origin, path) = mtu_origin[n].clone();
                            self.conflicts.push(Conflict {
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
            pf.mtu = pf.mtu.or(link_mtu);
            sriov.push(pf);
        }

        let mut ovs = Vec::new();
        for (name, b) in std::mem::take(&mut self.ovs) {
            let dpdk = b.dpdk.as_ref().map(|c| c.value).unwrap_or(false);
            if links.contains_key(&name) {
                self.errors.push(FieldError {
                    origin: b
                        .dpdk
                        .as_ref()
                        .map(|c| (*c.origin).clone())
                        .unwrap_or_default(),
                    path: b
                        .dpdk
                        .as_ref()
                        .map(|c| c.path.replace(".dpdk", ".bridgeName"))
                        .unwrap_or_default(),
                    message: format!("{name} is also a Linux interface configured by plumber"),
                });
            }
            let mut ports = Vec::new();
            if let Some(up) = &b.uplinks {
                self.ovs_uplink_origin
                    .insert(name.clone(), ((*up.origin).clone(), up.path.to_string()));
                let mtu_request = b.mtu_request.as_ref().map(|c| c.value);
                let mut ifaces = Vec::new();
                for u in &up.value.0 {
                    match (u, dpdk) {
                        (Uplink::Name(n), false) => {
                            if let Some(c) =
                                links.get(n.as_str()).and_then(|l| l.controller.as_ref())
                            {
                                self.errors.push(FieldError {
                                    origin: (*up.origin).clone(),
                                    path: up.path.to_string(),
                                    message: format!(
                                        "{n} is a member of {}; it cannot also be an OVS port",
                                        c.name
                                    ),
                                });
                            }
                            ifaces.push(OvsInterface {
                                name: n.to_string(),
                                dpdk_devargs: None,
                                mtu_request,
                            });
                        }
                        (Uplink::Name(n), true) => {
                            let pci = self
                                .inventory
                                .and_then(|inv| inv.by_name(n.as_str()))
                                .and_then(|i| i.pci_addr);
                            match pci {
                                Some(a) => ifaces.push(OvsInterface { name: format!("dpdk-{n}"), dpdk_devargs: Some(a), mtu_request }),
                                None => self.errors.push(FieldError {
                                    origin: (*up.origin).clone(),
                                    path: up.path.to_string(),
                                    message: format!(
                                        "{n} is a DPDK uplink and its PCI address is unknown: write the PCI address (0000:03:00.0) or render with an inventory that lists {n}"
                                    ),
                                }),
                            }
                        }
                        (Uplink::Pci(a), _) => ifaces.push(OvsInterface {
                            name: format!("dpdk-{a}"),
                            dpdk_devargs: Some(*a),
                            mtu_request,
                        }),
                    }
                }
                if ifaces.len() > 1 {
                    ports.push(OvsPort {
                        name: format!("{name}-bond"),
                        interfaces: ifaces,
                        bond_mode: b.bond_mode.as_ref().map(|c| match c.value.as_str() {
                            "active-backup" => OvsBondMode::ActiveBackup,
                            "balance-slb" => OvsBondMode::BalanceSlb,
                            _ => OvsBondMode::BalanceTcp,
                        }),
                        lacp: b.lacp.as_ref().map(|c| match c.value.as_str() {
                            "active" => Lacp::Active,
                            "passive" => Lacp::Passive,
                            _ => Lacp::Off,
                        }),
                    });
                } else if let Some(i) = ifaces.pop() {
                    ports.push(OvsPort {
                        name: i.name.clone(),
                        interfaces: vec![i],
                        bond_mode: None,
                        lacp: None,
                    });
                }
            }
            ovs.push(OvsBridge {
                name,
                dpdk,
                ports,
                owners: b.owners,
            });
        }

        // A device bound to a DPDK driver has no network interface, so its SR-IOV rule could never run.
        for b in &ovs {
            for i in b.ports.iter().flat_map(|p| &p.interfaces) {
                if let Some(pf) = sriov
                    .iter()
                    .find(|pf| pf.pci.is_some() && pf.pci == i.dpdk_devargs)
                {
                    let (origin, path) = self
                        .ovs_uplink_origin
                        .get(&b.name)
                        .cloned()
                        .unwrap_or_default();
                    self.errors.push(FieldError {
                        origin,
                        path,
                        message: format!(
                            "{} ({}) is a DPDK uplink and also an SR-IOV PF ({}); a device cannot be both",
                            i.name,
                            i.dpdk_devargs.map(|a| a.to_string()).unwrap_or_default(),
                            pf.selector
                        ),
                    });
                }
            }
        }
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
            links,
            sriov,
            ovs,
            skipped: self.skipped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{load, Source};

    fn inventory(node: &str, total: u32) -> HostNetwork {
        HostNetwork::parse(
            &format!(
                "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetwork\nmetadata: {{name: {node}}}\nstatus:\n  interfaceStatus:\n    - pfName: ens1f0\n      pciAddr: \"0000:3b:00.0\"\n      vendorId: \"8086\"\n      deviceId: \"158b\"\n      sriovStatus: {{totalVfs: {total}}}\n"
            ),
            "inv",
        )
        .unwrap()
    }

    /// Shared SR-IOV merges give what `merge` gives, node after node, conflicts and errors included.
    #[test]
    fn shared_sriov_merges_are_the_same_as_merges() {
        let fleet = "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {name: fleet}\nspec:\n  sriovConfig:\n    - pfName: ens1f0\n      numVfs: 8\n      mtu: 9000\n      vfs:\n        - {id: 0-7, trust: true, spoofchk: false}\n    - vendorId: \"8086\"\n      deviceId: \"158b\"\n      vfDriver: vfio-pci\n";
        let node = |i: usize, mtu: u32| {
            format!("apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: node-{i}}}\nspec:\n  interfaceConfig:\n    - name: ens1f0\n      mtu: {mtu}\n    - name: ens1f0.100\n      ipv4: {{address: [10.0.0.{}/24]}}\n", i + 1)
        };
        let mut text = fleet.to_string();
        for (i, mtu) in [9000, 9000, 1500, 9000].iter().enumerate() {
            text.push_str("---\n");
            text.push_str(&node(i, *mtu));
        }
        let t = load(&[Source {
            name: "t".into(),
            text,
        }])
        .unwrap();
        let cache = SriovCache::default();
        let show = |r: Result<NodeConfig>| match r {
            Ok(n) => format!("{n:?}"),
            Err(e) => format!("error: {e}"),
        };
        // node-2's link MTU conflicts with the PF's; node 3 has too few VFs in its inventory (an error,
        // not shared), then enough again.
        let cases = [(1, 64), (0, 64), (2, 64), (3, 4), (3, 64), (1, 64), (2, 64)];
        let mut errors = 0;
        for (i, total) in cases {
            let refs = vec![&t[0], &t[i + 1]];
            let inv = inventory(&format!("node-{i}"), total);
            let alone = show(merge(&refs, Some(&inv)));
            let shared = show(merge_shared(&refs, Some(&inv), Some(&cache)));
            assert_eq!(alone, shared, "node-{i}, totalVfs {total}");
            errors += usize::from(alone.starts_with("error"));
            // without an inventory too
            assert_eq!(
                show(merge(&refs, None)),
                show(merge_shared(&refs, None, Some(&cache)))
            );
        }
        assert_eq!(
            errors, 3,
            "node-2 twice (MTU conflict) and node-3 with 4 VFs"
        );
        assert_eq!(
            cache.0.lock().unwrap().len(),
            2,
            "one entry with the inventory, one without"
        );
    }
}
