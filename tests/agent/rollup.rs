//! `plumber rollup` against the mock API server: the exact server-side apply of a template's status
//! (PATCH `hostnetworktemplates/NAME/status`, field manager `plumber-rollup`, forced,
//! `application/apply-patch+yaml`), nothing when nothing changed (a second sync, a restart that reads
//! an identical status), a node turning Degraded, and the real watchers' list and watch calls; every
//! request checked against `plumber::cluster::access::ROLLUP`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use http::{Request, Response};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::client::Body;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::Event;
use kube::Api;
use plumber::cluster::crd::HostNetworkTemplateStatus;
use plumber::cluster::rollup::{self, Change, Rollup, TemplateView};
use serde_json::{json, Value};
use tower_test::mock;

type Handle = mock::Handle<Request<Body>, Response<Body>>;
type Respond = mock::SendResponse<Response<Body>>;

const TEMPLATES: &str = "/apis/plumber.k8s.pf9.io/v1/hostnetworktemplates";
const HOST_NETWORKS: &str = "/apis/plumber.k8s.pf9.io/v1/hostnetworks";
const NODES: &str = "/api/v1/nodes";
const APPLY: &str = "application/apply-patch+yaml";
const T0: i64 = 1_800_000_000;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    accept: Option<String>,
    content_type: Option<String>,
    body: Value,
}

impl Seen {
    /// The query's pairs, in order.
    fn pairs(&self) -> Vec<(&str, &str)> {
        self.query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
            .collect()
    }

    /// Asserts the rollup's RBAC grants the request; returns its verb.
    fn granted(&self) -> String {
        let (group, resource, verb) =
            plumber::cluster::access::request_verb(&self.method, &self.path, &self.query)
                .unwrap_or_else(|| panic!("not a resource request: {self:?}"));
        assert!(
            plumber::cluster::access::grants(
                plumber::cluster::access::ROLLUP,
                &group,
                &resource,
                &verb
            ),
            "ROLLUP does not grant {verb} on {group}/{resource}: {self:?}"
        );
        verb
    }
}

/// The next request (failing after 5 s), and the handle to answer it with.
async fn next(h: &mut Handle) -> (Seen, Respond) {
    let (req, send) = tokio::time::timeout(Duration::from_secs(5), h.next_request())
        .await
        .expect("a request within 5 s")
        .expect("the client is alive");
    let (parts, b) = req.into_parts();
    let bytes = b.collect_bytes().await.unwrap();
    let header = |n: http::header::HeaderName| {
        parts
            .headers
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        accept: header(http::header::ACCEPT),
        content_type: header(http::header::CONTENT_TYPE),
        body: if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        },
    };
    seen.granted();
    (seen, send)
}

fn answer(send: Respond, status: u16, body: &Value) {
    send.send_response(
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap(),
    );
}

/// Answers the next request with its own body (as the server returns an applied object: with a
/// resourceVersion); returns it.
async fn serve_echo(h: &mut Handle) -> Seen {
    let (seen, send) = next(h).await;
    let mut out = seen.body.clone();
    out["metadata"]["resourceVersion"] = json!("2");
    out["metadata"]["generation"] = json!(3);
    answer(send, 200, &out);
    seen
}

/// Nothing was sent.
fn assert_quiet(h: &mut Handle) {
    if let Some(Some((req, _))) = h.next_request().now_or_never() {
        panic!("unexpected request {} {}", req.method(), req.uri());
    }
}

fn ts(s: i64) -> String {
    Timestamp::from_second(s)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

// ---------------------------------------------------------------------------------------------------
// Objects as the server sends them

fn template(generation: i64, status: Option<Value>) -> Value {
    let mut t = json!({
        "apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetworkTemplate",
        "metadata": {"name": "jumbo", "generation": generation, "resourceVersion": "1"},
        "spec": {"nodeSelector": {"rack": "r1"}, "interfaceConfig": [{"name": "eth0", "mtu": 9000}]},
    });
    if let Some(s) = status {
        t["status"] = s;
    }
    t
}

fn node(name: &str, rack: &str) -> Value {
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
           "metadata": {"name": name, "resourceVersion": "1",
                        "labels": {"rack": rack, "kubernetes.io/hostname": name}}})
}

fn condition(type_: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": if status { "True" } else { "False" }, "reason": reason,
           "message": message, "lastTransitionTime": ts(T0 - 100)})
}

/// A HostNetwork whose last successful apply had `jumbo` at `generation`, with its discovered state.
fn host_network(name: &str, generation: i64, degraded: Option<&str>) -> Value {
    let mut conditions = vec![
        condition(
            "Available",
            degraded.is_none(),
            "Applied",
            "the node matches templates jumbo",
        ),
        condition("Progressing", false, "Reconciled", "no apply in progress"),
    ];
    conditions.push(match degraded {
        Some(m) => condition("Degraded", true, "RolledBack", m),
        None => condition("Degraded", false, "AsExpected", "the last apply succeeded"),
    });
    json!({
        "apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetwork",
        "metadata": {"name": name, "resourceVersion": "1"},
        "spec": {},
        "status": {
            "interfaceStatus": [], "routes": {"ipv4": [], "ipv6": []},
            "links": (0..200).map(|i| json!({"name": format!("vf{i}"), "kind": "device", "mtu": 1500, "up": true}))
                .collect::<Vec<_>>(),
            "appliedTemplates": [{"name": "jumbo", "generation": generation}],
            "lastApply": {"result": if degraded.is_some() { "rolled-back" } else { "applied" },
                          "time": ts(T0 - 100), "digest": "d"},
            "conditions": conditions,
        }
    })
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "10"}, "items": items})
}

fn parse<K: serde::de::DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).unwrap()
}

// ---------------------------------------------------------------------------------------------------
// The rig

struct Rig {
    rollup: Rollup,
    api: Api<TemplateView>,
    server: Handle,
    clock: Arc<AtomicI64>,
}

fn rig() -> Rig {
    let (svc, server) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");
    let clock = Arc::new(AtomicI64::new(T0));
    let c = clock.clone();
    let rollup = Rollup::new().with_clock(Box::new(move || {
        Time(Timestamp::from_second(c.load(Ordering::SeqCst)).unwrap())
    }));
    let (api, _) = rollup::template_watch(client);
    Rig {
        rollup,
        api,
        server,
        clock,
    }
}

/// Feeds one complete listing of each kind, as the watchers deliver them.
fn listed(r: &mut Rollup, templates: Vec<Value>, nodes: Vec<Value>, host_networks: Vec<Value>) {
    r.on_template(Event::Init);
    for t in templates {
        r.on_template(Event::InitApply(parse(t)));
    }
    r.on_template(Event::InitDone);
    r.on_node(Event::<PartialObjectMeta<Node>>::Init);
    for n in nodes {
        r.on_node(Event::InitApply(parse::<PartialObjectMeta<Node>>(n)));
    }
    r.on_node(Event::<PartialObjectMeta<Node>>::InitDone);
    r.on_host_network(Event::Init);
    for h in host_networks {
        r.on_host_network(Event::InitApply(parse(h)));
    }
    r.on_host_network(Event::InitDone);
    assert!(r.ready());
}

/// The usual cluster: jumbo (generation 3, rack=r1); node-1 and node-2 in r1, node-3 in r2; node-1
/// applied jumbo@3, node-3 too (not matched), node-2 has no HostNetwork yet.
fn cluster(r: &mut Rollup, template_status: Option<Value>) {
    listed(
        r,
        vec![template(3, template_status)],
        vec![
            node("node-1", "r1"),
            node("node-2", "r1"),
            node("node-3", "r2"),
        ],
        vec![
            host_network("node-1", 3, None),
            host_network("node-3", 3, None),
        ],
    );
}

/// A sync that must send nothing.
async fn sync_quietly(r: &mut Rig) {
    let report = tokio::time::timeout(Duration::from_secs(5), r.rollup.sync(&r.api))
        .await
        .expect("the sync sent a request although nothing changed");
    assert_eq!(report, rollup::SyncReport::default());
    assert_quiet(&mut r.server);
}

/// A sync that sends exactly one request (answered with its own body); returns it.
async fn sync_once(r: &mut Rig) -> Seen {
    let (report, seen) = tokio::join!(r.rollup.sync(&r.api), serve_echo(&mut r.server));
    assert_eq!(report.writes, 1, "{report:?}");
    assert!(report.errors.is_empty(), "{report:?}");
    assert_quiet(&mut r.server);
    seen
}

fn assert_ssa(s: &Seen) {
    assert_eq!(s.method, "PATCH", "{s:?}");
    assert_eq!(s.path, format!("{TEMPLATES}/jumbo/status"));
    let mut q = s.pairs();
    q.sort();
    assert_eq!(q, [("fieldManager", "plumber-rollup"), ("force", "true")]);
    assert_eq!(s.content_type.as_deref(), Some(APPLY));
    assert_eq!(s.granted(), "patch");
}

// ---------------------------------------------------------------------------------------------------
// The cases

#[tokio::test]
async fn the_status_is_applied_once_and_not_again() {
    let mut r = rig();
    cluster(&mut r.rollup, None);
    let seen = sync_once(&mut r).await;
    assert_ssa(&seen);
    let t0 = ts(T0);
    assert_eq!(
        seen.body,
        json!({
            "apiVersion": "plumber.k8s.pf9.io/v1",
            "kind": "HostNetworkTemplate",
            "metadata": {"name": "jumbo"},
            "status": {
                "observedGeneration": 3,
                "nodesMatched": 2,
                "nodesApplied": 1,
                "nodesFailed": 0,
                "conditions": [
                    {"type": "Available", "status": "False", "reason": "NodesPending",
                     "message": "1 of 2 matched nodes applied generation 3 (0 failed, 1 pending)",
                     "observedGeneration": 3, "lastTransitionTime": t0},
                    {"type": "Progressing", "status": "True", "reason": "NodesPending",
                     "message": "1 of 2 matched nodes has not applied generation 3 yet (1 has no HostNetwork yet)",
                     "observedGeneration": 3, "lastTransitionTime": t0},
                    {"type": "Degraded", "status": "False", "reason": "AsExpected",
                     "message": "no matched node failed",
                     "observedGeneration": 3, "lastTransitionTime": t0},
                ]
            }
        })
    );

    // Nothing changed: nothing is sent, later either.
    r.clock.store(T0 + 60, Ordering::SeqCst);
    sync_quietly(&mut r).await;
    // The watch event of the write (the status the server has) changes nothing.
    let echo = template(3, Some(seen.body["status"].clone()));
    assert!(!r.rollup.on_template(Event::Apply(parse(echo))));
    sync_quietly(&mut r).await;
    // A HostNetwork whose discovered state alone changed is no change at all.
    let mut h = host_network("node-1", 3, None);
    h["status"]["links"] = json!([]);
    assert!(!r.rollup.on_host_network(Event::Apply(parse(h))));

    // node-2 applies: Available and Progressing flip, Degraded keeps its time.
    r.clock.store(T0 + 120, Ordering::SeqCst);
    assert!(r
        .rollup
        .on_host_network(Event::Apply(parse(host_network("node-2", 3, None)))));
    let seen = sync_once(&mut r).await;
    assert_ssa(&seen);
    let s = &seen.body["status"];
    assert_eq!(
        (s["nodesMatched"].as_i64(), s["nodesApplied"].as_i64()),
        (Some(2), Some(2))
    );
    let c = s["conditions"].as_array().unwrap();
    assert_eq!(c[0]["status"], "True");
    assert_eq!(c[0]["reason"], "AllNodesApplied");
    assert_eq!(c[0]["lastTransitionTime"], ts(T0 + 120));
    assert_eq!(c[1]["status"], "False");
    assert_eq!(c[1]["lastTransitionTime"], ts(T0 + 120));
    assert_eq!(c[2]["lastTransitionTime"], ts(T0));
}

#[tokio::test]
async fn a_restart_that_reads_the_same_status_writes_nothing() {
    // The status a previous rollup wrote, as the server returns it (conditions in another order).
    let mut first = rig();
    cluster(&mut first.rollup, None);
    let seen = sync_once(&mut first).await;
    let mut status = seen.body["status"].clone();
    status["conditions"].as_array_mut().unwrap().reverse();
    let _: HostNetworkTemplateStatus = parse(status.clone());

    // A new rollup, an hour later, with the same cluster: nothing to write.
    let mut r = rig();
    r.clock.store(T0 + 3600, Ordering::SeqCst);
    cluster(&mut r.rollup, Some(status.clone()));
    sync_quietly(&mut r).await;

    // The template changes (a new generation): written, with the new observedGeneration.
    assert!(r
        .rollup
        .on_template(Event::Apply(parse(template(4, Some(status))))));
    let seen = sync_once(&mut r).await;
    assert_ssa(&seen);
    assert_eq!(seen.body["status"]["observedGeneration"], 4);
    assert_eq!(seen.body["status"]["nodesApplied"], 0);
}

#[tokio::test]
async fn a_node_turning_degraded_is_counted_and_named() {
    let mut r = rig();
    cluster(&mut r.rollup, None);
    sync_once(&mut r).await;

    // node-2's first apply fails (its last successful apply, elsewhere, had generation 2).
    r.clock.store(T0 + 30, Ordering::SeqCst);
    let failing = host_network(
        "node-2",
        2,
        Some("set mtu of eth0: 1500 -> 9000: Invalid argument\nrolled back 2 changes"),
    );
    assert!(r.rollup.on_host_network(Event::Apply(parse(failing))));
    let seen = sync_once(&mut r).await;
    assert_ssa(&seen);
    let s = &seen.body["status"];
    assert_eq!(s["nodesMatched"], 2);
    assert_eq!(s["nodesApplied"], 1);
    assert_eq!(s["nodesFailed"], 1);
    assert_eq!(s["failedNodes"], json!(["node-2"]));
    let c = s["conditions"].as_array().unwrap();
    assert_eq!(
        c[0],
        json!({"type": "Available", "status": "False", "reason": "NodesFailed",
               "message": "1 of 2 matched nodes applied generation 3 (1 failed, 0 pending)",
               "observedGeneration": 3, "lastTransitionTime": ts(T0)})
    );
    assert_eq!(c[1]["status"], "False");
    assert_eq!(c[1]["reason"], "Settled");
    assert_eq!(c[1]["lastTransitionTime"], ts(T0 + 30));
    assert_eq!(
        c[2],
        json!({"type": "Degraded", "status": "True", "reason": "NodesFailed",
               "message": "1 of 2 matched nodes failed: node-2 (RolledBack: set mtu of eth0: 1500 -> 9000: Invalid argument)",
               "observedGeneration": 3, "lastTransitionTime": ts(T0 + 30)})
    );

    // A failed write is reported and retried by the next sync; a template deleted is dropped.
    r.clock.store(T0 + 40, Ordering::SeqCst);
    r.rollup
        .on_host_network(Event::Delete(parse(host_network("node-2", 2, None))));
    let Rig {
        rollup,
        api,
        server,
        ..
    } = &mut r;
    let (report, ()) = tokio::join!(rollup.sync(api), async {
        let (_, send) = next(server).await;
        answer(
            send,
            500,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "etcd is down", "reason": "InternalError", "code": 500}),
        );
    });
    assert_eq!(report.writes, 0);
    assert_eq!(report.errors.len(), 1, "{report:?}");
    let seen = sync_once(&mut r).await;
    assert_eq!(seen.body["status"]["nodesFailed"], 0);
    assert!(r
        .rollup
        .on_template(Event::Delete(parse(template(3, None)))));
    sync_quietly(&mut r).await;
}

#[tokio::test]
async fn the_real_watchers_list_and_watch_with_granted_verbs() {
    let (svc, mut server) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");
    let changes = rollup::changes(client.clone());
    let collected: Arc<Mutex<Vec<Change>>> = Arc::default();
    let sink = collected.clone();
    let collect = async move {
        futures::pin_mut!(changes);
        while let Some(c) = changes.next().await {
            sink.lock().unwrap().push(c);
        }
    };
    // Answers the three lists, and holds the three watches that follow (unanswered: the watchers wait).
    let serve = async {
        let mut lists = Vec::new();
        let mut watches = Vec::new();
        while lists.len() < 3 || watches.len() < 3 {
            let (seen, send) = next(&mut server).await;
            match seen.granted().as_str() {
                "list" => {
                    let body = match seen.path.as_str() {
                        TEMPLATES => list("HostNetworkTemplateList", vec![template(3, None)]),
                        NODES => list(
                            "PartialObjectMetadataList",
                            vec![node("node-1", "r1"), node("node-2", "r1")],
                        ),
                        HOST_NETWORKS => list(
                            "HostNetworkList",
                            vec![
                                host_network("node-1", 3, None),
                                host_network("node-2", 3, None),
                            ],
                        ),
                        p => panic!("a list of {p}"),
                    };
                    answer(send, 200, &body);
                    lists.push(seen);
                }
                "watch" => watches.push((seen, send)),
                v => panic!("{v}: {:?}", seen),
            }
        }
        (lists, watches)
    };
    let (lists, watches) = tokio::select! {
        _ = collect => panic!("the watchers stopped"),
        done = serve => done,
    };
    let by_path = |p: &str| lists.iter().find(|s| s.path == p).unwrap();
    assert_eq!(by_path(TEMPLATES).pairs(), [("limit", "500")]);
    assert_eq!(by_path(HOST_NETWORKS).pairs(), [("limit", "50")]);
    // Nodes: metadata only.
    let accept = by_path(NODES).accept.clone().unwrap_or_default();
    assert!(accept.contains("as=PartialObjectMetadata"), "{accept}");
    for (w, _) in &watches {
        assert!(w.pairs().contains(&("watch", "true")), "{w:?}");
        assert!(w.pairs().contains(&("resourceVersion", "10")), "{w:?}");
    }

    // What they delivered makes a ready rollup whose sync writes the status.
    let mut r = Rollup::new();
    for c in collected.lock().unwrap().drain(..) {
        assert!(!matches!(c, Change::Error { .. }), "{c:?}");
        r.on_change(c);
    }
    assert!(r.ready());
    assert_eq!(r.sizes(), (1, 2, 2));
    assert!(r.report("node-2").unwrap().has_applied("jumbo", Some(3)));
    let (api, _) = rollup::template_watch(client);
    let (report, seen) = tokio::join!(r.sync(&api), serve_echo(&mut server));
    assert_eq!(report.writes, 1);
    assert_ssa(&seen);
    assert_eq!(seen.body["status"]["nodesApplied"], 2);
    drop(watches);
}
