//! The applier's integration tests: one binary, one module per concern.

mod install;
mod netns;
mod sysfs;
