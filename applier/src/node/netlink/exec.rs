//! `execute` one op, `apply` a plan with rollback, its one-request ops pipelined (pipeline.rs). Links
//! are found by the indexes discovery gave, or looked up by name (an index changes when rollback
//! recreates a link); lookups are reads, and only writes are counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use futures::TryStreamExt;
use plumber_render::model::{BondMode, BondOptions, LacpRate, XmitHashPolicy};
use rtnetlink::packet_route::link::{
    BondLacpRate, BondMode as NlBondMode, BondXmitHashPolicy, BridgeStpState, InfoKind,
    LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::route::{RouteMessage, RouteProtocol, RouteScope};
use rtnetlink::{
    AddressMessageBuilder, Handle, LinkBond, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVlan,
    RouteMessageBuilder,
};

use super::pipeline::{self, Request, Window};
use super::{nl_msg, Indexes};
use crate::node::plan::{rollback, Op, RouteSpec, Snapshot};
use crate::node::state::RouteProto;
use crate::node::{Error, Result};
use plumber_render::node::LinkKind;

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Applied {
    /// The ops executed, in the order they took effect (a link's `SetUp` right after its `SetMtu`
    /// when the two went in one request).
    pub(crate) ops: Vec<Op>,
    /// Netlink write requests sent (link, address and route changes); dumps and lookups are not counted.
    pub writes: usize,
}

/// Executes one op. A failure part-way through an op that takes several requests (creating a link with
/// a restore snapshot, enslaving to a bond) undoes the requests of that op it already made.
pub async fn execute(handle: &Handle, op: &Op) -> Result<()> {
    Exec::new(handle)
        .op(op)
        .await
        .map_err(|e| Error::Netlink(format!("{op}: {e}")))
}

/// Executes `ops` in order. On the first failure, executes `plan::rollback` of the ops done before it
/// and returns [`Error::Apply`] naming the failed op and what was rolled back.
pub async fn apply(handle: &Handle, ops: &[Op]) -> Result<Applied> {
    apply_with(handle, ops, &Indexes::new()).await
}

/// [`apply`], starting from the link indexes discovery found ([`discover_indexed`]), which saves a
/// lookup per link (an index that went stale makes its op fail, and the plan roll back).
///
/// Ops that take one request each (MTU, up, addresses, routes, VF settings) are pipelined, up to
/// [`WINDOW`](super::pipeline::WINDOW) in flight (pipeline.rs says why the order and the first-error
/// semantics hold); an op of several requests (creating, deleting or enslaving a link) waits for every
/// answer before it and runs alone.
///
/// [`discover_indexed`]: super::discover_indexed
pub async fn apply_with(handle: &Handle, ops: &[Op], known: &Indexes) -> Result<Applied> {
    let mut ex = Exec::new(handle);
    ex.indexes = known.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let mut window = Window::<Vec<Op>>::new(handle);
    // Acknowledged ops, in the order they took effect (what a failure rolls back).
    let mut done = Done::default();
    // `SetUp` ops carried out together with their link's `SetMtu`.
    let mut folded = vec![false; ops.len()];
    for (i, op) in ops.iter().enumerate() {
        if folded[i] || done.failed.is_some() {
            continue;
        }
        let fold = up_after_mtu(ops, i, &folded);
        match ex.request(op, fold.is_some()).await {
            Some(Ok(req)) => {
                let mut carried = vec![op.clone()];
                if let Some(j) = fold {
                    folded[j] = true;
                    carried.push(ops[j].clone());
                }
                ex.writes += 1;
                if let Some((carried, answer)) = window.send(carried, req).await {
                    done.record(carried, answer);
                }
            }
            Some(Err(e)) => {
                // The requests in flight come before this op: their failure, if any, is the first.
                done.settle(&mut window).await;
                done.record(vec![op.clone()], Err(e));
            }
            None => {
                done.settle(&mut window).await;
                if done.failed.is_none() {
                    let answer = ex.op(op).await;
                    done.record(vec![op.clone()], answer);
                }
            }
        }
    }
    done.settle(&mut window).await;
    let Some((at, error)) = done.failed else {
        return Ok(Applied {
            ops: done.ops,
            writes: ex.writes,
        });
    };
    let mut rolled_back = Vec::new();
    let mut rollback_failed = Vec::new();
    for undo in rollback(&done.ops) {
        // Best effort: one failed undo does not stop the others.
        match ex.op(&undo).await {
            Ok(()) => rolled_back.push(undo.to_string()),
            Err(e) => rollback_failed.push(format!("{undo}: {e}")),
        }
    }
    let rollback = match (rolled_back.len(), rollback_failed.len()) {
        (0, 0) => "nothing to roll back".to_string(),
        (n, 0) => format!("rolled back the {n} changes made"),
        (n, f) => format!(
            "rolled back {n} changes, {f} failed to roll back (the node is left part-way): {}",
            rollback_failed.join("; ")
        ),
    };
    Err(Error::Apply(Box::new(crate::node::Failed {
        at,
        error,
        rolled_back,
        rollback_failed,
        rollback,
    })))
}

/// What an apply has done so far, and its first failure.
#[derive(Default)]
struct Done {
    /// The acknowledged ops, in the order they took effect, including those sent after a refused one.
    ops: Vec<Op>,
    /// The first op refused, in plan order, and why.
    failed: Option<(String, String)>,
}

impl Done {
    fn record(&mut self, carried: Vec<Op>, answer: R) {
        match answer {
            Ok(()) => self.ops.extend(carried),
            Err(e) => {
                if self.failed.is_none() {
                    self.failed = Some((carried[0].to_string(), e));
                }
            }
        }
    }

    /// Waits for every answer in flight.
    async fn settle(&mut self, window: &mut Window<Vec<Op>>) {
        while let Some((carried, answer)) = window.next().await {
            self.record(carried, answer);
        }
    }
}

/// When `ops[i]` sets a link's MTU and the same link is set up later with only other links' MTU
/// changes, or `SetUp`s already carried out (`folded`), in between: the index of that `SetUp`. Both then
/// go in one request (as `ip link set X mtu M up` does), which only moves the link's up before other
/// links' MTU changes. An up of another link still to come stops it: that link may be this one's
/// parent, which must be up first (a VLAN cannot go up on a down parent).
fn up_after_mtu(ops: &[Op], i: usize, folded: &[bool]) -> Option<usize> {
    let Op::SetMtu { link, .. } = &ops[i] else {
        return None;
    };
    for (j, op) in ops.iter().enumerate().skip(i + 1) {
        match op {
            Op::SetUp { link: l, up: true } if l == link => return Some(j),
            Op::SetMtu { link: l, .. } if l != link => {}
            Op::SetUp { .. } if folded[j] => {}
            _ => return None,
        }
    }
    None
}

type R<T = ()> = std::result::Result<T, String>;

struct Exec<'a> {
    handle: &'a Handle,
    writes: usize,
    /// Link indexes by name: from discovery, then from lookups. A link's entry is dropped when an op
    /// creates or deletes it (a re-created link has a new index).
    indexes: HashMap<String, u32>,
}

impl<'a> Exec<'a> {
    fn new(handle: &'a Handle) -> Self {
        Exec {
            handle,
            writes: 0,
            indexes: HashMap::new(),
        }
    }

    /// Counts and awaits one write request.
    async fn write(
        &mut self,
        f: impl std::future::Future<Output = std::result::Result<(), rtnetlink::Error>>,
    ) -> R {
        self.writes += 1;
        f.await.map_err(|e| nl_msg(&e))
    }

    async fn link(&self, name: &str) -> R<LinkMessage> {
        let found = self
            .handle
            .link()
            .get()
            .match_name(name)
            .execute()
            .try_next()
            .await
            .map_err(|e| format!("looking up {name}: {}", nl_msg(&e)))?;
        found.ok_or_else(|| format!("{name}: no such link"))
    }

    async fn index(&mut self, name: &str) -> R<u32> {
        if let Some(i) = self.indexes.get(name) {
            return Ok(*i);
        }
        let i = self.link(name).await?.header.index;
        self.indexes.insert(name.to_string(), i);
        Ok(i)
    }

    async fn set(&mut self, msg: LinkMessage) -> R {
        let req = self.handle.link().set(msg);
        self.write(req.execute()).await
    }

    async fn set_up(&mut self, index: u32, up: bool) -> R {
        self.set(up_message(index, up)).await
    }

    async fn op(&mut self, op: &Op) -> R {
        let result = self.op_inner(op).await;
        if let Op::CreateLink { name, .. } | Op::DeleteLink { name, .. } = op {
            self.indexes.remove(name);
        }
        result
    }

    async fn op_inner(&mut self, op: &Op) -> R {
        match op {
            Op::CreateLink {
                name,
                spec,
                restore,
            } => {
                self.create(name, spec).await?;
                if let Some(s) = restore {
                    if let Err(e) = self.restore(name, s).await {
                        // Leave nothing half-made behind: the op either happened or did not.
                        if let Ok(i) = self.index(name).await {
                            let req = self.handle.link().del(i);
                            let _ = self.write(req.execute()).await;
                        }
                        return Err(e);
                    }
                }
                Ok(())
            }
            Op::DeleteLink { name, .. } => {
                let i = self.index(name).await?;
                let req = self.handle.link().del(i);
                self.write(req.execute()).await
            }
            Op::SetController {
                link, controller, ..
            } => self.set_controller(link, controller.as_deref()).await,
            _ => {
                let req = self
                    .request(op, false)
                    .await
                    .expect("every other op is one request")?;
                self.writes += 1;
                pipeline::send(self.handle, req).await
            }
        }
    }

    /// The one request that carries out `op` (with its link's `SetUp` when `up`, for a folded
    /// `SetMtu`), or `None` for an op of several requests (creating, deleting, enslaving a link).
    async fn request(&mut self, op: &Op, up: bool) -> Option<R<Request>> {
        Some(match op {
            Op::CreateLink { .. } | Op::DeleteLink { .. } | Op::SetController { .. } => {
                return None
            }
            Op::SetMtu { link, mtu, .. } => self.index(link).await.map(|i| {
                let b = LinkUnspec::new_with_index(i).mtu(*mtu);
                Request::SetLink(if up { b.up() } else { b }.build())
            }),
            Op::SetUp { link, up } => self
                .index(link)
                .await
                .map(|i| Request::SetLink(up_message(i, *up))),
            Op::AddAddress { link, cidr } => self.index(link).await.map(|i| {
                let mut req = self.handle.address().add(i, cidr.addr, cidr.prefix);
                Request::NewAddress(req.message_mut().clone())
            }),
            Op::DelAddress { link, cidr, .. } => self.index(link).await.map(|i| {
                if cidr.is_ipv4() {
                    promote_secondaries(link);
                }
                Request::DelAddress(match cidr.addr {
                    IpAddr::V4(a) => AddressMessageBuilder::<std::net::Ipv4Addr>::new()
                        .index(i)
                        .address(a, cidr.prefix)
                        .build(),
                    IpAddr::V6(a) => AddressMessageBuilder::<std::net::Ipv6Addr>::new()
                        .index(i)
                        .address(a, cidr.prefix)
                        .build(),
                })
            }),
            Op::AddRoute { route } => self.route(route, false).await.map(Request::NewRoute),
            Op::DelRoute { route } => self.route(route, true).await.map(Request::DelRoute),
            Op::SetVf { pf, vf, set, .. } => self
                .index(pf)
                .await
                .map(|i| Request::SetLink(super::vf::set_vf_message(i, *vf, set))),
        })
    }

    /// Creates the link down, as `plan` expects (its own `SetUp` follows). A kernel without the
    /// kind's module refuses with EOPNOTSUPP: the error then names the module (unsupported.rs).
    async fn create(&mut self, name: &str, spec: &LinkKind) -> R {
        let msg = match spec {
            LinkKind::Vlan { parent, id } => {
                let p = self.index(parent).await?;
                LinkVlan::new(name, p, *id).build()
            }
            LinkKind::Bond { mode, options } => {
                // IFLA_BOND_PRIMARY is an ifindex; the kernel keeps the name, so the port need not be
                // enslaved yet.
                let primary = match &options.primary {
                    Some(p) => Some(self.index(p.as_str()).await?),
                    None => None,
                };
                bond_message(name, *mode, options, primary)
            }
            LinkKind::Bridge { stp, forward_delay } => bridge_message(name, *stp, *forward_delay),
            LinkKind::Device => {
                return Err(format!(
                    "{name} is a device; plumber does not create devices"
                ))
            }
        };
        let req = self.handle.link().add(msg);
        self.writes += 1;
        req.execute().await.map_err(|e| {
            let errno = nl_msg(&e);
            match &e {
                rtnetlink::Error::NetlinkError(m)
                    if m.to_io().raw_os_error() == Some(libc::EOPNOTSUPP) =>
                {
                    super::unsupported::explain(spec, &errno, Path::new("/sys/module"))
                        .unwrap_or(errno)
                }
                _ => errno,
            }
        })
    }

    /// What the kernel took down with a deleted link: MTU, up, addresses, then routes (which need the
    /// link up and their gateways' prefixes present).
    async fn restore(&mut self, name: &str, s: &Snapshot) -> R {
        let i = self.index(name).await?;
        if s.mtu != 0 {
            self.set(LinkUnspec::new_with_index(i).mtu(s.mtu).build())
                .await?;
        }
        if s.up {
            self.set_up(i, true).await?;
        }
        for a in &s.addresses {
            let req = self.handle.address().add(i, a.addr, a.prefix);
            self.write(req.execute()).await?;
        }
        for r in &s.routes {
            let msg = self.route(r, false).await?;
            let req = self.handle.route().add(msg);
            self.write(req.execute()).await?;
        }
        Ok(())
    }

    /// Enslaving to a bond needs the port down (the kernel refuses an up port on older kernels, and the
    /// bond opens it itself); releasing closes the port. Either way the port ends as up as it was.
    async fn set_controller(&mut self, link: &str, controller: Option<&str>) -> R {
        let port = self.link(link).await?;
        let i = port.header.index;
        let was_up = port.header.flags.contains(LinkFlags::Up);
        let msg = match controller {
            Some(c) => {
                let ctrl = self.link(c).await?;
                if was_up && is_bond(&ctrl) {
                    self.set_up(i, false).await?;
                }
                LinkUnspec::new_with_index(i)
                    .controller(ctrl.header.index)
                    .build()
            }
            None => LinkUnspec::new_with_index(i).nocontroller().build(),
        };
        let result = self.set(msg).await;
        if was_up {
            let now_up = self
                .link(link)
                .await
                .is_ok_and(|l| l.header.flags.contains(LinkFlags::Up));
            if !now_up {
                self.set_up(i, true).await?;
            }
        }
        result
    }

    async fn route(&mut self, r: &RouteSpec, delete: bool) -> R<RouteMessage> {
        let oif = self.index(&r.dev).await?;
        route_message(r, oif, delete)
    }
}

/// The bond, created down, with its options: `miimon` defaults to 100 ms (the templates' default; the
/// kernel's 0 means no link monitoring).
fn bond_message(
    name: &str,
    mode: BondMode,
    options: &BondOptions,
    primary: Option<u32>,
) -> LinkMessage {
    let mut b = LinkBond::new(name)
        .mode(NlBondMode::from(mode.kernel_number()))
        .miimon(options.miimon.map(|m| m.get()).unwrap_or(100));
    if let Some(d) = options.updelay {
        b = b.updelay(d.get());
    }
    if let Some(d) = options.downdelay {
        b = b.downdelay(d.get());
    }
    if let Some(r) = options.lacp_rate {
        b = b.ad_lacp_rate(match r {
            LacpRate::Slow => BondLacpRate::Slow,
            LacpRate::Fast => BondLacpRate::Fast,
        });
    }
    if let Some(x) = options.xmit_hash_policy {
        b = b.xmit_hash_policy(match x {
            XmitHashPolicy::Layer2 => BondXmitHashPolicy::Layer2,
            XmitHashPolicy::Layer34 => BondXmitHashPolicy::Layer34,
            XmitHashPolicy::Layer23 => BondXmitHashPolicy::Layer23,
            XmitHashPolicy::Encap23 => BondXmitHashPolicy::Encap23,
            XmitHashPolicy::Encap34 => BondXmitHashPolicy::Encap34,
        });
    }
    if let Some(p) = primary {
        b = b.primary(p);
    }
    b.build()
}

/// The bridge, created down (`LinkBridge::new` would create it up; the builder's own `new` does not).
fn bridge_message(name: &str, stp: Option<bool>, forward_delay: Option<u32>) -> LinkMessage {
    let mut b = LinkMessageBuilder::<LinkBridge>::new(name);
    if let Some(stp) = stp {
        b = b.stp_state(if stp {
            BridgeStpState::KernelStp
        } else {
            BridgeStpState::Disabled
        });
    }
    if let Some(d) = forward_delay {
        // Seconds in the templates, clock_t (1/100 s) in IFLA_BR_FORWARD_DELAY.
        b = b.forward_delay(d.saturating_mul(100));
    }
    b.build()
}

/// The route message; for deletion, protocol and scope are left open so that the kernel matches a route
/// whoever added it (`ip route` adds with proto boot, plumber with static).
fn route_message(r: &RouteSpec, oif: u32, delete: bool) -> R<RouteMessage> {
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(r.dst.addr, r.dst.prefix)
        .map_err(|e| e.to_string())?;
    if let Some(via) = r.via {
        b = b.gateway(via).map_err(|e| e.to_string())?;
    } else if r.dst.is_ipv4() {
        // As `ip route` does: a route without a gateway is on the link.
        b = b.scope(RouteScope::Link);
    }
    let mut msg = b
        .output_interface(oif)
        .priority(r.metric)
        .table_id(r.table)
        .build();
    if delete {
        msg.header.protocol = RouteProtocol::Unspec;
        msg.header.scope = RouteScope::NoWhere;
    } else {
        msg.header.protocol = match r.proto {
            RouteProto::Boot => RouteProtocol::Boot,
            RouteProto::Static => RouteProtocol::Static,
            RouteProto::Kernel => RouteProtocol::Kernel,
            RouteProto::Dhcp => RouteProtocol::Dhcp,
            RouteProto::Ra => RouteProtocol::Ra,
            RouteProto::Other => RouteProtocol::Static,
        };
    }
    Ok(msg)
}

/// Sets the link up or down.
fn up_message(index: u32, up: bool) -> LinkMessage {
    let b = LinkUnspec::new_with_index(index);
    if up { b.up() } else { b.down() }.build()
}

fn is_bond(l: &LinkMessage) -> bool {
    l.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos
            .iter()
            .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bond))),
        _ => false,
    })
}

/// With `promote_secondaries` off (the kernel's default), removing a link's primary IPv4 address also
/// removes every secondary address of its subnet, which can be addresses the templates want. Turn it on
/// for the link first, as NetworkManager does for the links it manages. Best effort: a failure here
/// shows up as a failed verification rather than an error.
fn promote_secondaries(link: &str) {
    let path = format!("/proc/sys/net/ipv4/conf/{link}/promote_secondaries");
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == "0") {
        let _ = std::fs::write(&path, "1");
    }
}

#[cfg(test)]
mod tests {
    //! The messages for what this machine's kernel cannot create (no bonding or 8021q modules here).

    use super::*;
    use plumber_render::model::IpCidr;
    use rtnetlink::packet_route::link::{InfoBond, InfoBridge, InfoData};
    use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};

    fn info_data(m: &LinkMessage) -> &InfoData {
        m.attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::LinkInfo(i) => i.iter().find_map(|i| match i {
                    LinkInfo::Data(d) => Some(d),
                    _ => None,
                }),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn bonds_carry_their_mode_and_options_and_default_miimon() {
        let options: BondOptions = serde_yaml::from_str(
            "{lacpRate: fast, xmitHashPolicy: layer3+4, updelay: 200, downdelay: 100}",
        )
        .unwrap();
        let m = bond_message("bond0", BondMode::Lacp, &options, Some(7));
        assert!(!m.header.flags.contains(LinkFlags::Up));
        let InfoData::Bond(b) = info_data(&m) else {
            panic!("{m:?}")
        };
        assert_eq!(
            b,
            &[
                InfoBond::Mode(NlBondMode::Ieee8023Ad),
                InfoBond::MiiMon(100),
                InfoBond::UpDelay(200),
                InfoBond::DownDelay(100),
                InfoBond::AdLacpRate(BondLacpRate::Fast),
                InfoBond::XmitHashPolicy(BondXmitHashPolicy::Layer34),
                InfoBond::Primary(7),
            ]
        );
        for mode in [
            BondMode::BalanceRr,
            BondMode::ActiveBackup,
            BondMode::BalanceXor,
            BondMode::Broadcast,
            BondMode::Lacp,
            BondMode::BalanceTlb,
            BondMode::BalanceAlb,
        ] {
            let m = bond_message("b", mode, &BondOptions::default(), None);
            let InfoData::Bond(b) = info_data(&m) else {
                panic!()
            };
            let InfoBond::Mode(n) = b[0] else { panic!() };
            assert_eq!(super::super::discover::bond_mode(u8::from(n)), Some(mode));
        }
    }

    #[test]
    fn bridges_are_created_down_with_stp_and_forward_delay_in_clock_ticks() {
        let m = bridge_message("br0", Some(true), Some(4));
        assert!(!m.header.flags.contains(LinkFlags::Up));
        let InfoData::Bridge(b) = info_data(&m) else {
            panic!("{m:?}")
        };
        assert_eq!(
            b,
            &[
                InfoBridge::StpState(BridgeStpState::KernelStp),
                InfoBridge::ForwardDelay(400)
            ]
        );
    }

    #[test]
    fn route_deletes_match_any_protocol_and_scope() {
        let r = RouteSpec {
            dev: "eno1".into(),
            dst: IpCidr::parse("10.1.0.0/16").unwrap(),
            via: None,
            metric: 0,
            table: 1000,
            proto: RouteProto::Static,
        };
        let add = route_message(&r, 3, false).unwrap();
        assert_eq!(add.header.protocol, RouteProtocol::Static);
        // A route put back by a rollback keeps who had installed it.
        let boot = RouteSpec {
            proto: RouteProto::Boot,
            ..r.clone()
        };
        assert_eq!(
            route_message(&boot, 3, false).unwrap().header.protocol,
            RouteProtocol::Boot
        );
        assert_eq!(boot, r, "proto is not part of a route's identity");
        assert_eq!(add.header.scope, RouteScope::Link);
        assert!(add.attributes.contains(&RouteAttribute::Table(1000)));
        assert!(add.attributes.contains(&RouteAttribute::Oif(3)));
        let del = route_message(&r, 3, true).unwrap();
        assert_eq!(del.header.protocol, RouteProtocol::Unspec);
        assert_eq!(del.header.scope, RouteScope::NoWhere);
        let r = RouteSpec {
            via: Some("fd00::1".parse().unwrap()),
            dst: IpCidr::parse("::/0").unwrap(),
            metric: 1024,
            table: 254,
            ..r
        };
        let add = route_message(&r, 3, false).unwrap();
        assert_eq!(add.header.scope, RouteScope::Universe);
        assert!(add
            .attributes
            .contains(&RouteAttribute::Gateway(RouteAddress::Inet6(
                "fd00::1".parse().unwrap()
            ))));
        assert!(add.attributes.contains(&RouteAttribute::Priority(1024)));
    }
}

#[cfg(test)]
mod fold_tests {
    use super::*;

    fn mtu(link: &str) -> Op {
        Op::SetMtu {
            link: link.into(),
            mtu: 9000,
            previous: Some(1500),
        }
    }

    fn up(link: &str) -> Op {
        Op::SetUp {
            link: link.into(),
            up: true,
        }
    }

    #[test]
    fn an_mtu_folds_with_its_links_up_across_other_links_mtu_only() {
        let none = [false; 8];
        let ops = [mtu("a"), mtu("b"), up("a"), up("b")];
        assert_eq!(up_after_mtu(&ops, 0, &none), Some(2));
        // b's up comes after a's: only once a's was carried out with its MTU.
        assert_eq!(up_after_mtu(&ops, 1, &none), None);
        assert_eq!(up_after_mtu(&ops, 1, &[false, false, true, false]), Some(3));
        assert_eq!(up_after_mtu(&ops, 2, &none), None, "not an MTU");
        // A parent's up still to come keeps its VLAN's up after it.
        let ops = [mtu("eno2.10"), up("eno2"), up("eno2.10")];
        assert_eq!(up_after_mtu(&ops, 0, &none), None);
        // Anything else in between (an address on the link, a member change) keeps them apart.
        let add = Op::AddAddress {
            link: "x".into(),
            cidr: plumber_render::model::IpCidr::parse("10.0.0.1/24").unwrap(),
        };
        assert_eq!(up_after_mtu(&[mtu("a"), add, up("a")], 0, &none), None);
        // Setting a link down is never folded.
        let down = Op::SetUp {
            link: "a".into(),
            up: false,
        };
        assert_eq!(up_after_mtu(&[mtu("a"), down], 0, &none), None);
    }
}
