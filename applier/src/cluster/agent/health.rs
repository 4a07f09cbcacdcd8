//! `/healthz`, `/readyz` and Prometheus `/metrics` on one port (served by [`crate::cluster::health`]).
//!
//! * `/healthz`: 200 unless a reconcile pass has been running for longer than the `stall` given to `State::new` (the
//!   loop is wedged: a restart is the cure);
//! * `/readyz`: 200 once the template and Node watchers have synced and the first pass has run;
//! * `/metrics`: the counters and the reconcile duration histogram ([`Metrics`]), text format.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use super::reconcile::Verdict;
use crate::cluster::health::{Probes, Registered};
use crate::cluster::metrics_access::MetricsAccess;
use crate::node::apply::Outcome;

/// The agent's metrics (all prefixed `plumber_agent_`).
pub struct Metrics {
    registry: Registry,
    /// Applies by result (`applied`, `unchanged`, `refused`, `rolled-back`, `rollback-failed`) and
    /// reconciles that applied nothing (`conflict`, `invalid`).
    applies: Family<Vec<(String, String)>, Counter>,
    /// Applies that were refused or failed (rolled back or not), and reconciles refused for conflicts.
    failures: Counter,
    /// Applies that failed and were rolled back (whether or not the rollback completed).
    rollbacks: Counter,
    /// Applies that changed the node although the templates had not changed: drift repaired.
    drift_repairs: Counter,
    /// Status writes (server-side applies of the HostNetwork status).
    pub(crate) status_writes: Counter,
    /// Errors talking to the API server (publishing, events).
    pub(crate) api_errors: Counter,
    /// Seconds per reconcile pass (apply, discovery, publish).
    reconcile_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("plumber_agent");
        let applies = Family::<Vec<(String, String)>, Counter>::default();
        let failures = Counter::default();
        let rollbacks = Counter::default();
        let drift_repairs = Counter::default();
        let status_writes = Counter::default();
        let api_errors = Counter::default();
        let reconcile_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        ]);
        registry.register("applies", "Reconcile passes by result", applies.clone());
        registry.register(
            "apply_failures",
            "Applies refused or failed, and reconciles refused for conflicting or invalid templates",
            failures.clone(),
        );
        registry.register(
            "rollbacks",
            "Applies that failed and were rolled back",
            rollbacks.clone(),
        );
        registry.register(
            "drift_repairs",
            "Applies that changed the node while its templates were unchanged",
            drift_repairs.clone(),
        );
        registry.register(
            "status_writes",
            "Server-side applies of the HostNetwork status",
            status_writes.clone(),
        );
        registry.register(
            "api_errors",
            "Failed requests to the API server",
            api_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time per reconcile pass",
            reconcile_duration.clone(),
        );
        Metrics {
            registry,
            applies,
            failures,
            rollbacks,
            drift_repairs,
            status_writes,
            api_errors,
            reconcile_duration,
        }
    }

    /// Counts a pass's verdict; `drift` says the templates were those of the previous pass.
    pub(crate) fn count(&self, v: &Verdict, drift: bool, took: Duration) {
        let result = match v {
            Verdict::Done(r) => match r.outcome {
                Outcome::Unchanged => "unchanged",
                Outcome::Applied => "applied",
                Outcome::Refused => "refused",
                Outcome::RolledBack => "rolled-back",
                Outcome::RollbackFailed => "rollback-failed",
            },
            Verdict::Conflict(_) => "conflict",
            Verdict::Invalid(_) => "invalid",
            Verdict::Waiting(_) => "waiting",
        };
        self.applies
            .get_or_create(&vec![("result".to_string(), result.to_string())])
            .inc();
        if !v.ok() && !matches!(v, Verdict::Waiting(_)) {
            self.failures.inc();
        }
        if let Verdict::Done(r) = v {
            match r.outcome {
                Outcome::RolledBack | Outcome::RollbackFailed => {
                    self.rollbacks.inc();
                }
                Outcome::Applied if drift => {
                    self.drift_repairs.inc();
                }
                _ => {}
            }
        }
        self.reconcile_duration.observe(took.as_secs_f64());
    }
}

impl Registered for Metrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// What the endpoints look at: the metrics and the [`Probes`].
pub type State = crate::cluster::health::State<Metrics>;

impl State {
    pub fn new(stall: Duration) -> State {
        crate::cluster::health::State {
            metrics: Metrics::new(),
            probes: Probes::new(
                stall,
                "a reconcile pass",
                "the watchers to sync and the first reconcile",
            ),
        }
    }
}

pub use crate::cluster::health::respond;

/// Serves the endpoints on `listener` until the task is dropped, `/metrics` to whom `access` allows.
pub async fn serve(listener: TcpListener, access: Arc<MetricsAccess>, state: Arc<State>) {
    crate::cluster::health::serve_with(listener, access, move |path| respond(&state, path)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::agent::reconcile::Report;
    use http::StatusCode;

    #[test]
    fn endpoints_and_metrics() {
        let s = State::new(Duration::from_secs(600));
        assert_eq!(respond(&s, "/healthz").0, StatusCode::OK);
        assert_eq!(respond(&s, "/readyz").0, StatusCode::SERVICE_UNAVAILABLE);
        s.set_ready();
        assert_eq!(respond(&s, "/readyz").0, StatusCode::OK);
        assert_eq!(respond(&s, "/nope").0, StatusCode::NOT_FOUND);
        let done = |outcome| {
            Verdict::Done(Report {
                outcome,
                record: None,
                error: None,
                conflicts: vec![],
                templates: vec![],
            })
        };
        s.metrics
            .count(&done(Outcome::Applied), true, Duration::from_millis(20));
        s.metrics
            .count(&done(Outcome::RolledBack), false, Duration::from_millis(20));
        s.metrics
            .count(&Verdict::Invalid("x".into()), false, Duration::ZERO);
        let (_, _, body) = respond(&s, "/metrics");
        for line in [
            "plumber_agent_applies_total{result=\"applied\"} 1",
            "plumber_agent_applies_total{result=\"rolled-back\"} 1",
            "plumber_agent_applies_total{result=\"invalid\"} 1",
            "plumber_agent_apply_failures_total 2",
            "plumber_agent_rollbacks_total 1",
            "plumber_agent_drift_repairs_total 1",
            "plumber_agent_reconcile_duration_seconds_count 3",
        ] {
            assert!(body.contains(line), "{line} not in:\n{body}");
        }
        assert!(s.stalled(1000).is_none());
        s.started_at(100);
        assert!(s.stalled(1000).is_some());
        assert!(s.stalled(600).is_none());
    }
}
