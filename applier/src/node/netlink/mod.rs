//! The kernel side of the applier, all through rtnetlink: [`discover`](fn@discover) reads the node into a
//! [`CurrentState`](crate::node::state::CurrentState), [`execute`] carries out one [`Op`](crate::node::plan::Op),
//! and [`apply`] carries out a plan, rolling back what it did when an op fails; [`neigh`] asks the
//! kernel whether a next hop answers (the connectivity guard); [`events`] subscribes to the kernel's
//! link, address and route notifications (the watch).
//!
//! rtnetlink is async; [`run`] drives a future on a current-thread runtime for the synchronous CLI, and
//! [`connection`] (called inside that runtime) opens the socket. The socket belongs to the network
//! namespace of the thread that opens it.

mod discover;
pub(crate) mod events;
mod exec;
pub mod neigh;
mod pipeline;
mod scoped;
mod unsupported;
pub mod vf;

use std::future::Future;

pub use discover::{discover, discover_indexed, Indexes};
pub use exec::{apply, apply_with, execute, Applied};
pub use scoped::Scoped;

use crate::node::{Error, Result};

/// Runs `f` to completion on a fresh current-thread tokio runtime (with I/O and timers).
pub fn run<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building a current-thread tokio runtime")
        .block_on(f)
}

/// Opens an rtnetlink socket in the current thread's network namespace and spawns its connection task
/// on the current tokio runtime (call it from inside [`run`]).
pub fn connection() -> Result<rtnetlink::Handle> {
    let (conn, handle, _) = rtnetlink::new_connection()
        .map_err(|e| Error::Netlink(format!("opening a netlink socket: {e}")))?;
    tokio::spawn(conn);
    Ok(handle)
}

/// A netlink error as one line: the kernel's errno text when the kernel refused.
fn nl_msg(e: &rtnetlink::Error) -> String {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io().to_string(),
        e => e.to_string(),
    }
}

fn nl_err(what: impl std::fmt::Display, e: rtnetlink::Error) -> Error {
    Error::Netlink(format!("{what}: {}", nl_msg(&e)))
}
