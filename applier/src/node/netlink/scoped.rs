//! A scoped discovery: the links an apply names and what hangs off them, instead of the whole node.
//!
//! A link dump makes the kernel fill every link's message (most of a discovery's time in a namespace
//! of a thousand links, where `ip -j link` takes as long); the links a plan reads are named
//! ([`crate::node::plan::scope`]). [`Scoped`] asks for those by name, then for what the kernel knows
//! from them, until nothing new comes:
//! - each by name (`RTM_GETLINK` with `IFLA_IFNAME`, pipelined: [`WINDOW`] in flight); ENODEV is a link
//!   the node does not have;
//! - the VLANs on a link fetched by name, and on those VLANs: one dump filtered by kind
//!   (`IFLA_LINKINFO`/`IFLA_INFO_KIND` `vlan`), kept for the whole discovery. The kernel filters by kind
//!   only when the kind's module is loaded (`linkinfo_to_kind_ops`): without 8021q it dumps every link,
//!   so the dump is skipped when the namespace has `/proc/net` but no `/proc/net/vlan` (8021q makes it in every
//!   namespace when loaded: without it there is no VLAN), and its answer is filtered here by kind too;
//! - the members of a bond or bridge fetched by name: a dump filtered by `IFLA_MASTER`, which the
//!   kernel applies whatever the kind (and checked here again);
//! - the links they name by index, so that they can be named: a controller, a VLAN's parent and its
//!   parent (`RTM_GETLINK` by `ifi_index`; ENODEV: in another namespace, named by none, as a full
//!   discovery leaves it);
//! - their addresses and routes: with few links, dumps filtered in the kernel by link
//!   (`NETLINK_GET_STRICT_CHK`, which makes the kernel read `ifa_index` of an address dump and `RTA_OIF`
//!   of a route dump; without it both are ignored), one per link and family; with many, one dump per
//!   kind and family as [`discover`](fn@super::discover) does, kept for the scoped links only (a filtered
//!   dump walks every route of every table, and dumps cannot be pipelined: a socket has one at a time);
//!   route dumps ask the kernel for unicast routes only (`rtm_type`, also a strict-check filter).
//!
//! Every link, address and route found is exactly what a full discovery reports for it (the same
//! requests' answers, parsed the same way). What is left out is every other link and what is on it.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use rtnetlink::packet_core::NetlinkDeserializable;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST};
use rtnetlink::packet_route::address::AddressMessage;
use rtnetlink::packet_route::link::{InfoKind, LinkAttribute, LinkInfo};
use rtnetlink::packet_route::route::{RouteAttribute, RouteMessage, RouteType};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::proto::ConnectionHandle;
use rtnetlink::sys::{protocols::NETLINK_ROUTE, AsyncSocket, SocketAddr};

use super::discover::{
    address_state, link_request, parsed_link, raw_request, route_state, DumpedLink, Indexes,
    RawRtnl,
};
use crate::node::state::{AddressState, CurrentKind, CurrentState};
use crate::node::{Error, Result};

/// `GETLINK` requests in flight at most. Each answer waits in the socket's receive buffer (208 KiB by
/// default) until the connection reads it, and one that does not fit is dropped by the kernel: a
/// link's message is 1 to 3 KB without statistics, a PF's grows by a few hundred bytes per VF. A
/// dropped answer fails the request or leaves it unanswered: the apply then gives up on the scoped
/// discovery (at once, or after `apply::discover`'s `SCOPED_MAX`) and discovers the whole node.
const WINDOW: usize = 16;

/// Up to this many links, their addresses and routes come from dumps filtered by link; past it, from
/// whole dumps kept for them (see the module doc).
const FILTERED_DUMPS_UP_TO: usize = 16;

/// `ENODEV`: no such link.
const ENODEV: i32 = 19;

/// A scoped discovery in progress: the links found so far, by index.
pub struct Scoped {
    handle: ConnectionHandle<RawRtnl>,
    conn: tokio::task::JoinHandle<()>,
    links: BTreeMap<u32, DumpedLink>,
    /// Names asked for, found or not.
    asked: BTreeSet<String>,
    /// The links whose members and VLANs were fetched (each link asked for by name, each VLAN on one).
    expanded: BTreeSet<u32>,
    /// Indexes asked for that are not in this namespace.
    elsewhere: BTreeSet<u32>,
    /// The namespace's VLANs, dumped once when first needed.
    vlans: Option<Vec<DumpedLink>>,
    /// The addresses of each link, once read.
    addresses: BTreeMap<u32, Vec<AddressState>>,
}

impl Drop for Scoped {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl Scoped {
    /// Opens the discovery's socket (strict checking on) in the calling thread's namespace.
    pub fn new() -> Result<Scoped> {
        let (mut conn, handle, _) = rtnetlink::proto::new_connection::<RawRtnl>(NETLINK_ROUTE)
            .map_err(|e| Error::Netlink(format!("opening a netlink socket: {e}")))?;
        conn.socket_mut()
            .socket_ref()
            .set_netlink_get_strict_chk(true)
            .map_err(|e| Error::Netlink(format!("NETLINK_GET_STRICT_CHK: {e}")))?;
        Ok(Scoped {
            handle,
            conn: tokio::spawn(conn),
            links: BTreeMap::new(),
            asked: BTreeSet::new(),
            expanded: BTreeSet::new(),
            elsewhere: BTreeSet::new(),
            vlans: None,
            addresses: BTreeMap::new(),
        })
    }

    /// Adds the links `names` (those not asked for before) and what hangs off them (the module doc),
    /// with their addresses.
    pub async fn add(&mut self, names: &BTreeSet<String>) -> Result<()> {
        let t = std::time::Instant::now();
        let new: Vec<String> = names.difference(&self.asked).cloned().collect();
        self.asked.extend(new.iter().cloned());
        let answered = self
            .get_links(new.into_iter().map(Key::Name).collect())
            .await?;
        let mut fresh: Vec<u32> = answered.iter().filter(|a| a.1).map(|a| a.0).collect();
        // Hanging off the links asked for by name, each link once (one found by index before, a
        // controller, can be named later): the members of a bond or bridge, the VLANs on it and on
        // those VLANs.
        let roots: Vec<u32> = answered
            .into_iter()
            .map(|(i, _)| i)
            .filter(|i| self.expanded.insert(*i))
            .collect();
        for &i in &roots {
            let kind = &self.links[&i].state.kind;
            if matches!(kind, CurrentKind::Bond { .. } | CurrentKind::Bridge) {
                for m in self.members_of(i).await? {
                    fresh.extend(self.insert(m));
                }
            }
        }
        let stacked: Vec<DumpedLink> = stacked_on(self.vlans().await?, &roots)
            .into_iter()
            .cloned()
            .collect();
        for v in stacked {
            self.expanded.insert(v.index);
            fresh.extend(self.insert(v));
        }

        // The links named by index, until every index is known or elsewhere.
        let mut named = fresh.clone();
        while !named.is_empty() {
            let wanted: BTreeSet<u32> = named
                .iter()
                .filter_map(|i| self.links.get(i))
                .flat_map(|l| [l.controller, l.vlan.and_then(|(lower, _)| lower)])
                .flatten()
                .filter(|i| !self.links.contains_key(i) && !self.elsewhere.contains(i))
                .collect();
            named = self
                .get_links(wanted.into_iter().map(Key::Index).collect())
                .await?
                .into_iter()
                .filter(|a| a.1)
                .map(|a| a.0)
                .collect();
            fresh.extend(named.iter().copied());
        }
        crate::node::timing("scoped: links", t);
        let t = std::time::Instant::now();
        let read = self.read_addresses(&fresh).await;
        crate::node::timing("scoped: addresses", t);
        read
    }

    /// The links and addresses found so far, without routes (for the inventory, before the templates
    /// that name the rest are merged).
    pub fn state(&self) -> CurrentState {
        self.assemble().0
    }

    /// Reads the routes that leave by the links found and ends the discovery: the node as far as it was
    /// asked for, and the indexes of its links.
    pub async fn finish(self) -> Result<(CurrentState, Indexes)> {
        let (mut state, names) = self.assemble();
        let indexes: BTreeSet<u32> = names.keys().copied().collect();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut req = RouteMessage::default();
            req.header.address_family = family;
            // Unicast only, as plumber reads them: the kernel then skips the local table's local and
            // broadcast routes and IPv6's multicast ones (most of a node's routes) without filling them.
            req.header.kind = RouteType::Unicast;
            if indexes.len() <= FILTERED_DUMPS_UP_TO {
                for &i in &indexes {
                    let mut req = req.clone();
                    req.attributes.push(RouteAttribute::Oif(i));
                    for m in self
                        .dump(RouteNetlinkMessage::GetRoute(req), "routes")
                        .await?
                    {
                        if let Some(r) = route_of(&m).and_then(|r| route_state(&r, &names)) {
                            state.routes.push(r);
                        }
                    }
                }
            } else {
                for m in self
                    .dump(RouteNetlinkMessage::GetRoute(req), "routes")
                    .await?
                {
                    // Most of a whole dump leaves by other links (and the local table): not parsed.
                    if !oif_of(&m).is_some_and(|i| names.contains_key(&i)) {
                        continue;
                    }
                    if let Some(r) = route_of(&m).and_then(|r| route_state(&r, &names)) {
                        state.routes.push(r);
                    }
                }
            }
        }
        state.routes.sort();
        let indexes = names.into_iter().map(|(i, n)| (n, i)).collect();
        Ok((state, indexes))
    }

    /// The state of the links found, with their addresses, and their names by index.
    fn assemble(&self) -> (CurrentState, BTreeMap<u32, String>) {
        let names: BTreeMap<u32, String> = self
            .links
            .iter()
            .map(|(i, l)| (*i, l.state.name.clone()))
            .collect();
        let mut state = CurrentState::default();
        for (i, l) in &self.links {
            let mut ls = l.clone().resolved(&names);
            ls.addresses = self.addresses.get(i).cloned().unwrap_or_default();
            state.links.insert(ls.name.clone(), ls);
        }
        (state, names)
    }

    /// Keeps `l` unless it is known; its index when it is new.
    fn insert(&mut self, l: DumpedLink) -> Option<u32> {
        let i = l.index;
        if self.links.contains_key(&i) {
            return None;
        }
        self.links.insert(i, l);
        Some(i)
    }

    /// Fetches the links `keys` that exist (pipelined) and keeps the new ones; the index of each link
    /// found, and whether it is new.
    async fn get_links(&mut self, keys: Vec<Key>) -> Result<Vec<(u32, bool)>> {
        let handle = self.handle.clone();
        let mut answers = futures::stream::iter(keys.into_iter().map(|key| {
            let handle = handle.clone();
            async move {
                let mut get = link_request();
                match &key {
                    Key::Name(n) => get.attributes.push(LinkAttribute::IfName(n.clone())),
                    Key::Index(i) => get.header.index = *i,
                }
                let req = raw_request(&RouteNetlinkMessage::GetLink(get), NLM_F_REQUEST);
                (key, collect(&handle, req).await)
            }
        }))
        .buffered(WINDOW);
        let mut found = Vec::new();
        while let Some((key, answer)) = answers.next().await {
            let link = match answer {
                Ok(msgs) => msgs
                    .iter()
                    .find_map(|m| match &m.payload {
                        NetlinkPayload::InnerMessage(raw) => parsed_link(&m.header, raw),
                        _ => None,
                    })
                    .ok_or_else(|| Error::Netlink(format!("getting link {key}: no answer")))?,
                Err(Refused(ENODEV)) => {
                    if let Key::Index(i) = key {
                        self.elsewhere.insert(i);
                    }
                    continue;
                }
                Err(e) => return Err(Error::Netlink(format!("getting link {key}: {e}"))),
            };
            let i = link.index;
            found.push((i, self.insert(link).is_some()));
        }
        Ok(found)
    }

    /// The links whose controller is link `index` (a dump the kernel filters by `IFLA_MASTER`).
    async fn members_of(&self, index: u32) -> Result<Vec<DumpedLink>> {
        let mut get = link_request();
        get.attributes.push(LinkAttribute::Controller(index));
        let msgs = self
            .dump(RouteNetlinkMessage::GetLink(get), "links")
            .await?;
        Ok(links_of(&msgs)
            .filter(|l| l.controller == Some(index))
            .collect())
    }

    /// The namespace's VLANs (dumped on first use; none without 8021q, see the module doc).
    async fn vlans(&mut self) -> Result<&[DumpedLink]> {
        if self.vlans.is_none() {
            // Skipped only when /proc says so: a /proc without `net` (not mounted) proves nothing.
            let proc_net = std::path::Path::new("/proc/net");
            let no_8021q = proc_net.join("dev").exists() && !proc_net.join("vlan").exists();
            let vlans = if !no_8021q {
                let mut get = link_request();
                get.attributes
                    .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                        InfoKind::Vlan,
                    )]));
                let msgs = self
                    .dump(RouteNetlinkMessage::GetLink(get), "links")
                    .await?;
                links_of(&msgs).filter(|l| l.vlan.is_some()).collect()
            } else {
                Vec::new()
            };
            self.vlans = Some(vlans);
        }
        Ok(self.vlans.as_deref().unwrap_or_default())
    }

    /// Reads the addresses of the links `indexes` (see the module doc for how).
    async fn read_addresses(&mut self, indexes: &[u32]) -> Result<()> {
        if indexes.is_empty() {
            return Ok(());
        }
        let wanted: BTreeSet<u32> = indexes.iter().copied().collect();
        let mut found: BTreeMap<u32, Vec<AddressState>> =
            wanted.iter().map(|i| (*i, Vec::new())).collect();
        let mut keep = |msgs: Vec<NetlinkMessage<RawRtnl>>| {
            for m in &msgs {
                if !index_of(m).is_some_and(|i| found.contains_key(&i)) {
                    continue;
                }
                let Some(a) = address_of(m) else { continue };
                if let (Some(list), Some(s)) = (found.get_mut(&a.header.index), address_state(&a)) {
                    list.push(s);
                }
            }
        };
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut req = AddressMessage::default();
            req.header.family = family;
            if wanted.len() <= FILTERED_DUMPS_UP_TO {
                for &i in &wanted {
                    let mut req = req.clone();
                    req.header.index = i;
                    keep(
                        self.dump(RouteNetlinkMessage::GetAddress(req), "addresses")
                            .await?,
                    );
                }
            } else {
                keep(
                    self.dump(RouteNetlinkMessage::GetAddress(req), "addresses")
                        .await?,
                );
            }
        }
        // Sorted as a full discovery sorts them.
        for (i, mut list) in found {
            list.sort_by_key(|a| a.cidr);
            self.addresses.insert(i, list);
        }
        Ok(())
    }

    /// Every message of a dump of `msg`; the kernel's refusal as an error.
    async fn dump(
        &self,
        msg: RouteNetlinkMessage,
        what: &str,
    ) -> Result<Vec<NetlinkMessage<RawRtnl>>> {
        collect(&self.handle, raw_request(&msg, NLM_F_REQUEST | NLM_F_DUMP))
            .await
            .map_err(|e| Error::Netlink(format!("dumping {what}: {e}")))
    }
}

/// A link asked for by name or by index.
#[derive(Debug)]
enum Key {
    Name(String),
    Index(u32),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Name(n) => write!(f, "{n}"),
            Key::Index(i) => write!(f, "index {i}"),
        }
    }
}

/// The kernel refused a request: its errno.
#[derive(Debug)]
struct Refused(i32);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", std::io::Error::from_raw_os_error(self.0))
    }
}

/// Sends `req` and collects its answers until the stream ends (the answer, or a dump's DONE); the
/// kernel's error as [`Refused`] (-1 when the request could not be sent).
async fn collect(
    handle: &ConnectionHandle<RawRtnl>,
    req: NetlinkMessage<RawRtnl>,
) -> std::result::Result<Vec<NetlinkMessage<RawRtnl>>, Refused> {
    let mut answers = handle
        .request(req, SocketAddr::new(0, 0))
        .map_err(|_| Refused(-1))?;
    let mut out = Vec::new();
    let mut refused = None;
    while let Some(m) = answers.next().await {
        match &m.payload {
            NetlinkPayload::Error(e) => {
                if let Some(code) = e.code {
                    refused.get_or_insert(-code.get());
                }
            }
            NetlinkPayload::InnerMessage(_) => out.push(m),
            _ => {}
        }
    }
    match refused {
        Some(code) => Err(Refused(code)),
        None => Ok(out),
    }
}

fn links_of(msgs: &[NetlinkMessage<RawRtnl>]) -> impl Iterator<Item = DumpedLink> + '_ {
    msgs.iter().filter_map(|m| match &m.payload {
        NetlinkPayload::InnerMessage(raw) => parsed_link(&m.header, raw),
        _ => None,
    })
}

/// A raw answer parsed as the rtnetlink message it is (`None` for a control message or one that does
/// not parse).
fn parsed(m: &NetlinkMessage<RawRtnl>) -> Option<RouteNetlinkMessage> {
    let NetlinkPayload::InnerMessage(raw) = &m.payload else {
        return None;
    };
    RouteNetlinkMessage::deserialize(&m.header, &raw.payload).ok()
}

fn address_of(m: &NetlinkMessage<RawRtnl>) -> Option<AddressMessage> {
    match parsed(m)? {
        RouteNetlinkMessage::NewAddress(a) => Some(a),
        _ => None,
    }
}

fn route_of(m: &NetlinkMessage<RawRtnl>) -> Option<RouteMessage> {
    match parsed(m)? {
        RouteNetlinkMessage::NewRoute(r) => Some(r),
        _ => None,
    }
}

/// The VLANs of `vlans` stacked on one of the links `roots`, and on those VLANs, at any depth; each
/// once, nearest first.
fn stacked_on<'a>(vlans: &'a [DumpedLink], roots: &[u32]) -> Vec<&'a DumpedLink> {
    let mut seen: BTreeSet<u32> = roots.iter().copied().collect();
    let mut out: Vec<&DumpedLink> = Vec::new();
    let mut on: Vec<u32> = roots.to_vec();
    while !on.is_empty() {
        let next: Vec<&DumpedLink> = vlans
            .iter()
            .filter(|v| matches!(v.vlan, Some((Some(lower), _)) if on.contains(&lower)))
            .filter(|v| seen.insert(v.index))
            .collect();
        on = next.iter().map(|v| v.index).collect();
        out.extend(next);
    }
    out
}

/// `RTA_OIF`: the link a route message leaves by, read from its bytes (a route without it, multipath,
/// is none plumber reads: [`route_state`]), so that the routes of other links are not parsed.
fn oif_of(m: &NetlinkMessage<RawRtnl>) -> Option<u32> {
    /// `sizeof(struct rtmsg)`, then the attributes.
    const RTMSG_LEN: usize = 12;
    const RTA_OIF: u16 = 4;
    let NetlinkPayload::InnerMessage(raw) = &m.payload else {
        return None;
    };
    let attrs = raw.payload.get(RTMSG_LEN..)?;
    let mut at = 0;
    while at + 4 <= attrs.len() {
        let len = u16::from_ne_bytes([attrs[at], attrs[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[at + 2], attrs[at + 3]]) & 0x3fff;
        if len < 4 || at + len > attrs.len() {
            return None;
        }
        if kind == RTA_OIF && len == 8 {
            let v = &attrs[at + 4..at + 8];
            return Some(u32::from_ne_bytes([v[0], v[1], v[2], v[3]]));
        }
        at = (at + len + 3) & !3;
    }
    None
}

/// `ifa_index`: the link of an address message (`struct ifaddrmsg`: family, prefix length, flags,
/// scope, then the index), read from its bytes.
fn index_of(m: &NetlinkMessage<RawRtnl>) -> Option<u32> {
    let NetlinkPayload::InnerMessage(raw) = &m.payload else {
        return None;
    };
    let v = raw.payload.get(4..8)?;
    Some(u32::from_ne_bytes([v[0], v[1], v[2], v[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::state::LinkState;

    fn vlan(index: u32, lower: u32) -> DumpedLink {
        DumpedLink {
            index,
            state: LinkState {
                name: format!("vlan{index}"),
                kind: CurrentKind::Other {
                    kind: "vlan".into(),
                },
                mtu: 1500,
                up: true,
                controller: None,
                addresses: Vec::new(),
                vfs: Vec::new(),
            },
            controller: None,
            vlan: Some((Some(lower), Some(index as u16))),
        }
    }

    /// A link that is deleted takes every VLAN stacked on it, at any depth (QinQ): all of them are
    /// read; the VLANs of other links are not.
    #[test]
    fn the_vlans_stacked_on_a_link_at_any_depth_and_no_others() {
        let vlans = [
            vlan(10, 2),
            vlan(11, 10),
            vlan(12, 99),
            vlan(13, 11),
            vlan(14, 2),
        ];
        let found: Vec<u32> = stacked_on(&vlans, &[2]).iter().map(|v| v.index).collect();
        assert_eq!(found, [10, 14, 11, 13]);
        assert!(stacked_on(&vlans, &[3]).is_empty());
        let both: Vec<u32> = stacked_on(&vlans, &[99, 13])
            .iter()
            .map(|v| v.index)
            .collect();
        assert_eq!(both, [12]);
    }
}
