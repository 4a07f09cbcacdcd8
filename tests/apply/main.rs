//! The applier's integration tests: one binary, one module per concern.

mod common;
mod install;
mod netns;
mod ovs;
mod sysfs;
mod watch;
