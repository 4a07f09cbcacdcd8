//! Who may read `/metrics` on the agent's and the rollup's health port.
//!
//! The agent runs with `hostNetwork`, so its port is open on every address of the node, and its
//! metrics name the node's templates, links and error texts. `/healthz` and `/readyz` stay open (the
//! kubelet's probes carry no credentials, and they say nothing but "ok" or why not); `/metrics` is
//! served to whom [`MetricsAccess`] allows:
//!
//! * `kubernetes` (the default): a `Authorization: Bearer <token>` that the API server authenticates
//!   (a `TokenReview`) and whose user it allows `get` on the non-resource URL `/metrics` (a
//!   `SubjectAccessReview`), as kube-rbac-proxy and the kubelet do. deploy/ grants it in the
//!   ClusterRole `plumber-metrics-reader`; bind your Prometheus' ServiceAccount to it:
//!
//!   ```yaml
//!   apiVersion: rbac.authorization.k8s.io/v1
//!   kind: ClusterRoleBinding
//!   metadata: {name: prometheus-reads-plumber-metrics}
//!   roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: plumber-metrics-reader}
//!   subjects: [{kind: ServiceAccount, name: prometheus, namespace: monitoring}]
//!   ```
//!
//! * `loopback`: connections from the node itself only (a node-local scraper), no token;
//! * `open`: everyone (as before; for a network that is private by other means).
//!
//! Answers are cached by the token's SHA-256 (an allowed token for a minute, a refused one for ten
//! seconds), so a scrape every few seconds costs the API server two requests a minute per scraper. A
//! review that cannot be made (the API server unreachable) answers 503 and is not cached.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::StatusCode;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};

/// The path a reader must be allowed to `get` (kube-rbac-proxy's convention for a metrics port).
pub const METRICS_PATH: &str = "/metrics";

/// How long an allowed token is trusted without asking again.
const ALLOWED_FOR: Duration = Duration::from_secs(60);
/// How long a refused token stays refused without asking again.
const REFUSED_FOR: Duration = Duration::from_secs(10);
/// Cached answers kept at most (the cache is emptied when full: a flood of new tokens costs reviews,
/// never memory).
const CACHE_LIMIT: usize = 1024;

/// `--metrics-access`: who may read `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// A bearer token the API server authenticates and authorizes for `get` on `/metrics`.
    Kubernetes,
    /// Connections from a loopback address only.
    Loopback,
    /// Everyone.
    Open,
}

/// The gate in front of `/metrics` (built from [`Mode`]; `Kubernetes` holds the client it asks with).
pub enum MetricsAccess {
    Kubernetes(Reviewer),
    Loopback,
    Open,
}

impl MetricsAccess {
    /// The gate for `mode`, asking through `client` in `Kubernetes` mode.
    pub fn new(mode: Mode, client: kube::Client) -> MetricsAccess {
        match mode {
            Mode::Kubernetes => MetricsAccess::Kubernetes(Reviewer::new(client)),
            Mode::Loopback => MetricsAccess::Loopback,
            Mode::Open => MetricsAccess::Open,
        }
    }

    /// `Ok` when the request from `peer` with this `Authorization` header may read the metrics, else
    /// the status and the body to answer with.
    pub(crate) async fn check(
        &self,
        peer: IpAddr,
        authorization: Option<&str>,
    ) -> Result<(), (StatusCode, String)> {
        match self {
            MetricsAccess::Open => Ok(()),
            MetricsAccess::Loopback if peer.is_loopback() => Ok(()),
            MetricsAccess::Loopback => Err((
                StatusCode::FORBIDDEN,
                "metrics are served to this node only (--metrics-access loopback)\n".into(),
            )),
            MetricsAccess::Kubernetes(r) => {
                let Some(token) = authorization.and_then(bearer) else {
                    return Err((
                        StatusCode::UNAUTHORIZED,
                        "a bearer token allowed to get /metrics is needed\n".into(),
                    ));
                };
                match r.review(token).await {
                    Ok(Verdict::Allowed) => Ok(()),
                    Ok(Verdict::Unauthenticated) => Err((
                        StatusCode::UNAUTHORIZED,
                        "the token was not accepted by the API server\n".into(),
                    )),
                    Ok(Verdict::Forbidden(user)) => Err((
                        StatusCode::FORBIDDEN,
                        format!("{user} may not get /metrics (see ClusterRole plumber-metrics-reader)\n"),
                    )),
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics: cannot review a token");
                        Err((
                            StatusCode::SERVICE_UNAVAILABLE,
                            "the API server could not be asked about the token\n".into(),
                        ))
                    }
                }
            }
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// What the API server said of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Allowed,
    /// Not a token the API server knows (expired, revoked, made up).
    Unauthenticated,
    /// A known user (named) without `get` on `/metrics`.
    Forbidden(String),
}

/// Asks the API server about tokens (TokenReview, then SubjectAccessReview) and caches the answers.
pub struct Reviewer {
    client: kube::Client,
    cache: Mutex<HashMap<[u8; 32], (Instant, Verdict)>>,
}

impl Reviewer {
    pub fn new(client: kube::Client) -> Reviewer {
        Reviewer {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The verdict on `token`, from the cache while it is fresh.
    async fn review(&self, token: &str) -> Result<Verdict, kube::Error> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = Instant::now();
        if let Some((at, v)) = self.cache.lock().expect("cache lock").get(&key) {
            let fresh_for = if *v == Verdict::Allowed {
                ALLOWED_FOR
            } else {
                REFUSED_FOR
            };
            if now.duration_since(*at) < fresh_for {
                return Ok(v.clone());
            }
        }
        let v = self.ask(token).await?;
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, (now, v.clone()));
        Ok(v)
    }

    async fn ask(&self, token: &str) -> Result<Verdict, kube::Error> {
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                audiences: None,
            },
            ..TokenReview::default()
        };
        let answer = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await?;
        let status = answer.status.unwrap_or_default();
        let user = match (status.authenticated, status.user) {
            (Some(true), Some(user)) => user,
            _ => return Ok(Verdict::Unauthenticated),
        };
        let access = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username.clone(),
                groups: user.groups,
                uid: user.uid,
                extra: user.extra,
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some(METRICS_PATH.to_string()),
                    verb: Some("get".to_string()),
                }),
                resource_attributes: None,
            },
            ..SubjectAccessReview::default()
        };
        let answer = Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&PostParams::default(), &access)
            .await?;
        Ok(if answer.status.is_some_and(|s| s.allowed) {
            Verdict::Allowed
        } else {
            Verdict::Forbidden(user.username.unwrap_or_else(|| "this user".into()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic dXNlcg=="), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }

    /// An allowed answer is trusted for a minute, a refused one for ten seconds; after that the API
    /// server is asked again (here: a mock answering every TokenReview with "unknown token").
    #[tokio::test]
    async fn cached_answers_expire_a_minute_after_allowed_ten_seconds_after_refused() {
        use http::{Request, Response};
        use kube::client::Body;
        let (svc, mut server) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let r = Reviewer::new(kube::Client::new(svc, "default"));
        let key = |t: &str| -> [u8; 32] { Sha256::digest(t.as_bytes()).into() };
        let ago = |s: u64| Instant::now() - Duration::from_secs(s);
        {
            let mut c = r.cache.lock().unwrap();
            c.insert(key("allowed-59s"), (ago(59), Verdict::Allowed));
            c.insert(key("allowed-61s"), (ago(61), Verdict::Allowed));
            c.insert(key("refused-9s"), (ago(9), Verdict::Forbidden("u".into())));
            c.insert(
                key("refused-11s"),
                (ago(11), Verdict::Forbidden("u".into())),
            );
        }
        // Fresh: no request. One would wait for the mock's answer, which never comes: the bound
        // turns that into a failure instead of a hang.
        let cached = |t: &'static str| tokio::time::timeout(Duration::from_secs(5), r.review(t));
        assert_eq!(
            cached("allowed-59s").await.expect("cached").unwrap(),
            Verdict::Allowed
        );
        assert_eq!(
            cached("refused-9s").await.expect("cached").unwrap(),
            Verdict::Forbidden("u".into())
        );
        // Stale: asked again, and the new answer replaces the old.
        for token in ["allowed-61s", "refused-11s"] {
            let answer = async {
                let (req, send) = server.next_request().await.expect("a review");
                assert_eq!(
                    req.uri().path(),
                    "/apis/authentication.k8s.io/v1/tokenreviews"
                );
                send.send_response(
                    Response::builder()
                        .status(201)
                        .body(Body::from(
                            serde_json::to_vec(&serde_json::json!({
                                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                "metadata": {}, "spec": {}, "status": {"authenticated": false}
                            }))
                            .unwrap(),
                        ))
                        .unwrap(),
                );
            };
            let (v, ()) = tokio::time::timeout(Duration::from_secs(5), async {
                tokio::join!(r.review(token), answer)
            })
            .await
            .unwrap_or_else(|_| panic!("{token}: no review asked for"));
            assert_eq!(v.unwrap(), Verdict::Unauthenticated, "{token}");
        }
    }

    #[tokio::test]
    async fn loopback_serves_this_node_only_and_open_everyone() {
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        let here6: IpAddr = "::1".parse().unwrap();
        let there: IpAddr = "10.0.0.7".parse().unwrap();
        let l = MetricsAccess::Loopback;
        assert_eq!(l.check(here, None).await, Ok(()));
        assert_eq!(l.check(here6, None).await, Ok(()));
        let (code, body) = l.check(there, Some("Bearer t")).await.unwrap_err();
        assert_eq!(code, StatusCode::FORBIDDEN);
        assert!(body.contains("--metrics-access loopback"), "{body}");
        assert_eq!(MetricsAccess::Open.check(there, None).await, Ok(()));
    }
}
