//! plumber-render: the typed `HostNetworkTemplate` model, its validation, selection and merging into one
//! [`NodeConfig`](node::NodeConfig) per node, and the pure renderer that turns a `NodeConfig` into the
//! distro-native files ([`Artifact`](render::Artifact)s) that make the configuration survive a reboot.
//!
//! ```text
//! parse ──► validate ──► select ──► merge ──► NodeConfig ──► render(distro) ──► Vec<Artifact>
//! ```

pub mod error;
pub mod escape;
pub mod model;

pub use error::{Error, Result};
pub mod best_effort;
pub mod distro;
pub mod inventory;
pub mod manifest;
pub mod merge;
pub mod networks;
pub mod node;
pub mod owned;
pub mod parse;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod rooted;
pub mod select;
pub mod sources;
pub mod validate;
pub mod yaml;

pub use pipeline::{load, node_config, node_config_of_spec, render_sources, Source};
pub use sources::{read_input, read_sources, Input};
