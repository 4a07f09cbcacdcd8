//! `/metrics` behind `--metrics-access kubernetes` (the default), through the real health server on a
//! loopback port and the mock API service: the exact TokenReview and SubjectAccessReview the agent
//! sends (each checked against its RBAC by `serve`), 401 without a token or with one the API server
//! does not know, 403 for a known user without `get /metrics`, 200 for an allowed one, the answer
//! cached (no second review), 503 when the API server cannot be asked; `/healthz` stays open.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use plumber::cluster::agent::health;
use plumber::cluster::metrics_access::{MetricsAccess, Reviewer};
use serde_json::json;
use tower_test::mock;

use super::{serve, Handle};

/// `GET path` on `addr` (with `Authorization: Bearer token`), from a blocking thread: status, the
/// `WWW-Authenticate` header, body.
async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, Option<String>, String) {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: node\r\n{}Connection: close\r\n\r\n",
        token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default()
    );
    let raw = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        raw
    })
    .await
    .unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let www = head
        .lines()
        .find_map(|l| l.strip_prefix("www-authenticate: "))
        .map(str::to_string);
    (status, www, body.to_string())
}

fn token_review(authenticated: bool) -> serde_json::Value {
    let mut status = json!({"authenticated": authenticated});
    if authenticated {
        status["user"] = json!({
            "username": "system:serviceaccount:monitoring:prometheus",
            "uid": "u-1",
            "groups": ["system:serviceaccounts", "system:authenticated"],
        });
    }
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {},
           "spec": {}, "status": status})
}

fn access_review(allowed: bool) -> serde_json::Value {
    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {},
           "spec": {}, "status": {"allowed": allowed}})
}

const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
const ACCESS_REVIEWS: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

/// Answers the reviews of one token: the TokenReview (asserting its body), then, when the token is
/// known, the SubjectAccessReview for `get /metrics` by that user (asserting its body).
async fn reviews(server: &mut Handle, token: &str, known: bool, allowed: bool) {
    let tr = serve(server, 201, Some(token_review(known))).await;
    assert!(tr.is("POST", TOKEN_REVIEWS), "{tr:?}");
    assert_eq!(tr.body["spec"], json!({"token": token}), "{tr:?}");
    if known {
        let sar = serve(server, 201, Some(access_review(allowed))).await;
        assert!(sar.is("POST", ACCESS_REVIEWS), "{sar:?}");
        assert_eq!(
            sar.body["spec"],
            json!({
                "user": "system:serviceaccount:monitoring:prometheus",
                "uid": "u-1",
                "groups": ["system:serviceaccounts", "system:authenticated"],
                "nonResourceAttributes": {"path": "/metrics", "verb": "get"},
            }),
            "{sar:?}"
        );
    }
}

pub(super) async fn scenario_metrics_are_served_to_tokens_the_api_server_allows() {
    let (svc, mut server) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");
    let state = Arc::new(health::State::new(Duration::from_secs(600)));
    let access = Arc::new(MetricsAccess::Kubernetes(Reviewer::new(client)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(health::serve(listener, access, state));
    // A response at all means no review was asked for: the mock answers none here.
    let (code, www, _) = get(addr, "/metrics", None).await;
    assert_eq!(
        (code, www.as_deref()),
        (StatusCode::UNAUTHORIZED.as_u16(), Some("Bearer"))
    );
    assert_eq!(get(addr, "/healthz", None).await.0, 200);

    let (code, _, body) = tokio::join!(
        get(addr, "/metrics", Some("good")),
        reviews(&mut server, "good", true, true)
    )
    .0;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("plumber_agent_api_errors_total 0"), "{body}");
    // Cached: no review this time.
    assert_eq!(get(addr, "/metrics", Some("good")).await.0, 200);

    let ((code, _, body), _) = tokio::join!(
        get(addr, "/metrics", Some("reader-not")),
        reviews(&mut server, "reader-not", true, false)
    );
    assert_eq!(code, 403);
    assert_eq!(
        body,
        "system:serviceaccount:monitoring:prometheus may not get /metrics \
         (see ClusterRole plumber-metrics-reader)\n"
    );
    assert!(!body.contains("plumber_agent"));

    let ((code, _, _), _) = tokio::join!(
        get(addr, "/metrics", Some("made-up")),
        reviews(&mut server, "made-up", false, false)
    );
    assert_eq!(code, 401);

    // The API server failing: 503, and not cached (the next request asks again).
    let ((code, _, _), tr) = tokio::join!(
        get(addr, "/metrics", Some("later")),
        serve(
            &mut server,
            500,
            Some(json!({"kind": "Status", "apiVersion": "v1",
            "metadata": {}, "status": "Failure", "message": "etcd is down", "code": 500}))
        )
    );
    assert!(tr.is("POST", TOKEN_REVIEWS), "{tr:?}");
    assert_eq!(code, 503);
    let ((code, _, _), _) = tokio::join!(
        get(addr, "/metrics", Some("later")),
        reviews(&mut server, "later", true, true)
    );
    assert_eq!(code, 200);
    served.abort();
}

#[tokio::test]
async fn metrics_are_served_to_tokens_the_api_server_allows() {
    scenario_metrics_are_served_to_tokens_the_api_server_allows().await;
}
