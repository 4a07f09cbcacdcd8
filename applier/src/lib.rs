//! plumber's node side: discovering the node's state, planning the runtime changes that make it match its
//! `NodeConfig` (a pure diff, [`plan`]), and applying them with the rendered files as one transaction
//! ([`apply`]), once or in a watch loop ([`watch`], the Kubernetes [`agent`]).

pub mod access;
pub mod agent;
pub mod apply;
pub mod crd;
pub mod error;
pub mod guard;
pub mod health;
pub mod install;
pub mod netlink;
pub mod ovs;
pub mod plan;
pub mod rollup;
pub mod show;
pub mod state;
pub mod sysfs;
pub mod watch;

pub use error::{Error, Failed, Result};

/// With `PLUMBER_TIMING` set, prints how long a phase took (since `start`) to stderr.
pub fn timing(phase: &str, start: std::time::Instant) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("PLUMBER_TIMING").is_some()) {
        eprintln!("plumber timing: {phase}: {:.2?}", start.elapsed());
    }
}
