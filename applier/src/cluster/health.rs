//! What `plumber agent` and `plumber rollup` share of their `/healthz`, `/readyz` and `/metrics` port:
//! the liveness and readiness state ([`Probes`]), the responses ([`respond`]) and hyper's HTTP/1
//! connection handler serving them ([`serve_with`]; no router: three fixed paths), `/metrics` behind
//! [`MetricsAccess`]. Each keeps its own metrics (`agent::health`, `rollup::health`).

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::cluster::metrics_access::{MetricsAccess, METRICS_PATH};

/// Ready yet, and is a unit of work (a reconcile pass, a status sync) running for too long?
pub struct Probes {
    ready: AtomicBool,
    /// When the running unit of work started (Unix seconds), 0 when none runs.
    started: AtomicU64,
    /// How long one may run before `/healthz` fails (the loop is wedged: a restart is the cure).
    stall: Duration,
    /// What runs, for `/healthz` ("a reconcile pass").
    what: &'static str,
    /// What `/readyz` waits for.
    waiting_for: &'static str,
}

impl Probes {
    pub(crate) fn new(stall: Duration, what: &'static str, waiting_for: &'static str) -> Probes {
        Probes {
            ready: AtomicBool::new(false),
            started: AtomicU64::new(0),
            stall,
            what,
            waiting_for,
        }
    }

    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// A unit of work starts (`at`: Unix seconds; [`now`] but in tests).
    pub(crate) fn started_at(&self, at: u64) {
        self.started.store(at.max(1), Ordering::Relaxed);
    }

    pub(crate) fn started(&self) {
        self.started_at(now());
    }

    pub(crate) fn ended(&self) {
        self.started.store(0, Ordering::Relaxed);
    }

    /// `None` when healthy, else why not.
    pub(crate) fn stalled(&self, now: u64) -> Option<String> {
        let started = self.started.load(Ordering::Relaxed);
        (started != 0 && now.saturating_sub(started) > self.stall.as_secs())
            .then(|| format!("{} has been running for {} s", self.what, now - started))
    }
}

/// The content type of the plain answers.
const TEXT: &str = "text/plain; charset=utf-8";

/// Unix seconds.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Metrics kept in a prometheus registry (the agent's, the rollup's).
pub trait Registered {
    fn registry(&self) -> &Registry;

    /// The text exposition.
    fn encode(&self) -> String {
        let mut s = String::new();
        encode(&mut s, self.registry()).expect("writing to a String");
        s
    }
}

/// What the endpoints look at: a service's metrics and its [`Probes`] (it dereferences to them).
pub struct State<M> {
    pub(crate) metrics: M,
    pub(crate) probes: Probes,
}

impl<M> std::ops::Deref for State<M> {
    type Target = Probes;
    fn deref(&self) -> &Probes {
        &self.probes
    }
}

/// The response to `GET path` from `state`: status, content type, body.
pub fn respond<M: Registered>(state: &State<M>, path: &str) -> (StatusCode, &'static str, String) {
    respond_with(&state.probes, || state.metrics.encode(), path)
}

/// The response to `GET path`: status, content type, body (`metrics` encodes `/metrics`).
fn respond_with(
    probes: &Probes,
    metrics: impl FnOnce() -> String,
    path: &str,
) -> (StatusCode, &'static str, String) {
    match path {
        "/healthz" => match probes.stalled(now()) {
            None => (StatusCode::OK, TEXT, "ok\n".into()),
            Some(why) => (StatusCode::SERVICE_UNAVAILABLE, TEXT, format!("{why}\n")),
        },
        "/readyz" => {
            if probes.is_ready() {
                (StatusCode::OK, TEXT, "ok\n".into())
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    TEXT,
                    format!("waiting for {}\n", probes.waiting_for),
                )
            }
        }
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics(),
        ),
        _ => (StatusCode::NOT_FOUND, TEXT, "not found\n".into()),
    }
}

/// Serves `respond(path)` (status, content type, body) to every `GET` on `listener` until the task is
/// dropped (the agent's endpoints and the rollup's); `/metrics` only to whom `access` allows.
pub(crate) async fn serve_with<F>(listener: TcpListener, access: Arc<MetricsAccess>, respond: F)
where
    F: Fn(&str) -> (StatusCode, &'static str, String) + Send + Sync + 'static,
{
    let respond = Arc::new(respond);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "health server: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let respond = respond.clone();
        let access = access.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let respond = respond.clone();
                    let access = access.clone();
                    async move {
                        let path = req.uri().path();
                        let allowed = if path == METRICS_PATH {
                            let authorization = req
                                .headers()
                                .get(http::header::AUTHORIZATION)
                                .and_then(|v| v.to_str().ok());
                            access.check(peer.ip(), authorization).await
                        } else {
                            Ok(())
                        };
                        let (code, ctype, body) = match allowed {
                            Ok(()) => respond(path),
                            Err((code, body)) => (code, TEXT, body),
                        };
                        let mut resp = Response::builder()
                            .status(code)
                            .header(http::header::CONTENT_TYPE, ctype);
                        if code == StatusCode::UNAUTHORIZED {
                            resp = resp.header(http::header::WWW_AUTHENTICATE, "Bearer");
                        }
                        let resp = resp
                            .body(Full::new(Bytes::from(body)))
                            .expect("a valid response");
                        Ok::<_, Infallible>(resp)
                    }
                });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "health server: connection");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_and_responses() {
        let p = Probes::new(Duration::from_secs(600), "a pass", "the watchers");
        let m = || "m 1\n".to_string();
        assert_eq!(respond_with(&p, m, "/healthz").0, StatusCode::OK);
        let (code, _, body) = respond_with(&p, m, "/readyz");
        assert_eq!(
            (code, body.as_str()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "waiting for the watchers\n"
            )
        );
        p.set_ready();
        assert_eq!(respond_with(&p, m, "/readyz").0, StatusCode::OK);
        assert_eq!(respond_with(&p, m, "/metrics").2, "m 1\n");
        assert_eq!(respond_with(&p, m, "/nope").0, StatusCode::NOT_FOUND);
        assert!(p.stalled(1000).is_none());
        p.started_at(100);
        assert_eq!(
            p.stalled(1000).as_deref(),
            Some("a pass has been running for 900 s")
        );
        assert!(p.stalled(600).is_none());
        p.ended();
        assert!(p.stalled(10_000).is_none());
    }
}
