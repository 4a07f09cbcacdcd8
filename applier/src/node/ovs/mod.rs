//! Open vSwitch through ovs-vsctl: discovery, a pure plan, and execution as one OVSDB transaction.
//!
//! The semantics are those of the rendered boot script `plumber-ovs` (templates/plumber-ovs.sh.j2): add
//! missing bridges and ports, converge their settings with `set`/`clear`, never delete a bridge or port
//! the templates do not list (other software adds its own ports), re-create a listed port only when it is
//! on another bridge or holds other interfaces than listed, and remove a port that holds a listed
//! interface so that the interface can move.
//!
//! - [`Ovsdb`]: how to call ovs-vsctl (binary, database socket, `--no-wait`, `--timeout`).
//! - [`discover`](fn@discover): OVSDB's bridges, ports and interfaces as an [`OvsState`].
//! - [`plan`](fn@plan): desired bridges × current state → [`OvsOp`]s; planning again on the result is empty.
//! - [`apply`] / [`rollback`]: the ops (or their inverses) as one ovs-vsctl invocation, which OVSDB
//!   commits as one transaction: all of it happens or nothing does.
//! - [`release`](fn@release): the bridges and ports plumber created that no template lists any more.
//! - [`status`](fn@status): the state in the `HostNetwork` status format (`plumber show`).
//! - [`check_uplink_addresses`]: a kernel interface that would carry addresses into OVS is refused.

mod db;
mod discover;
mod exec;
mod op;
mod plan;
mod recover;
mod release;
mod state;
mod status;
mod uplink_addresses;

pub use db::{Ovsdb, VsctlError};
pub use discover::{discover, parse_lists};
pub use exec::{apply, rollback};
pub use op::OvsOp;
pub use plan::plan;
pub(crate) use recover::recovery;
pub(crate) use release::release;
pub use state::{BridgeState, IfaceState, OvsState, PortState};
pub use status::status;
pub(crate) use uplink_addresses::check as check_uplink_addresses;
pub(crate) use uplink_addresses::check_nic_binds;

#[cfg(test)]
mod tests;
