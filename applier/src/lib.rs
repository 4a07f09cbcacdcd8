//! plumber's node side: installing rendered files atomically, discovering the node's state, and (to come)
//! planning and executing the runtime changes that make the node match its `NodeConfig`.

pub mod apply;
pub mod error;
pub mod install;
pub mod netlink;
pub mod ovs;
pub mod plan;
pub mod show;
pub mod state;
pub mod sysfs;
pub mod watch;

pub use error::{Error, Failed, Result};
