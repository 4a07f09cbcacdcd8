//! The kernel's link, address and route notifications, as the watch needs them: [`subscribe`] opens a
//! netlink socket bound to the multicast [`GROUPS`] and yields one item per notification, unparsed. The
//! watch loop (`crate::node::watch`) and the connectivity guard's wait for changes use it.

use futures::{Stream, StreamExt};
use rtnetlink::constants::{
    RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE, RTMGRP_LINK,
};
use rtnetlink::packet_core::{NetlinkDeserializable, NetlinkHeader, NetlinkSerializable};
use rtnetlink::sys::{protocols::NETLINK_ROUTE, AsyncSocket, SocketAddr};

use crate::node::{Error, Result};

/// The rtnetlink multicast groups the watch listens to, as the legacy `RTMGRP_*` bitmask that
/// `bind(2)` takes in `nl_groups` (bit `n - 1` is group `RTNLGRP_*` number `n`; these five are all below
/// 32, so no `NETLINK_ADD_MEMBERSHIP` is needed):
/// - `RTMGRP_LINK` (`RTNLGRP_LINK`): links created, deleted or changed (MTU, up/down, carrier,
///   controller; bridge port events come here too);
/// - `RTMGRP_IPV4_IFADDR`, `RTMGRP_IPV6_IFADDR` (`RTNLGRP_IPV4_IFADDR`, `RTNLGRP_IPV6_IFADDR`):
///   addresses added or removed (and IPv6 DAD completing);
/// - `RTMGRP_IPV4_ROUTE`, `RTMGRP_IPV6_ROUTE` (`RTNLGRP_IPV4_ROUTE`, `RTNLGRP_IPV6_ROUTE`): routes
///   added or removed, in every table (including the kernel's flush of a link's routes).
const GROUPS: u32 =
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;

/// Opens a netlink socket in the current thread's network namespace bound to [`GROUPS`], spawns its
/// connection on the current tokio runtime, and returns its notifications (each item one message; a
/// receive buffer overrun comes as one item too). The socket is used for nothing else. Call it from
/// inside a runtime ([`super::run`]).
pub(crate) fn subscribe() -> Result<impl Stream<Item = ()> + Unpin + Send + 'static> {
    let (mut conn, _handle, messages) =
        rtnetlink::proto::new_connection::<Notice>(NETLINK_ROUTE)
            .map_err(|e| Error::Netlink(format!("opening a netlink socket: {e}")))?;
    conn.socket_mut()
        .socket_mut()
        .bind(&SocketAddr::new(0, GROUPS))
        .map_err(|e| {
            Error::Netlink(format!(
                "subscribing to link, address and route notifications: {e}"
            ))
        })?;
    // With `_handle` dropped the connection sends nothing; it ends when the stream is dropped.
    tokio::spawn(conn);
    Ok(messages.map(|_| ()))
}

/// A notification, as the watch needs it: that one came. Not parsed (and its bytes not kept): the
/// connection queues every notification until the watch reads it, and while a pass runs on a busy
/// node thousands arrive (an apply of 500 links makes several each). Parsed as `RouteNetlinkMessage`s
/// they took ~20 KB each (every link's attributes), the largest part of the agent's peak memory.
#[derive(Debug, Clone)]
struct Notice;

impl NetlinkDeserializable for Notice {
    type Error = std::convert::Infallible;
    fn deserialize(_: &NetlinkHeader, _: &[u8]) -> std::result::Result<Self, Self::Error> {
        Ok(Notice)
    }
}

/// Required by the connection's type; a subscription sends nothing.
impl NetlinkSerializable for Notice {
    fn message_type(&self) -> u16 {
        0
    }
    fn buffer_len(&self) -> usize {
        0
    }
    fn serialize(&self, _: &mut [u8]) {}
}
