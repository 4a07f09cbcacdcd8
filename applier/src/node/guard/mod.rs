//! The connectivity guard: an apply must not cut the node off.
//!
//! Verification compares the kernel with the desired state, so a node that lost its uplink
//! "verifies". The guard looks at what the node can reach, on the kernel itself (as
//! kubernetes-nmstate's probes do):
//!
//! - the probes ([`probes`]) are each default gateway of the main table (IPv4 and IPv6), which must
//!   answer the kernel's neighbour resolution (ARP, ND: [`crate::node::netlink::neigh`]), and each TCP
//!   endpoint given (the API server for the agent, `--reach HOST:PORT` for `plumber apply`), which must
//!   accept a connection;
//! - a plan that cuts a probe's path is refused before any change ([`plan`]), unless that is meant
//!   ([`Guard::allow_disconnect`], or the template annotation [`ALLOW_DISCONNECT`]): the node is
//!   simulated with the plan's ops carried out ([`simulate`]) and every probe's path looked up again
//!   ([`path`]);
//! - before the changes, the probes are taken; after the changes and their verification, before the
//!   files are committed, every probe that answered before must answer again within
//!   [`Guard::timeout`] ([`probe::after`]). If one does not, the apply fails at [`STAGE`] and
//!   everything is rolled back.
//!
//! Paths are looked up in the main table only (policy rules are not followed), as the kernel does
//! for a node without them: the longest prefix, then the lowest metric, among the routes whose link
//! is up and not enslaved and whose gateway is on-link.
//!
//! This module is pure: the probes and their paths from a discovered state. [`probe`] does the I/O.

pub mod probe;

use std::cmp::Reverse;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use plumber_render::model::IpCidr;
use plumber_render::node::TemplateRef;
use plumber_render::parse::Loaded;
use serde::Serialize;

use crate::node::ovs::OvsOp;
use crate::node::plan::{default_metric, Op, RouteSpec};
use crate::node::state::{
    AddressState, CurrentKind, CurrentState, LinkState, RouteProto, RouteState,
};

pub(crate) use plumber_render::model::ALLOW_DISCONNECT;

/// How long the probes that answered before an apply have to answer again after it.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest the probes are given before an apply (a gateway's neighbour fails in ~3 s by the
/// kernel's defaults; an endpoint that drops connections would otherwise hold every apply). A probe
/// that does not answer in that time is not checked after the apply.
const BEFORE_MAX: Duration = Duration::from_secs(5);

/// The stage an apply fails at when a probe no longer answers (what the record's error starts with).
pub(crate) const STAGE: &str = "connectivity guard";

/// The main routing table.
const MAIN: u32 = 254;

/// A TCP endpoint to check: as given, and resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.parse::<SocketAddr>() == Ok(self.addr) {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{} ({})", self.name, self.addr)
        }
    }
}

/// The guard's settings for an apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// How long the probes that answered before have to answer again; zero turns the guard off.
    pub timeout: Duration,
    /// TCP endpoints to check, besides the default gateways.
    pub endpoints: Vec<Endpoint>,
    /// A plan may cut a probe's path (the probes are still checked after the changes).
    pub allow_disconnect: bool,
    /// How to say that a cut is meant, for a refusal ("pass --allow-disconnect").
    pub opt_in: String,
}

impl Default for Guard {
    /// `plumber apply`'s: 20 s, no endpoints, `--allow-disconnect` to allow a cut.
    fn default() -> Self {
        Guard {
            timeout: DEFAULT_TIMEOUT,
            endpoints: Vec::new(),
            allow_disconnect: false,
            opt_in: "pass --allow-disconnect".into(),
        }
    }
}

impl Guard {
    /// The agent's: the endpoints it checks (the API server's), and the annotation as the opt-in.
    pub(crate) fn agent(timeout: Duration, endpoints: Vec<Endpoint>) -> Guard {
        Guard {
            timeout,
            endpoints,
            allow_disconnect: false,
            opt_in: format!("annotate the template with {ALLOW_DISCONNECT}: \"true\""),
        }
    }

    fn enabled(&self) -> bool {
        !self.timeout.is_zero()
    }
}

/// Whether a selected template (one of `selected`) carries [`ALLOW_DISCONNECT`]`: "true"`.
pub(crate) fn annotated(templates: &[Loaded], selected: &[TemplateRef]) -> bool {
    templates.iter().any(|t| {
        selected.iter().any(|s| s.name == t.name())
            && t.template
                .metadata
                .annotations
                .get(ALLOW_DISCONNECT)
                .is_some_and(|v| v == "true")
    })
}

/// What the guard checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "probe", rename_all = "camelCase")]
pub(crate) enum Probe {
    /// A default gateway of the main table, and the link its route leaves by: the kernel's neighbour
    /// resolution must get an answer from it.
    Gateway { gateway: IpAddr, dev: String },
    /// A TCP endpoint: a connection must be accepted.
    Endpoint { endpoint: String, addr: SocketAddr },
}

impl Probe {
    fn endpoint(e: &Endpoint) -> Probe {
        Probe::Endpoint {
            endpoint: e.name.clone(),
            addr: e.addr,
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Gateway { gateway, dev } => write!(f, "default gateway {gateway} via {dev}"),
            Probe::Endpoint { endpoint, addr } => write!(
                f,
                "endpoint {}",
                Endpoint {
                    name: endpoint.clone(),
                    addr: *addr
                }
            ),
        }
    }
}

/// The probes for a node as `state`: its default gateways (main table; IPv4 first), then `endpoints`.
fn probes(state: &CurrentState, endpoints: &[Endpoint]) -> Vec<Probe> {
    let mut gateways: Vec<(bool, IpAddr, &str)> = state
        .routes
        .iter()
        .filter(|r| r.table == MAIN && r.dst.prefix == 0)
        .filter_map(|r| r.via.map(|g| (g.is_ipv6(), g, r.dev.as_str())))
        .collect();
    gateways.sort();
    gateways.dedup();
    gateways
        .into_iter()
        .map(|(_, gateway, dev)| Probe::Gateway {
            gateway,
            dev: dev.to_string(),
        })
        .chain(endpoints.iter().map(Probe::endpoint))
        .collect()
}

/// How the node reaches a probe's target.
#[derive(Debug, Clone, PartialEq)]
struct Path {
    /// The link the packets leave by.
    dev: String,
    /// The main-table route taken (`None`: the target is one of the node's own addresses).
    route: Option<RouteState>,
    /// The neighbour that must answer: the route's gateway, or the target itself (on-link).
    next_hop: IpAddr,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.route {
            None => write!(f, "a local address on {}", self.dev),
            Some(r) => {
                write!(f, "route {}", r.dst)?;
                if let Some(v) = r.via {
                    write!(f, " via {v}")?;
                }
                write!(f, " dev {}", r.dev)
            }
        }
    }
}

/// How the node as `state` reaches `probe`'s target (`None`: it does not). A gateway is reached
/// through a default route via that gateway if the node still has one, else through the family's
/// default route in force (a template may move the default route to another gateway).
fn path(state: &CurrentState, probe: &Probe) -> Option<Path> {
    match probe {
        Probe::Gateway { gateway, .. } => default_path(state, *gateway),
        Probe::Endpoint { addr, .. } => route_to(state, addr.ip()),
    }
}

fn default_path(state: &CurrentState, gateway: IpAddr) -> Option<Path> {
    let usable: Vec<&RouteState> = main_routes(state, gateway.is_ipv6())
        .filter(|r| r.dst.prefix == 0 && r.via.is_some())
        .collect();
    let r = usable
        .iter()
        .filter(|r| r.via == Some(gateway))
        .min_by_key(|r| metric(r))
        .or_else(|| usable.iter().min_by_key(|r| metric(r)))?;
    Some(Path {
        dev: r.dev.clone(),
        route: Some((*r).clone()),
        next_hop: r.via.expect("a default route with a gateway"),
    })
}

/// The path to `ip`: one of the node's own addresses, or the main table's longest match.
fn route_to(state: &CurrentState, ip: IpAddr) -> Option<Path> {
    let local = state
        .links
        .values()
        .find(|l| usable(l) && l.addresses.iter().any(|a| a.cidr.addr == ip));
    if let Some(l) = local {
        return Some(Path {
            dev: l.name.clone(),
            route: None,
            next_hop: ip,
        });
    }
    let r = main_routes(state, ip.is_ipv6())
        .filter(|r| contains(&r.dst, ip))
        .max_by_key(|r| (r.dst.prefix, Reverse(metric(r))))?;
    Some(Path {
        dev: r.dev.clone(),
        route: Some(r.clone()),
        next_hop: r.via.unwrap_or(ip),
    })
}

/// The main table's routes of a family that the kernel can use: their link is up and not enslaved,
/// their gateway (if any) on-link.
fn main_routes(state: &CurrentState, v6: bool) -> impl Iterator<Item = &RouteState> {
    state.routes.iter().filter(move |r| {
        r.table == MAIN
            && r.dst.addr.is_ipv6() == v6
            && state.links.get(&r.dev).is_some_and(usable)
            && r.via.is_none_or(|g| on_link(state, &r.dev, g))
    })
}

fn usable(l: &LinkState) -> bool {
    l.up && l.controller.is_none()
}

/// Whether `g` is a neighbour on `dev`: IPv6 link-local, or inside a route without a gateway on `dev`
/// (the kernel's prefix routes, a host route) or a subnet of one of its addresses.
fn on_link(state: &CurrentState, dev: &str, g: IpAddr) -> bool {
    if let IpAddr::V6(a) = g {
        if (a.segments()[0] & 0xffc0) == 0xfe80 {
            return true;
        }
    }
    state
        .routes
        .iter()
        .any(|r| r.table == MAIN && r.dev == dev && r.via.is_none() && contains(&r.dst, g))
        || state
            .links
            .get(dev)
            .is_some_and(|l| l.addresses.iter().any(|a| contains(&a.cidr, g)))
}

/// Whether `ip` is inside the prefix of `c` (its host bits ignored).
fn contains(c: &IpCidr, ip: IpAddr) -> bool {
    c.addr.is_ipv4() == ip.is_ipv4()
        && IpCidr {
            addr: ip,
            prefix: c.prefix,
        }
        .network()
            == c.network()
}

fn metric(r: &RouteState) -> u32 {
    r.metric.unwrap_or(default_metric(r.dst.addr.is_ipv6()))
}

fn same_route(r: &RouteState, s: &RouteSpec) -> bool {
    r.dev == s.dev
        && r.dst == s.dst
        && r.via == s.via
        && r.table == s.table
        && metric(r) == s.metric
}

fn subnet(c: &IpCidr) -> IpCidr {
    IpCidr {
        addr: c.network(),
        prefix: c.prefix,
    }
}

/// The node as `state` would be with `ops` and then `ovs` carried out, as far as paths go: links
/// created, deleted, enslaved, set down; addresses with the prefix routes the kernel adds and removes
/// with them (and its flush of a link's IPv4 routes with its last IPv4 address); routes. A port added
/// to an OVS bridge counts as enslaved to it.
fn simulate(state: &CurrentState, ops: &[Op], ovs: &[OvsOp]) -> CurrentState {
    let mut s = state.clone();
    for op in ops {
        match op {
            Op::CreateLink { name, .. } => {
                s.links.insert(
                    name.clone(),
                    LinkState {
                        name: name.clone(),
                        kind: CurrentKind::Other { kind: "new".into() },
                        mtu: 0,
                        up: false,
                        controller: None,
                        addresses: Vec::new(),
                        vfs: Vec::new(),
                    },
                );
            }
            Op::DeleteLink { name, .. } => {
                s.links.remove(name);
                s.routes.retain(|r| r.dev != *name);
                for l in s.links.values_mut() {
                    if l.controller.as_deref() == Some(name) {
                        l.controller = None;
                    }
                }
            }
            Op::SetController {
                link, controller, ..
            } => {
                if let Some(l) = s.links.get_mut(link) {
                    l.controller = controller.clone();
                }
            }
            Op::SetUp { link, up } => {
                if let Some(l) = s.links.get_mut(link) {
                    l.up = *up;
                }
            }
            Op::AddAddress { link, cidr } => {
                let Some(l) = s.links.get_mut(link) else {
                    continue;
                };
                l.addresses.push(AddressState {
                    cidr: *cidr,
                    dynamic: false,
                });
                let max = if cidr.is_ipv4() { 32 } else { 128 };
                let prefix_route = RouteState {
                    dev: link.clone(),
                    dst: subnet(cidr),
                    via: None,
                    metric: (!cidr.is_ipv4()).then_some(256),
                    table: MAIN,
                    src: cidr.is_ipv4().then_some(cidr.addr),
                    proto: RouteProto::Kernel,
                };
                if cidr.prefix < max && !s.routes.contains(&prefix_route) {
                    s.routes.push(prefix_route);
                }
            }
            Op::DelAddress { link, cidr, .. } => {
                let Some(l) = s.links.get_mut(link) else {
                    continue;
                };
                l.addresses.retain(|a| a.cidr != *cidr);
                let same_subnet = l.addresses.iter().any(|a| subnet(&a.cidr) == subnet(cidr));
                let v4_left = l.addresses.iter().any(|a| a.cidr.is_ipv4());
                s.routes.retain(|r| {
                    let prefix_route = r.dev == *link
                        && r.proto == RouteProto::Kernel
                        && r.via.is_none()
                        && r.dst == subnet(cidr);
                    let flushed = cidr.is_ipv4() && !v4_left && r.dev == *link && r.dst.is_ipv4();
                    (same_subnet || !prefix_route) && !flushed && r.src != Some(cidr.addr)
                });
            }
            Op::AddRoute { route } => s.routes.push(RouteState {
                dev: route.dev.clone(),
                dst: route.dst,
                via: route.via,
                metric: Some(route.metric),
                table: route.table,
                src: None,
                proto: route.proto,
            }),
            Op::DelRoute { route } => s.routes.retain(|r| !same_route(r, route)),
            Op::SetMtu { .. } | Op::SetVf { .. } => {}
        }
    }
    for op in ovs {
        if let OvsOp::AddPort { bridge, port } = op {
            for i in &port.interfaces {
                if let Some(l) = s.links.get_mut(&i.name) {
                    l.controller = Some(bridge.clone());
                }
            }
        }
    }
    s
}

/// A probe whose path a plan cuts.
#[derive(Debug, Clone, PartialEq)]
struct Cut {
    probe: Probe,
    /// Its path before.
    path: Path,
    /// The planned changes on that path.
    by: Vec<String>,
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (reached by {})", self.probe, self.path)?;
        if !self.by.is_empty() {
            write!(f, ": {}", self.by.join("; "))?;
        }
        Ok(())
    }
}

/// The probes the node as `state` reaches and would no longer reach with `ops` and `ovs` carried out.
fn cuts(state: &CurrentState, probes: &[Probe], ops: &[Op], ovs: &[OvsOp]) -> Vec<Cut> {
    let after = simulate(state, ops, ovs);
    probes
        .iter()
        .filter_map(|p| {
            let before = path(state, p)?;
            if path(&after, p).is_some() {
                return None;
            }
            let by = blame(&before, ops, ovs);
            Some(Cut {
                probe: p.clone(),
                path: before,
                by,
            })
        })
        .collect()
}

/// The planned changes on `path`: its link deleted, enslaved or set down, the address that puts its
/// next hop on-link removed, its route or the route to its next hop removed, its link added to an
/// OVS bridge. Failing those, every planned change of its link.
fn blame(path: &Path, ops: &[Op], ovs: &[OvsOp]) -> Vec<String> {
    let dev = path.dev.as_str();
    let hop = path.next_hop;
    let on_path = |op: &Op| match op {
        Op::DeleteLink { name, .. } => name == dev,
        Op::SetController {
            link,
            controller: Some(_),
            ..
        } => link == dev,
        Op::SetUp { link, up: false } => link == dev,
        Op::DelAddress { link, cidr, .. } => {
            let source = path
                .route
                .as_ref()
                .is_some_and(|r| r.src == Some(cidr.addr));
            link == dev && (cidr.addr == hop || contains(cidr, hop) || source)
        }
        Op::DelRoute { route } => {
            path.route.as_ref().is_some_and(|r| same_route(r, route))
                || route.dev == dev && route.via.is_none() && contains(&route.dst, hop)
        }
        _ => false,
    };
    let mut by: Vec<String> = ops
        .iter()
        .filter(|o| on_path(o))
        .map(|o| o.to_string())
        .collect();
    by.extend(ovs.iter().filter_map(|o| match o {
        OvsOp::AddPort { port, .. } if port.interfaces.iter().any(|i| i.name == dev) => {
            Some(o.to_string())
        }
        _ => None,
    }));
    if by.is_empty() {
        by = ops
            .iter()
            .filter(|o| o.link() == dev)
            .map(|o| o.to_string())
            .collect();
    }
    by
}

/// The probes an apply checks, or why its plan is refused. None when the guard is off or the plan
/// does not change the running node (`changes_runtime`). A plan that cuts a probe's path is refused
/// unless that is meant (`allowed`: [`Guard::allow_disconnect`] or the [`ALLOW_DISCONNECT`]
/// annotation).
pub(crate) fn plan(
    guard: &Guard,
    allowed: bool,
    state: &CurrentState,
    ops: &[Op],
    ovs: &[OvsOp],
    changes_runtime: bool,
) -> Result<Vec<Probe>, String> {
    if !guard.enabled() || !changes_runtime {
        return Ok(Vec::new());
    }
    let probes = probes(state, &guard.endpoints);
    if !allowed && !guard.allow_disconnect {
        let cut = cuts(state, &probes, ops, ovs);
        if !cut.is_empty() {
            return Err(format!(
                "the plan cuts the node off from {}; nothing was changed. If this is meant, {}",
                cut.iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join("; and from "),
                guard.opt_in
            ));
        }
    }
    Ok(probes)
}

#[cfg(test)]
mod tests;
