//! `discover`: the node's links, addresses and routes as a [`CurrentState`], from three netlink dumps.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::{StreamExt, TryStreamExt};
use plumber_render::model::{BondMode, IpCidr};
use rtnetlink::packet_core::{
    NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
    NLM_F_DUMP, NLM_F_REQUEST,
};
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use rtnetlink::packet_route::link::{
    InfoBond, InfoData, InfoKind, InfoVlan, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo,
    LinkMessage,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteType,
};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::{protocols::NETLINK_ROUTE, SocketAddr};
use rtnetlink::Handle;

use super::{nl_err, vf};
use crate::node::state::{
    AddressState, CurrentKind, CurrentState, LinkState, RouteProto, RouteState,
};
use crate::node::{Error, Result};

/// The local table (local and broadcast addresses of the node itself), never plumber's.
const RT_TABLE_LOCAL: u32 = 255;

/// Link indexes by name.
pub type Indexes = BTreeMap<String, u32>;

/// Dumps links, addresses and routes (every table, both families).
pub async fn discover(handle: &Handle) -> Result<CurrentState> {
    Ok(discover_indexed(handle).await?.0)
}

/// [`discover`], with the links' indexes (for [`apply_with`](super::apply_with)).
pub async fn discover_indexed(handle: &Handle) -> Result<(CurrentState, Indexes)> {
    // Each dump is read as a stream and every message turned into plumber's state as it arrives, so
    // the parsed messages (a link's are several KB) are never all held at once: a node's discovery
    // used to peak at tens of MB, and what a long-running agent's heap once held it keeps in pages
    // that later stay partly used.
    let t = std::time::Instant::now();
    let links = dump_links().await?;
    crate::node::timing("dump links", t);
    let names: BTreeMap<u32, String> = links
        .iter()
        .map(|l| (l.index, l.state.name.clone()))
        .collect();
    let mut state = CurrentState::default();
    for l in links {
        let ls = l.resolved(&names);
        state.links.insert(ls.name.clone(), ls);
    }

    let t = std::time::Instant::now();
    let mut addrs = handle.address().get().execute();
    while let Some(a) = addrs
        .try_next()
        .await
        .map_err(|e| nl_err("dumping addresses", e))?
    {
        let Some(link) = names
            .get(&a.header.index)
            .and_then(|n| state.links.get_mut(n))
        else {
            continue;
        };
        if let Some(addr) = address_state(&a) {
            link.addresses.push(addr);
        }
    }

    // Dump order changes when an address is removed and added again (rollback): sort, so that two
    // discoveries of the same node compare equal.
    for l in state.links.values_mut() {
        l.addresses.sort_by_key(|a| a.cidr);
    }

    // One dump per family: an unspecified family would also dump the multicast routing families
    // (IPMR, IP6MR), which are not plumber's. The table is left unspecified: without strict checking
    // the kernel dumps every table.
    crate::node::timing("dump addresses", t);
    let t = std::time::Instant::now();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut req = RouteMessage::default();
        req.header.address_family = family;
        req.header.table = 0;
        let mut routes = handle.route().get(req).execute();
        while let Some(r) = routes
            .try_next()
            .await
            .map_err(|e| nl_err("dumping routes", e))?
        {
            if let Some(rs) = route_state(&r, &names) {
                state.routes.push(rs);
            }
        }
    }
    state.routes.sort();
    crate::node::timing("dump routes", t);
    let indexes = names.into_iter().map(|(i, n)| (n, i)).collect();
    Ok((state, indexes))
}

/// A dumped address as plumber's state; `None` for a message without an address.
pub(super) fn address_state(a: &AddressMessage) -> Option<AddressState> {
    let mut addr = None;
    let mut local = None;
    let mut flags = None;
    for attr in &a.attributes {
        match attr {
            AddressAttribute::Address(ip) => addr = Some(*ip),
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Flags(f) => flags = Some(f.contains(AddressFlags::Permanent)),
            _ => {}
        }
    }
    // IPv4 puts the node's own address in IFA_LOCAL (IFA_ADDRESS is the peer on point-to-point
    // links); IPv6 has only IFA_ADDRESS unless a peer is set.
    let ip = local.or(addr)?;
    // IFA_FLAGS (32 bits) when the kernel sends it, else the 8 bits of the header.
    let permanent = flags.unwrap_or_else(|| a.header.flags.contains(AddressHeaderFlags::Permanent));
    Some(AddressState {
        cidr: IpCidr {
            addr: ip,
            prefix: a.header.prefix_len,
        },
        dynamic: !permanent,
    })
}

/// A dumped link, before the names of the links it refers to by index are known (they may come later
/// in the dump).
#[derive(Clone)]
pub(super) struct DumpedLink {
    pub(super) index: u32,
    /// Without `controller`, and a VLAN's kind as `Other` until [`resolved`](Self::resolved).
    pub(super) state: LinkState,
    pub(super) controller: Option<u32>,
    /// A VLAN's parent (`IFLA_LINK`) and id.
    pub(super) vlan: Option<(Option<u32>, Option<u16>)>,
}

impl DumpedLink {
    /// The link's state with its controller and VLAN parent named; an index with no link here (the
    /// parent can be in another namespace) names none.
    pub(super) fn resolved(self, names: &BTreeMap<u32, String>) -> LinkState {
        let mut ls = self.state;
        ls.controller = self.controller.and_then(|i| names.get(&i).cloned());
        if let Some((lower, Some(id))) = self.vlan {
            if let Some(parent) = lower.and_then(|i| names.get(&i).cloned()) {
                ls.kind = CurrentKind::Vlan { parent, id };
            }
        }
        ls
    }
}

fn link_name(l: &LinkMessage) -> Option<&str> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

fn dumped_link(l: &LinkMessage) -> Option<DumpedLink> {
    let name = link_name(l)?.to_string();
    let mut mtu = 0;
    let mut controller = None;
    let mut lower = None;
    let mut kind = None;
    let mut data = None;
    for a in &l.attributes {
        match a {
            LinkAttribute::Mtu(m) => mtu = *m,
            LinkAttribute::Controller(i) if *i != 0 => controller = Some(*i),
            LinkAttribute::Link(i) => lower = Some(*i),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    match i {
                        LinkInfo::Kind(k) => kind = Some(k),
                        LinkInfo::Data(d) => data = Some(d),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let current_kind = match kind {
        None => CurrentKind::Device,
        // Named once every link is known (DumpedLink::resolved).
        Some(InfoKind::Vlan) => CurrentKind::Other {
            kind: "vlan".into(),
        },
        Some(InfoKind::Bond) => {
            let mode = match data {
                Some(InfoData::Bond(b)) => b.iter().find_map(|i| match i {
                    InfoBond::Mode(m) => bond_mode(u8::from(*m)),
                    _ => None,
                }),
                _ => None,
            };
            // Mode 0 (balance-rr) is the kernel's default and is always reported.
            CurrentKind::Bond {
                mode: mode.unwrap_or(BondMode::BalanceRr),
            }
        }
        Some(InfoKind::Bridge) => CurrentKind::Bridge,
        Some(k) => CurrentKind::Other {
            kind: k.to_string(),
        },
    };
    // The parent of a VLAN is IFLA_LINK; it can be in another namespace, then it has no name here.
    let vlan = matches!(kind, Some(InfoKind::Vlan)).then(|| {
        let id = match data {
            Some(InfoData::Vlan(v)) => v.iter().find_map(|i| match i {
                InfoVlan::Id(id) => Some(*id),
                _ => None,
            }),
            _ => None,
        };
        (lower, id)
    });
    Some(DumpedLink {
        index: l.header.index,
        state: LinkState {
            name,
            kind: current_kind,
            mtu,
            up: l.header.flags.contains(LinkFlags::Up),
            controller: None,
            addresses: Vec::new(),
            vfs: Vec::new(),
        },
        controller,
        vlan,
    })
}

/// An rtnetlink message kept as bytes: its type and the payload after the netlink header.
#[derive(Debug, Clone)]
pub(super) struct RawRtnl {
    pub(super) kind: u16,
    pub(super) payload: Vec<u8>,
}

impl NetlinkSerializable for RawRtnl {
    fn message_type(&self) -> u16 {
        self.kind
    }
    fn buffer_len(&self) -> usize {
        self.payload.len()
    }
    fn serialize(&self, buffer: &mut [u8]) {
        buffer.copy_from_slice(&self.payload)
    }
}

impl NetlinkDeserializable for RawRtnl {
    type Error = std::convert::Infallible;
    fn deserialize(
        header: &NetlinkHeader,
        payload: &[u8],
    ) -> std::result::Result<Self, Self::Error> {
        Ok(RawRtnl {
            kind: header.message_type,
            payload: payload.to_vec(),
        })
    }
}

/// An `RTM_GETLINK` for what plumber reads: VF info (`RTEXT_FILTER_VF`) without the VFs' statistics nor
/// the link's (`RTEXT_FILTER_SKIP_STATS`).
pub(super) fn link_request() -> LinkMessage {
    let mut get = LinkMessage::default();
    get.attributes.push(LinkAttribute::ExtMask(vec![
        LinkExtentMask::Vf,
        LinkExtentMask::SkipStats,
    ]));
    get
}

/// `msg` as a raw request with netlink `flags`, ready to send.
pub(super) fn raw_request(msg: &RouteNetlinkMessage, flags: u16) -> NetlinkMessage<RawRtnl> {
    let mut payload = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut payload);
    let mut req = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(RawRtnl {
            kind: msg.message_type(),
            payload,
        }),
    );
    req.header.flags = flags;
    req.finalize();
    req
}

/// Dumps every link with its VF info (`RTEXT_FILTER_VF`, without VF stats), each parsed as a
/// [`LinkMessage`] and turned into a [`DumpedLink`] as it arrives, with, from the same bytes, its VFs ([`vf::vfs_of_bytes`]: netlink-packet-route's parse
/// turns the kernel's "not reported" spoofchk/trust into `false`, so the raw message is needed).
///
/// Through a socket of its own, opened in the calling thread's network namespace (the handle's
/// connection only hands out parsed messages); it is closed when the dump ends. A message that does not
/// parse as a link is skipped, as rtnetlink's own dump does.
async fn dump_links() -> Result<Vec<DumpedLink>> {
    let what = "dumping links";
    let (conn, handle, _) = rtnetlink::proto::new_connection::<RawRtnl>(NETLINK_ROUTE)
        .map_err(|e| Error::Netlink(format!("{what}: opening a netlink socket: {e}")))?;
    let conn = tokio::spawn(conn);

    let req = raw_request(
        &RouteNetlinkMessage::GetLink(link_request()),
        NLM_F_REQUEST | NLM_F_DUMP,
    );

    let mut replies = handle
        .request(req, SocketAddr::new(0, 0))
        .map_err(|e| Error::Netlink(format!("{what}: {e}")))?;
    let mut links = Vec::new();
    let mut failed = None;
    while let Some(msg) = replies.next().await {
        match msg.payload {
            NetlinkPayload::InnerMessage(raw) => links.extend(parsed_link(&msg.header, &raw)),
            NetlinkPayload::Error(e) if e.code.is_some() => {
                failed.get_or_insert_with(|| e.to_io().to_string());
            }
            _ => {}
        }
    }
    // Every reply is in: the connection has nothing left to do.
    conn.abort();
    match failed {
        Some(e) => Err(Error::Netlink(format!("{what}: {e}"))),
        None => Ok(links),
    }
}

/// A link message as a [`DumpedLink`], with its VFs read from the raw bytes ([`vf::vfs_of_bytes`]); `None`
/// when it does not parse as a link (skipped, as rtnetlink's own dump does).
pub(super) fn parsed_link(header: &NetlinkHeader, raw: &RawRtnl) -> Option<DumpedLink> {
    let vfs = vf::vfs_of_bytes(&raw.payload);
    let lean = without_unused_attributes(&raw.payload);
    let Ok(RouteNetlinkMessage::NewLink(l)) = RouteNetlinkMessage::deserialize(header, &lean)
    else {
        return None;
    };
    let mut d = dumped_link(&l)?;
    d.state.vfs = vfs;
    Some(d)
}

/// Link attributes plumber does not read: `IFLA_STATS` (7), `IFLA_VFINFO_LIST` (22, read from the raw
/// bytes by [`vf::vfs_of_bytes`]), `IFLA_STATS64` (23), `IFLA_VF_PORTS` (24), `IFLA_AF_SPEC` (26, the
/// per-family settings: the largest attribute, and netlink-packet-route formats an error context for
/// every one of its fields while parsing, which made parsing it most of discovery's time).
const UNUSED_LINK_ATTRIBUTES: [u16; 5] = [7, 22, 23, 24, 26];

/// An `RTM_NEWLINK` payload (ifinfomsg, then attributes) without [`UNUSED_LINK_ATTRIBUTES`]. A
/// malformed attribute list is returned as is, for the parser to report.
fn without_unused_attributes(payload: &[u8]) -> Vec<u8> {
    const IFINFOMSG: usize = 16;
    if payload.len() < IFINFOMSG {
        return payload.to_vec();
    }
    let mut out = Vec::with_capacity(payload.len());
    out.extend_from_slice(&payload[..IFINFOMSG]);
    let mut at = IFINFOMSG;
    while at + 4 <= payload.len() {
        let len = u16::from_ne_bytes([payload[at], payload[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([payload[at + 2], payload[at + 3]]) & 0x3fff;
        if len < 4 || at + len > payload.len() {
            return payload.to_vec();
        }
        let next = (at + len + 3) & !3;
        if !UNUSED_LINK_ATTRIBUTES.contains(&kind) {
            out.extend_from_slice(&payload[at..next.min(payload.len())]);
        }
        at = next;
    }
    out
}

/// `IFLA_BOND_MODE` to the template's mode.
pub(crate) fn bond_mode(n: u8) -> Option<BondMode> {
    Some(match n {
        0 => BondMode::BalanceRr,
        1 => BondMode::ActiveBackup,
        2 => BondMode::BalanceXor,
        3 => BondMode::Broadcast,
        4 => BondMode::Lacp,
        5 => BondMode::BalanceTlb,
        6 => BondMode::BalanceAlb,
        _ => return None,
    })
}

pub(super) fn route_state(r: &RouteMessage, names: &BTreeMap<u32, String>) -> Option<RouteState> {
    if r.header.kind != RouteType::Unicast {
        return None;
    }
    let v6 = match r.header.address_family {
        AddressFamily::Inet => false,
        AddressFamily::Inet6 => true,
        _ => return None,
    };
    let mut table = u32::from(r.header.table);
    let mut dst = None;
    let mut via = None;
    let mut metric = None;
    let mut oif = None;
    let mut src = None;
    for a in &r.attributes {
        match a {
            RouteAttribute::PrefSource(s) => src = ip(s),
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(d) => dst = ip(d),
            RouteAttribute::Gateway(g) => via = ip(g),
            RouteAttribute::Priority(p) => metric = Some(*p),
            RouteAttribute::Oif(i) => oif = Some(*i),
            _ => {}
        }
    }
    if table == RT_TABLE_LOCAL {
        return None;
    }
    // Multipath routes have no RTA_OIF (their hops are in RTA_MULTIPATH): not plumber's to manage.
    let dev = names.get(&oif?)?.clone();
    let addr = dst.unwrap_or(if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    });
    if match addr {
        IpAddr::V4(a) => a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    } {
        return None;
    }
    let proto = match r.header.protocol {
        RouteProtocol::Kernel => RouteProto::Kernel,
        RouteProtocol::Boot => RouteProto::Boot,
        RouteProtocol::Static => RouteProto::Static,
        RouteProtocol::Dhcp => RouteProto::Dhcp,
        RouteProtocol::Ra => RouteProto::Ra,
        _ => RouteProto::Other,
    };
    Some(RouteState {
        dev,
        dst: IpCidr {
            addr,
            prefix: r.header.destination_prefix_length,
        },
        via,
        metric,
        table,
        src,
        proto,
    })
}

fn ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumped(
        index: u32,
        name: &str,
        controller: Option<u32>,
        vlan: Option<(Option<u32>, Option<u16>)>,
    ) -> DumpedLink {
        DumpedLink {
            index,
            state: LinkState {
                name: name.into(),
                kind: if vlan.is_some() {
                    CurrentKind::Other {
                        kind: "vlan".into(),
                    }
                } else {
                    CurrentKind::Device
                },
                mtu: 1500,
                up: true,
                controller: None,
                addresses: Vec::new(),
                vfs: Vec::new(),
            },
            controller,
            vlan,
        }
    }

    /// Links refer to others by index, and a dump can list a VLAN or a bridge member before the link it
    /// names: names are resolved once the whole dump is in; an index with no link in this namespace
    /// names none (a VLAN then stays `Other`, as the kernel reports no parent plumber could manage).
    #[test]
    fn indexes_resolve_to_names_once_every_link_is_known() {
        let names: BTreeMap<u32, String> = [(2, "eth0"), (7, "br0")]
            .map(|(i, n)| (i, n.to_string()))
            .into();
        let vlan = dumped(5, "eth0.100", Some(7), Some((Some(2), Some(100)))).resolved(&names);
        assert_eq!(
            vlan.kind,
            CurrentKind::Vlan {
                parent: "eth0".into(),
                id: 100
            }
        );
        assert_eq!(vlan.controller.as_deref(), Some("br0"));

        let elsewhere = dumped(6, "v9", Some(99), Some((Some(42), Some(9)))).resolved(&names);
        assert_eq!(
            elsewhere.kind,
            CurrentKind::Other {
                kind: "vlan".into()
            }
        );
        assert_eq!(elsewhere.controller, None);
        let no_id = dumped(8, "v8", None, Some((Some(2), None))).resolved(&names);
        assert!(matches!(no_id.kind, CurrentKind::Other { .. }));
    }
}
