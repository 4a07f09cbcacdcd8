//! Pipelined writes: requests sent without waiting for each one's answer, up to [`WINDOW`] in flight on
//! the one socket, their answers matched to them by sequence number (netlink-proto's connection does the
//! matching).
//!
//! The kernel carries out an rtnetlink request inside the `sendmsg` that delivers it, one after the other
//! in the order they were sent. Requests sent back to back therefore take effect exactly in plan order, as
//! if each had waited for the one before (a parent still goes up before its VLAN, an address is still
//! there before the route through it); what pipelining saves is the round trip to the answer, which
//! `ip -batch` waits for after every line. One thing differs from waiting: the requests already sent after
//! a refused one are carried out too. So an apply always collects every answer of the window before it
//! stops ([`Window::next`] until `None`), keeps every request that was acknowledged, the ones after the
//! failure as well, and rolls all of them back: the node ends as it was, never half-changed.
//!
//! The window is bounded because of how the kernel answers: an acknowledgement that does not fit in the
//! socket's receive buffer is dropped (the socket gets ENOBUFS, and that request's answer never comes).
//! [`WINDOW`] answers (an ACK is 36 bytes; an error echoes the request, a few hundred) fit many times in
//! the default 208 KiB buffer, even before netlink-proto's connection reads any of them.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use futures::StreamExt;
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use rtnetlink::packet_route::address::AddressMessage;
use rtnetlink::packet_route::link::LinkMessage;
use rtnetlink::packet_route::route::RouteMessage;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::Handle;

use super::nl_msg;

/// Requests in flight at most: enough to keep the kernel busy while the answers travel back (the
/// saving is one round trip per request, BENCHMARKS.md), few enough that every answer fits the socket's
/// receive buffer (above).
pub(super) const WINDOW: usize = 64;

/// One write, as rtnetlink's own request types send it (the same flags).
#[derive(Debug, Clone)]
pub(super) enum Request {
    /// `ip link set`: MTU, up or down, a VF's settings.
    SetLink(LinkMessage),
    /// `ip address add`.
    NewAddress(AddressMessage),
    /// `ip address del`.
    DelAddress(AddressMessage),
    /// `ip route add`.
    NewRoute(RouteMessage),
    /// `ip route del`.
    DelRoute(RouteMessage),
}

impl Request {
    fn into_netlink(self) -> NetlinkMessage<RouteNetlinkMessage> {
        let create = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE;
        let (msg, flags) = match self {
            Request::SetLink(m) => (RouteNetlinkMessage::SetLink(m), create),
            Request::NewAddress(m) => (RouteNetlinkMessage::NewAddress(m), create),
            Request::DelAddress(m) => (
                RouteNetlinkMessage::DelAddress(m),
                NLM_F_REQUEST | NLM_F_ACK,
            ),
            Request::NewRoute(m) => (RouteNetlinkMessage::NewRoute(m), create),
            Request::DelRoute(m) => (RouteNetlinkMessage::DelRoute(m), NLM_F_REQUEST | NLM_F_ACK),
        };
        let mut msg = NetlinkMessage::from(msg);
        msg.header.flags = flags;
        msg
    }
}

type Answer = std::result::Result<(), String>;

/// The answer to come for one request sent.
type Reply = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// Sends `req` now (into the connection's queue, which keeps the order of sending) and returns its
/// answer to come: `Ok` on the kernel's ACK, the kernel's errno text when it refused.
pub(super) fn send(handle: &Handle, req: Request) -> Reply {
    let sent = handle.clone().request(req.into_netlink());
    Box::pin(async move {
        let mut answers = sent.map_err(|e| nl_msg(&e))?;
        // The stream ends at the ACK (netlink-proto does not forward ACKs) or after the error.
        while let Some(m) = answers.next().await {
            if let NetlinkPayload::Error(e) = m.payload {
                return Err(nl_msg(&rtnetlink::Error::NetlinkError(e)));
            }
        }
        Ok(())
    })
}

/// Requests in flight, oldest first, each with what it carries out (`T`: the plan's ops).
pub(super) struct Window<T> {
    handle: Handle,
    in_flight: VecDeque<(T, Reply)>,
}

impl<T> Window<T> {
    pub(super) fn new(handle: &Handle) -> Self {
        Window {
            handle: handle.clone(),
            in_flight: VecDeque::with_capacity(WINDOW),
        }
    }

    /// Sends `req`, tagged `tag`. When the window is full, first waits for the oldest answer, which
    /// it returns with its tag.
    pub(super) async fn send(&mut self, tag: T, req: Request) -> Option<(T, Answer)> {
        let oldest = if self.in_flight.len() >= WINDOW {
            self.next().await
        } else {
            None
        };
        self.in_flight.push_back((tag, send(&self.handle, req)));
        oldest
    }

    /// The oldest request's answer, with its tag; `None` when nothing is in flight.
    pub(super) async fn next(&mut self) -> Option<(T, Answer)> {
        let (tag, reply) = self.in_flight.pop_front()?;
        Some((tag, reply.await))
    }
}
