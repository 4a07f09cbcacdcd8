//! Asking the kernel's neighbour machinery (ARP, IPv6 ND) whether a next hop answers, for the
//! connectivity guard ([`crate::node::guard`]).
//!
//! [`confirm`] makes the kernel resolve the neighbour afresh and waits for its verdict: an entry that
//! exists is set to `NUD_PROBE` (`ip neigh change ADDR dev DEV nud probe`: the kernel sends unicast
//! probes at once, keeping the entry's link-layer address and traffic flowing), an entry that does
//! not, or that failed, is resolved with `NTF_USE` (what sending a packet to it would do: `INCOMPLETE`
//! and broadcast probes). Then the entry's state is read (`RTM_GETNEIGH` for that address on that link)
//! each time the kernel announces a neighbour change, until it says `REACHABLE` (the neighbour
//! answered just now) or `FAILED` (it did not, after the kernel's own probes: `ucast_solicit` /
//! `mcast_solicit` × `retrans_time`, 3 s by default), or the deadline passes.
//!
//! A cached `REACHABLE`, `STALE` or `DELAY` entry is not taken as an answer: it says the neighbour
//! answered earlier, and a link just enslaved to a bridge keeps its `REACHABLE` entries for up to
//! 45 s after the path is gone. Static entries (`PERMANENT`, `NOARP`) are not probed by the kernel;
//! they count as answers.

use std::net::IpAddr;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use rtnetlink::constants::RTMGRP_NEIGH;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::sys::{AsyncSocket, SocketAddr};
use tokio::time::Instant;

use super::nl_msg;
use crate::node::{Error, Result};

/// How long to wait for a neighbour notification before reading the entry again anyway (a lost
/// notification, an overrun receive buffer).
const BACKSTOP: Duration = Duration::from_millis(250);

/// The kernel's verdict on a neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It answered the probe (`REACHABLE`), or is a static entry (`PERMANENT`, `NOARP`).
    Answered,
    /// The kernel gave up (`FAILED`).
    Failed,
    /// The deadline passed with the probe still under way (the state it was in).
    Pending(&'static str),
}

/// Makes the kernel probe `ip` on link `index` afresh and waits for its verdict until `deadline` (see
/// the module doc). Opens a socket of its own, subscribed to neighbour notifications, in the calling
/// thread's network namespace.
pub async fn confirm(index: u32, ip: IpAddr, deadline: Instant) -> Result<Verdict> {
    let what = format!("probing neighbour {ip} on link {index}");
    let (mut conn, mut handle, mut notices) = rtnetlink::new_connection()
        .map_err(|e| Error::Netlink(format!("{what}: opening a netlink socket: {e}")))?;
    conn.socket_mut()
        .socket_mut()
        .bind(&SocketAddr::new(0, RTMGRP_NEIGH))
        .map_err(|e| {
            Error::Netlink(format!(
                "{what}: subscribing to neighbour notifications: {e}"
            ))
        })?;
    let conn = tokio::spawn(conn);
    let result = async {
        let now = state(&mut handle, index, ip).await?;
        match now {
            Some(NeighbourState::Permanent | NeighbourState::Noarp) => {
                return Ok(Verdict::Answered);
            }
            Some(
                NeighbourState::Reachable
                | NeighbourState::Stale
                | NeighbourState::Delay
                | NeighbourState::Probe,
            ) => {
                let req = handle
                    .neighbours()
                    .add(index, ip)
                    .state(NeighbourState::Probe)
                    .replace();
                if let Err(e) = req.execute().await {
                    // A kernel that refuses NUD_PROBE from user space: the entry is probed when its
                    // state runs out (DELAY, then PROBE) once something uses it.
                    tracing::debug!(%ip, error = %nl_msg(&e), "setting the neighbour to PROBE");
                    resolve(&handle, index, ip).await?;
                }
            }
            // INCOMPLETE: a resolution is under way already.
            Some(NeighbourState::Incomplete) => {}
            _ => resolve(&handle, index, ip).await?,
        }
        loop {
            match state(&mut handle, index, ip).await? {
                Some(
                    NeighbourState::Reachable | NeighbourState::Permanent | NeighbourState::Noarp,
                ) => return Ok(Verdict::Answered),
                Some(NeighbourState::Failed) => return Ok(Verdict::Failed),
                s => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(Verdict::Pending(state_name(s)));
                    }
                    // The next neighbour notification (any: they are only a cue to read again).
                    let wait = (deadline - now).min(BACKSTOP);
                    let _ = tokio::time::timeout(wait, notices.next()).await;
                    while let Some(Some(_)) = notices.next().now_or_never() {}
                }
            }
        }
    }
    .await;
    conn.abort();
    result
}

/// `NTF_USE`: what sending a packet to the neighbour does (creating the entry if needed).
async fn resolve(handle: &rtnetlink::Handle, index: u32, ip: IpAddr) -> Result<()> {
    handle
        .neighbours()
        .add(index, ip)
        .state(NeighbourState::None)
        .flags(NeighbourFlags::Use)
        .replace()
        .execute()
        .await
        .map_err(|e| Error::Netlink(format!("resolving neighbour {ip}: {}", nl_msg(&e))))
}

/// The state of the entry for `ip` on link `index` (`None`: there is none), by an `RTM_GETNEIGH` for
/// that one entry.
async fn state(
    handle: &mut rtnetlink::Handle,
    index: u32,
    ip: IpAddr,
) -> Result<Option<NeighbourState>> {
    let mut msg = NeighbourMessage::default();
    msg.header.family = match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    msg.header.ifindex = index;
    msg.attributes
        .push(NeighbourAttribute::Destination(match ip {
            IpAddr::V4(a) => NeighbourAddress::Inet(a),
            IpAddr::V6(a) => NeighbourAddress::Inet6(a),
        }));
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNeighbour(msg));
    req.header.flags = NLM_F_REQUEST;
    let mut replies = handle
        .request(req)
        .map_err(|e| Error::Netlink(format!("reading neighbour {ip}: {e}")))?;
    let mut found = None;
    while let Some(m) = replies.next().await {
        match m.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(n)) => {
                found = Some(n.header.state);
            }
            NetlinkPayload::Error(e) if e.code.is_some() => {
                let io = e.to_io();
                if io.raw_os_error() == Some(libc::ENOENT) {
                    return Ok(None);
                }
                return Err(Error::Netlink(format!("reading neighbour {ip}: {io}")));
            }
            _ => {}
        }
    }
    Ok(found)
}

fn state_name(s: Option<NeighbourState>) -> &'static str {
    match s {
        None => "no entry",
        Some(NeighbourState::Incomplete) => "INCOMPLETE",
        Some(NeighbourState::Reachable) => "REACHABLE",
        Some(NeighbourState::Stale) => "STALE",
        Some(NeighbourState::Delay) => "DELAY",
        Some(NeighbourState::Probe) => "PROBE",
        Some(NeighbourState::Failed) => "FAILED",
        Some(NeighbourState::Noarp) => "NOARP",
        Some(NeighbourState::Permanent) => "PERMANENT",
        Some(NeighbourState::None) => "NONE",
        Some(_) => "unknown",
    }
}
