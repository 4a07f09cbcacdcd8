//! plumber against a real Kubernetes API server (`kube-apiserver` v1.26 and Debian's etcd, started by
//! [`harness`]): deploy/ installed as a user would, the agent and the rollup as real processes with the
//! tokens of deploy/'s ServiceAccounts, one agent per simulated node in its own network namespace.
//!
//! The binaries are found through `PLUMBER_KUBE_ASSETS` or `../shared/k8s/`; without them the tests
//! say once that they did not run and pass, except in CI (`CI=true`), where that fails.
//! `cargo test -p plumber --test cluster`.

mod conflict;
mod deletion;
mod fleet;
mod harness;
mod idle;
mod metrics;
mod migrate;
mod networks;
mod rbac;
mod restart;
mod rollout;
mod schema;
mod selection;
mod unreadable;
