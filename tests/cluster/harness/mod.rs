//! The harness of the cluster tests: a real API server and etcd, deploy/ installed, nodes in network
//! namespaces running the real `plumber agent`, and `plumber rollup`.

pub mod apiserver;
pub mod assets;
pub mod audit;
pub mod certs;
pub mod cluster;
pub mod deploy;
pub mod kube;
pub mod load;
pub mod node;
pub mod process;
pub mod relay;
pub mod status;
pub mod templates;
pub mod usage;
pub mod wait;
