//! Link assembly: `interfaceConfig` (MTU, VLANs, addresses, routes, DHCP), `bondConfig` and
//! `bridgeConfig` claims per Linux interface, and the merged [`Link`]s they make, with the one rule that
//! needs a single link only (routes need an address or DHCP of their family).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;

use crate::error::{FieldError, Origin};
use crate::model::*;
use crate::node::*;
use crate::parse::Loaded;
use crate::validate::vlan_name;

use super::claims::{claim, claim_opt, Claim};
use super::Merger;

/// What the templates claimed for one Linux interface.
#[derive(Default)]
pub(super) struct LinkB {
    kind: Option<Claim<LinkKind>>,
    mtu: Option<Claim<u32>>,
    controller: Option<Claim<CtrlV>>,
    v4: AddrB,
    v6: AddrB,
    owners: BTreeSet<String>,
}

/// A link's controller, as claimed (shown as "member of bond bond0").
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

/// What the templates claimed for one address family of a link.
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

/// A route's gateway, as claimed.
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

/// The merged links, and where each link's MTU and first addressing were set (for the rules that
/// span links, and the SR-IOV MTU unification).
pub(super) struct LinksDone {
    pub links: BTreeMap<String, Link>,
    pub mtu_origin: BTreeMap<String, (Origin, String)>,
    pub addr_origin: BTreeMap<String, (Origin, String)>,
}

/// The link `name`, which the template `t` now owns.
fn link<'l>(links: &'l mut BTreeMap<String, LinkB>, name: &str, t: &Loaded) -> &'l mut LinkB {
    let l = links.entry(name.to_string()).or_default();
    l.owners.insert(t.name().to_string());
    l
}

impl Merger<'_> {
    /// One `bondConfig` entry: the bond's kind, and its members' controller.
    pub(super) fn bond(&mut self, t: &Loaded, i: usize, b: &BondConfig) {
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

    /// One `bridgeConfig` entry: the bridge's kind, and its members' controller.
    pub(super) fn bridge(&mut self, t: &Loaded, i: usize, b: &BridgeConfig) {
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

    fn set_kind(&mut self, t: &Loaded, name: &str, path: String, kind: LinkKind) {
        let c = self.c(t, path, kind);
        claim(
            &mut link(&mut self.links, name, t).kind,
            c,
            || format!("the kind of interface {name}"),
            &mut self.conflicts,
        );
    }

    fn set_controller(&mut self, t: &Loaded, name: &str, path: String, ctrl: CtrlV) {
        let c = self.c(t, path, ctrl);
        claim(
            &mut link(&mut self.links, name, t).controller,
            c,
            || format!("the controller of interface {name}"),
            &mut self.conflicts,
        );
    }

    /// One `interfaceConfig` entry: MTU, VLANs and both address families.
    pub(super) fn interface(&mut self, t: &Loaded, i: usize, ic: &InterfaceConfig) {
        let p = format!("spec.interfaceConfig[{i}]");
        let name = ic.name.to_string();
        let mtu = ic.mtu.map(|m| self.c(t, format!("{p}.mtu"), m.get()));
        claim_opt(
            &mut link(&mut self.links, &name, t).mtu,
            mtu,
            || format!("the MTU of {name}"),
            &mut self.conflicts,
        );
        for (j, v) in ic.vlan.iter().enumerate() {
            let vname = vlan_name(&name, v);
            let kind = LinkKind::Vlan {
                parent: name.clone(),
                id: v.id.get(),
            };
            let c = self.c(t, format!("{p}.vlan[{j}]"), kind);
            claim(
                &mut link(&mut self.links, &vname, t).kind,
                c,
                || format!("the kind of interface {vname}"),
                &mut self.conflicts,
            );
        }
        for (v6, cfg) in [(false, &ic.ipv4), (true, &ic.ipv6)] {
            let Some(cfg) = cfg else { continue };
            let fp = format!("{p}.{}", if v6 { "ipv6" } else { "ipv4" });
            let at = |path: String| Claim {
                value: (),
                origin: self.cur.clone(),
                path: path.into(),
                priority: t.template.spec.priority(),
            };
            let l = link(&mut self.links, &name, t);
            let ab = if v6 { &mut l.v6 } else { &mut l.v4 };
            ab.family(cfg, &fp, &name, at, &mut self.conflicts);
        }
    }

    /// The merged links; errors for routes without an address.
    pub(super) fn links_done(&mut self) -> LinksDone {
        let mut done = LinksDone {
            links: BTreeMap::new(),
            mtu_origin: BTreeMap::new(),
            addr_origin: BTreeMap::new(),
        };
        for (name, b) in std::mem::take(&mut self.links) {
            // A member carries no addresses: membership states both families, empty.
            let member = b.controller.is_some();
            // NetworkManager does not install routes on a family with no address (method disabled or
            // link-local), so such a template would work on some distros and silently not on others.
            for (fam, a) in [("IPv4", &b.v4), ("IPv6", &b.v6)] {
                let dhcp = a.dhcp.as_ref().is_some_and(|c| c.value);
                if !a.routes.is_empty() && a.addresses.is_empty() && !dhcp && !member {
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
                done.mtu_origin.insert(name.clone(), c.place());
            }
            if let Some((o, p)) = b.v4.first.clone().or(b.v6.first.clone()) {
                done.addr_origin.insert(name.clone(), ((*o).clone(), p));
            }
            let link = Link {
                name: name.clone(),
                kind: b
                    .kind
                    .as_ref()
                    .map(|k| k.value.clone())
                    .unwrap_or(LinkKind::Device),
                mtu: b.mtu.as_ref().map(|c| c.value),
                controller: b.controller.as_ref().map(|c| c.value.0.clone()),
                ipv4: b.v4.done(member),
                ipv6: b.v6.done(member),
                owners: b.owners,
            };
            done.links.insert(name, link);
        }
        done
    }
}

impl AddrB {
    /// One family's `address`, `routes` and `dhcp` of a template (at `fp`) on the link `name`; `at`
    /// makes the template's claim at a path.
    fn family(
        &mut self,
        cfg: &IpConfig,
        fp: &str,
        name: &str,
        at: impl Fn(String) -> Claim<()>,
        conflicts: &mut Vec<crate::error::Conflict>,
    ) {
        let address = cfg.address.as_deref().unwrap_or_default();
        self.stated |= cfg.address.is_some() || cfg.dhcp.is_some();
        if self.first.is_none()
            && (!address.is_empty() || !cfg.routes.is_empty() || cfg.dhcp == Some(true))
        {
            self.first = Some((at(String::new()).origin, fp.to_string()));
        }
        for (k, a) in address.iter().enumerate() {
            if !self.prefixes.contains_key(&a.addr) {
                self.addresses.push(a.addr);
            }
            let slot = self.prefixes.entry(a.addr).or_default();
            let c = at(format!("{fp}.address[{k}]")).with(a.prefix);
            claim(
                slot,
                c,
                || format!("the prefix length of {} on {name}", a.addr),
                conflicts,
            );
        }
        for (k, r) in cfg.routes.iter().enumerate() {
            let key = (r.to, r.table.map(|x| x.get()), r.metric.map(|x| x.get()));
            if !self.vias.contains_key(&key) {
                self.routes.push(key);
            }
            let slot = self.vias.entry(key).or_default();
            let c = at(format!("{fp}.routes[{k}]")).with(OptIp(r.via));
            claim(
                slot,
                c,
                || format!("the gateway of the route to {} on {name}", r.to),
                conflicts,
            );
        }
        let dhcp = cfg.dhcp.map(|d| at(format!("{fp}.dhcp")).with(d));
        claim_opt(
            &mut self.dhcp,
            dhcp,
            || format!("DHCP on {name}"),
            conflicts,
        );
    }

    /// The merged family, when some template states it (or the link is a member: both families, empty).
    fn done(&self, member: bool) -> Option<Addressing> {
        (self.stated || member).then(|| Addressing {
            addresses: self
                .addresses
                .iter()
                .map(|ip| IpCidr {
                    addr: *ip,
                    prefix: self.prefixes[ip].as_ref().map(|c| c.value).unwrap_or(0),
                })
                .collect(),
            routes: self
                .routes
                .iter()
                .map(|k| Route {
                    to: k.0,
                    via: self.vias[k].as_ref().and_then(|c| c.value.0),
                    metric: k.2.map(Metric),
                    table: k.1.map(TableId),
                })
                .collect(),
            dhcp: self.dhcp.as_ref().map(|c| c.value).unwrap_or(false),
        })
    }
}
