//! The rollup's `/healthz`, `/readyz` and `/metrics` (served by [`crate::cluster::health::serve_with`]):
//!
//! * `/healthz`: 200 unless a sync (the status writes of one pass) has been running for longer than
//!   the `stall` given to `State::new`;
//! * `/readyz`: 200 once the template, Node and HostNetwork watchers have all listed once;
//! * `/metrics`: `plumber_rollup_*` counters and gauges, text format.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::cluster::health::{Probes, Registered};

/// The rollup's metrics (all prefixed `plumber_rollup_`).
pub(crate) struct Metrics {
    registry: Registry,
    /// Syncs run (each recomputes every template).
    pub(crate) syncs: Counter,
    /// Template statuses written (server-side applies).
    pub(crate) status_writes: Counter,
    /// Failed status writes.
    pub(crate) api_errors: Counter,
    /// What the rollup holds: templates, Nodes, HostNetworks.
    pub(crate) templates: Gauge,
    pub(crate) nodes: Gauge,
    pub(crate) host_networks: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("plumber_rollup");
        let syncs = Counter::default();
        let status_writes = Counter::default();
        let api_errors = Counter::default();
        let templates = Gauge::default();
        let nodes = Gauge::default();
        let host_networks = Gauge::default();
        registry.register("syncs", "Recomputations of every template", syncs.clone());
        registry.register(
            "status_writes",
            "Server-side applies of a HostNetworkTemplate status",
            status_writes.clone(),
        );
        registry.register("api_errors", "Failed status writes", api_errors.clone());
        registry.register("templates", "HostNetworkTemplates known", templates.clone());
        registry.register("nodes", "Nodes known", nodes.clone());
        registry.register("host_networks", "HostNetworks known", host_networks.clone());
        Metrics {
            registry,
            syncs,
            status_writes,
            api_errors,
            templates,
            nodes,
            host_networks,
        }
    }
}

impl Registered for Metrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// What the endpoints look at: the metrics and the [`Probes`].
pub(crate) type State = crate::cluster::health::State<Metrics>;

impl State {
    pub(crate) fn new(stall: Duration) -> State {
        crate::cluster::health::State {
            metrics: Metrics::new(),
            probes: Probes::new(
                stall,
                "a status sync",
                "the template, Node and HostNetwork watchers to sync",
            ),
        }
    }
}

pub(crate) use crate::cluster::health::respond;

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn endpoints_and_metrics() {
        let s = State::new(Duration::from_secs(600));
        assert_eq!(respond(&s, "/healthz").0, StatusCode::OK);
        assert_eq!(respond(&s, "/readyz").0, StatusCode::SERVICE_UNAVAILABLE);
        s.set_ready();
        assert_eq!(respond(&s, "/readyz").0, StatusCode::OK);
        assert_eq!(respond(&s, "/nope").0, StatusCode::NOT_FOUND);
        s.metrics.status_writes.inc();
        s.metrics.nodes.set(3);
        let (_, _, body) = respond(&s, "/metrics");
        for line in [
            "plumber_rollup_status_writes_total 1",
            "plumber_rollup_nodes 3",
            "plumber_rollup_syncs_total 0",
        ] {
            assert!(body.contains(line), "{line} not in:\n{body}");
        }
        assert!(s.stalled(1000).is_none());
        s.started_at(100);
        assert!(s.stalled(1000).is_some());
        assert!(s.stalled(600).is_none());
    }
}
