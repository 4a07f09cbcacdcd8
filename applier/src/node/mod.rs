//! The node side: discovering a node ([`netlink`], [`sysfs`], [`ovs`] into [`state`]), the pure
//! planner ([`plan`]), the file installer ([`install`]), the apply transaction over all of them with its
//! connectivity guard ([`apply`], [`guard`]), `plumber show` ([`show`]) and the watch loop ([`watch`]).
//! Nothing here knows about Kubernetes.

pub mod apply;
mod error;
pub mod guard;
pub mod install;
pub mod netlink;
pub mod ovs;
pub mod plan;
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
