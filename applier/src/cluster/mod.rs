//! The cluster side: the CRDs ([`crd`]), the node agent that applies the templates selecting its node
//! through [`crate::node`] and publishes the node's `HostNetwork` ([`agent`]), the per-template status
//! rollup ([`rollup`]), the switch of a cluster from HostPlumber's CRDs ([`migrate`]), what the agent
//! and the rollup may ask of the API server ([`access`]), and what they share: the health port
//! ([`health`]) and who may read its metrics ([`metrics_access`]), status conditions
//! ([`conditions`]) and their clock ([`clock`]).

pub mod access;
pub mod agent;
mod clock;
mod conditions;
pub mod crd;
mod health;
pub mod metrics_access;
pub mod migrate;
pub mod rollup;
