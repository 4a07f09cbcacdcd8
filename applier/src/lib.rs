//! plumber's applier, in two halves that the tree keeps apart:
//!
//! * [`node`]: everything that runs on one node with no cluster — discovering the node, planning the
//!   runtime changes that make it match its `NodeConfig` (a pure diff), and applying them together with
//!   the rendered files as one transaction, once or in a watch loop (`plumber apply`, `plumber show`).
//! * [`cluster`]: everything that talks to the API server — the CRDs, the node agent that drives
//!   [`node`] from the templates (`plumber agent`), the per-template rollup (`plumber rollup`), their
//!   RBAC and their health ports.
//!
//! [`node`] never uses [`cluster`].

pub mod cluster;
pub mod node;
