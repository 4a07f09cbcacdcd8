//! The agent's `/metrics` with `--metrics-access kubernetes` (the default) against the real API server:
//! a ServiceAccount bound to deploy/'s ClusterRole `plumber-metrics-reader` reads the metrics, one that
//! is not bound gets 403 naming it, no token gets 401, and the kubelet's `/healthz` stays open. The
//! requests come from inside the node's network namespace, where the agent listens.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use serde_json::json;

use crate::harness::cluster::shared;
use crate::harness::deploy::{token, NAMESPACE};
use crate::harness::node::{SimNode, CASE};
use crate::harness::status;
use crate::harness::wait;

/// The agent's health port (its default).
const PORT: u16 = 9472;

fn setns(f: &File) {
    // SAFETY: setns(2) on an open namespace file; changes only the calling thread's namespace.
    assert_eq!(
        unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) },
        0,
        "setns: {}",
        std::io::Error::last_os_error()
    );
}

/// `GET path` on the agent of `node` (127.0.0.1 in its namespace) with `token`: status and body. The
/// socket is made in the namespace by a thread that enters it and comes back.
fn get(node: &SimNode, path: &str, token: Option<&str>) -> (u16, String) {
    let ns = format!("/run/netns/{}", node.netns);
    let stream = std::thread::scope(|s| {
        s.spawn(|| {
            let home = File::open("/proc/thread-self/ns/net").unwrap();
            setns(&File::open(&ns).unwrap());
            let stream = TcpStream::connect(("127.0.0.1", PORT));
            setns(&home);
            stream
        })
        .join()
        .unwrap()
    });
    let mut stream =
        stream.unwrap_or_else(|e| panic!("connecting to the agent of {}: {e}", node.name));
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: node\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.to_string(),
    )
}

#[test]
fn metrics_are_served_to_a_reader_bound_by_rbac_and_refused_to_others() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    let mut node = c.node("metrics-1", &[(CASE, "metrics")]);
    node.start_agent();
    status::wait_host_network(&admin, "metrics-1", "Available NoTemplates", |hn| {
        status::is(hn, "Available", "True", "NoTemplates")
    });
    for sa in ["scraper", "stranger"] {
        admin
            .apply(
                &format!("/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{sa}"),
                &json!({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": sa, "namespace": NAMESPACE}}),
            )
            .unwrap();
    }
    admin
        .apply(
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/scraper-reads-plumber-metrics",
            &json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "scraper-reads-plumber-metrics"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "plumber-metrics-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "scraper", "namespace": NAMESPACE}],
            }),
        )
        .unwrap();
    let scraper = token(&admin, "scraper");
    let stranger = token(&admin, "stranger");

    assert_eq!(get(&node, "/healthz", None).0, 200);
    assert_eq!(get(&node, "/metrics", None).0, 401);
    assert_eq!(get(&node, "/metrics", Some("not-a-token")).0, 401);
    let (code, body) = get(&node, "/metrics", Some(&stranger));
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body,
        format!(
            "system:serviceaccount:{NAMESPACE}:stranger may not get /metrics (see ClusterRole \
             plumber-metrics-reader)\n"
        )
    );
    // RBAC takes effect as the API server's authorizer sees the new binding: wait for it, not a time.
    let body = wait::until(
        "the scraper's token reads the metrics",
        std::time::Duration::from_secs(30),
        |last| {
            let (code, body) = get(&node, "/metrics", Some(&scraper));
            *last = format!("{code}: {body}");
            (code == 200).then_some(body)
        },
    );
    assert!(
        body.contains("plumber_agent_reconcile_duration_seconds"),
        "{body}"
    );
}
