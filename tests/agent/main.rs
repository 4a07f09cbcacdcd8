//! The agent's reconcile against a mock API server (`tower_test::mock::pair` plays kube-apiserver) and a
//! fake applier ([`plumber::cluster::agent::reconcile::Host`]; the real one is covered by `tests/apply`): the
//! exact requests for creating the HostNetwork and applying its status (server-side apply, field
//! manager `plumber-agent`, forced, `application/apply-patch+yaml`), none when nothing changed (also
//! across a restart), conflicts reported as Degraded naming both templates and the field with nothing
//! applied, a deleted template reverting through an apply of the rest, condition transition times, and
//! Events on success and failure.

mod metrics_access;
mod rollup;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use http::{Request, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::client::Body;
use plumber::cluster::agent::health;
use plumber::cluster::agent::reconcile::{Host, Report, Verdict};
use plumber::cluster::agent::{Agent, Pass};
use plumber::cluster::crd::{HostNetworkTemplate, HostNetworkTemplateSpec, TemplateObject};
use plumber::node::apply::{Change, FileChange, Outcome, Record};
use plumber::node::plan::Op;
use plumber_render::inventory;
use plumber_render::node::TemplateRef;
use plumber_render::parse::Loaded;
use plumber_render::select::Labels;
use serde_json::{json, Value};
use tower_test::mock;

const NODE: &str = "node-1";
const HN: &str = "/apis/plumber.k8s.pf9.io/v1/hostnetworks/node-1";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";
const APPLY: &str = "application/apply-patch+yaml";

// ---------------------------------------------------------------------------------------------------
// The fake applier

/// Records every apply (template names with generations) and answers with the queued reports (an
/// `Unchanged` one with the last digest when none is queued).
#[derive(Clone, Default)]
struct FakeHost {
    calls: Arc<Mutex<Vec<Vec<String>>>>,
    next: Arc<Mutex<VecDeque<Report>>>,
    /// The NICs `observe` reports (`interfaceStatus`); none unless a test sets them.
    nics: Arc<Mutex<Option<Value>>>,
    observed: Arc<AtomicUsize>,
}

impl FakeHost {
    fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().unwrap().clone()
    }
    fn queue(&self, r: Report) {
        self.next.lock().unwrap().push_back(r);
    }
}

impl Host for FakeHost {
    async fn apply(&mut self, templates: &[Loaded], _labels: &Labels) -> Report {
        let names: Vec<String> = templates
            .iter()
            .map(|t| {
                format!(
                    "{}@{}",
                    t.name(),
                    t.template.metadata.generation.unwrap_or(0)
                )
            })
            .collect();
        self.calls.lock().unwrap().push(names.clone());
        self.next
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| report(Outcome::Unchanged, templates, 999, None))
    }

    async fn observe(&mut self) -> Result<inventory::HostNetworkStatus, String> {
        self.observed.fetch_add(1, Ordering::SeqCst);
        let mut d = discovered();
        if let Some(nics) = self.nics.lock().unwrap().clone() {
            d.interface_status = serde_json::from_value(nics).unwrap();
        }
        Ok(d)
    }
}

fn discovered() -> inventory::HostNetworkStatus {
    serde_json::from_value(json!({
        "links": [{"name": "eth0", "kind": "device", "mtu": 9000, "up": true}],
        "routes": {}
    }))
    .unwrap()
}

/// A report as the applier gives it for `templates` (digest: their names).
fn report(outcome: Outcome, templates: &[Loaded], time: u64, error: Option<&str>) -> Report {
    let names: Vec<&str> = templates.iter().map(|t| t.name()).collect();
    report_named(outcome, &names, time, error)
}

fn report_named(outcome: Outcome, names: &[&str], time: u64, error: Option<&str>) -> Report {
    let failed = !matches!(outcome, Outcome::Applied | Outcome::Unchanged);
    Report {
        outcome,
        record: Some(Record {
            templates: names
                .iter()
                .map(|n| TemplateRef {
                    name: n.to_string(),
                    priority: 0,
                    generation: Some(1),
                })
                .collect(),
            digest: if failed && outcome == Outcome::Refused {
                String::new()
            } else {
                format!("digest-of-{}", names.join("+"))
            },
            changes: if outcome == Outcome::Applied {
                vec![
                    Change::file(&FileChange::Update {
                        path: "/etc/x".into(),
                    }),
                    Change::link(&Op::SetMtu {
                        link: "eth0".into(),
                        mtu: 9000,
                        previous: Some(1500),
                    }),
                ]
            } else {
                vec![]
            },
            netlink_writes: 1,
            error: error.map(str::to_string),
            ..Record::new(outcome, time)
        }),
        error: error.map(str::to_string),
        conflicts: vec![],
        templates: vec![],
    }
}

// ---------------------------------------------------------------------------------------------------
// The mock API server

type Handle = mock::Handle<Request<Body>, Response<Body>>;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    content_type: Option<String>,
    body: Value,
}

impl Seen {
    fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

/// Receives the next request (failing after 5 s) and answers it with `status` and `body`
/// (`None`: the request's own body, given a uid, as the server returns an applied object).
async fn serve(h: &mut Handle, status: u16, body: Option<Value>) -> Seen {
    let (req, send) = tokio::time::timeout(Duration::from_secs(5), h.next_request())
        .await
        .expect("a request within 5 s")
        .expect("the client is alive");
    let (parts, b) = req.into_parts();
    let bytes = b.collect_bytes().await.unwrap();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string()),
        body: if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        },
    };
    // Every request the agent makes is one its RBAC (deploy/rbac.yaml, checked against the same
    // table by tests/crd) grants.
    let (group, resource, verb) = plumber::cluster::access::request_verb(
        &seen.method,
        &seen.path,
        parts.uri.query().unwrap_or(""),
    )
    .unwrap_or_else(|| panic!("not a resource request: {seen:?}"));
    assert!(
        plumber::cluster::access::grants(plumber::cluster::access::AGENT, &group, &resource, &verb),
        "the agent's RBAC does not grant {verb} on {resource} in group {group:?}: {seen:?}"
    );
    // A server-side apply that creates the object (answered 201) is authorized as `create` too.
    if verb == "patch" && status == 201 && seen.content_type.as_deref() == Some(APPLY) {
        assert!(
            plumber::cluster::access::grants(
                plumber::cluster::access::AGENT,
                &group,
                &resource,
                "create"
            ),
            "an apply creating {resource} needs create: {seen:?}"
        );
        EXERCISED
            .lock()
            .unwrap()
            .insert((group.clone(), resource.clone(), "create".into()));
    }
    EXERCISED.lock().unwrap().insert((group, resource, verb));
    let out = body.unwrap_or_else(|| {
        let mut b = seen.body.clone();
        // The server returns the whole object (the main resource's `spec: {}` included).
        if b.get("spec").is_none() {
            b["spec"] = json!({});
        }
        b["metadata"]["uid"] = json!("uid-1");
        b["metadata"]["resourceVersion"] = json!("1");
        b
    });
    send.send_response(
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&out).unwrap()))
            .unwrap(),
    );
    seen
}

fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": "hostnetworks.plumber.k8s.pf9.io \"node-1\" not found", "reason": "NotFound",
           "details": {"name": "node-1", "group": "plumber.k8s.pf9.io", "kind": "hostnetworks"},
           "code": 404})
}

/// Asserts a server-side apply of the agent's: PATCH, forced, field manager plumber-agent, the
/// apply-patch content type, the object's identity in the body.
fn assert_ssa(s: &Seen, path: &str) {
    assert_eq!(s.method, "PATCH", "{s:?}");
    assert_eq!(s.path, path);
    let q: Vec<(&str, &str)> = s
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(q, [("fieldManager", "plumber-agent"), ("force", "true")]);
    assert_eq!(s.content_type.as_deref(), Some(APPLY));
    assert_eq!(s.body["apiVersion"], "plumber.k8s.pf9.io/v1");
    assert_eq!(s.body["kind"], "HostNetwork");
    assert_eq!(s.body["metadata"], json!({"name": NODE}));
}

/// Nothing was sent (the agent is done and nothing is queued).
fn assert_quiet(h: &mut Handle) {
    if let Some(Some((req, _))) = h.next_request().now_or_never() {
        panic!("unexpected request {} {}", req.method(), req.uri());
    }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

struct Rig {
    agent: Agent<FakeHost>,
    host: FakeHost,
    server: Handle,
    clock: Arc<AtomicI64>,
    state: Arc<health::State>,
}

fn rig() -> Rig {
    let (svc, server) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");
    let host = FakeHost::default();
    let clock = Arc::new(AtomicI64::new(1_800_000_000));
    let c = clock.clone();
    let state = Arc::new(health::State::new(Duration::from_secs(600)));
    let agent =
        Agent::new(client, NODE, host.clone(), state.clone()).with_clock(Box::new(move || {
            Time(Timestamp::from_second(c.load(Ordering::SeqCst)).unwrap())
        }));
    Rig {
        agent,
        host,
        server,
        clock,
        state,
    }
}

fn template(name: &str, generation: i64, spec: &str) -> TemplateObject {
    let spec: plumber_render::model::TemplateSpec = serde_yaml::from_str(spec).unwrap();
    let mut t = HostNetworkTemplate::new(name, HostNetworkTemplateSpec(spec));
    t.metadata.generation = Some(generation);
    TemplateObject::from(&t)
}

fn labels() -> Labels {
    plumber_render::select::parse_labels("rack=r1").unwrap()
}

fn ts(s: i64) -> String {
    Timestamp::from_second(s)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn condition<'v>(status: &'v Value, type_: &str) -> &'v Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} in {status}"))
}

/// `start()` against a server that has no HostNetwork yet.
async fn start_empty(r: &mut Rig) {
    let (res, seen) = tokio::join!(
        r.agent.start(),
        serve(&mut r.server, 404, Some(not_found()))
    );
    res.unwrap();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, HN);
}

/// A reconcile run against a server that answers the requests, in order, with `answers`
/// (`(status, body)`; no body: the request's own, as an applied object is returned), and what it saw.
async fn reconcile_with(
    r: &mut Rig,
    templates: &[&TemplateObject],
    answers: Vec<(u16, Option<Value>)>,
) -> (Pass, Vec<Seen>) {
    let l = labels();
    let Rig { agent, server, .. } = r;
    let script = async move {
        let mut seen = Vec::new();
        for (status, body) in answers {
            seen.push(serve(server, status, body).await);
        }
        seen
    };
    tokio::join!(agent.reconcile(templates, &l), script)
}

/// A reconcile that must send nothing (it would wait forever for an answer: fail after 5 s).
async fn reconcile_quietly(r: &mut Rig, templates: &[&TemplateObject]) -> Pass {
    let l = labels();
    let pass = tokio::time::timeout(Duration::from_secs(5), r.agent.reconcile(templates, &l))
        .await
        .expect("the reconcile sent a request although nothing changed");
    assert_quiet(&mut r.server);
    pass
}

const MTU_9000: &str = "interfaceConfig: [{name: eth0, mtu: 9000}]";

// ---------------------------------------------------------------------------------------------------
// The cases

#[tokio::test]
async fn first_publish_creates_the_object_then_applies_its_status() {
    scenario_first_publish_creates_the_object_then_applies_its_status().await
}

async fn scenario_first_publish_creates_the_object_then_applies_its_status() {
    let mut r = rig();
    start_empty(&mut r).await;
    let a = template("jumbo", 3, MTU_9000);
    r.host.queue(report_named(
        Outcome::Applied,
        &["jumbo"],
        1_800_000_005,
        None,
    ));

    let (pass, seen) = reconcile_with(
        &mut r,
        &[&a],
        vec![
            (201, None), // create
            (200, None), // status: Progressing
            (200, None), // status: Available
            (201, None), // Event
        ],
    )
    .await;
    assert_eq!(r.host.calls(), [vec!["jumbo@3".to_string()]]);
    assert!(pass.progressing && pass.published);
    assert_eq!(pass.event, Some("Applied"));

    // 1. The object is created by a server-side apply of the main resource (the status subresource
    //    cannot create it).
    assert_ssa(&seen[0], HN);
    assert_eq!(
        seen[0].body,
        json!({"apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetwork",
               "metadata": {"name": NODE}, "spec": {}})
    );
    // 2. Progressing while the new templates are applied.
    let status_path = format!("{HN}/status");
    assert_ssa(&seen[1], &status_path);
    let s1 = &seen[1].body["status"];
    assert_eq!(
        s1["conditions"],
        json!([{"type": "Progressing", "status": "True", "reason": "Applying",
                "message": "applying templates jumbo", "lastTransitionTime": ts(1_800_000_000)}])
    );
    // 3. The whole status after the apply: the discovered node, the applied templates, the last
    //    apply, the conditions.
    assert_ssa(&seen[2], &status_path);
    let t0 = ts(1_800_000_000);
    assert_eq!(
        seen[2].body,
        json!({
            "apiVersion": "plumber.k8s.pf9.io/v1",
            "kind": "HostNetwork",
            "metadata": {"name": NODE},
            "status": {
                "interfaceStatus": [],
                "routes": {"ipv4": [], "ipv6": []},
                "links": [{"name": "eth0", "kind": "device", "mtu": 9000, "up": true}],
                "appliedTemplates": [{"name": "jumbo", "generation": 1}],
                "lastApply": {"result": "applied", "time": ts(1_800_000_005),
                              "digest": "digest-of-jumbo"},
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "Applied",
                     "message": "the node matches templates jumbo", "lastTransitionTime": t0},
                    {"type": "Progressing", "status": "False", "reason": "Reconciled",
                     "message": "no apply in progress", "lastTransitionTime": t0},
                    {"type": "Degraded", "status": "False", "reason": "AsExpected",
                     "message": "the last apply succeeded", "lastTransitionTime": t0},
                ]
            }
        })
    );
    // 4. The Event, on the HostNetwork (cluster-scoped: in default).
    let ev = &seen[3];
    assert!(ev.is("POST", EVENTS), "{ev:?}");
    assert_eq!(ev.body["reason"], "Applied");
    assert_eq!(ev.body["type"], "Normal");
    assert_eq!(ev.body["action"], "Apply");
    assert_eq!(ev.body["reportingController"], "plumber-agent");
    assert_eq!(ev.body["reportingInstance"], NODE);
    assert_eq!(
        ev.body["note"],
        "applied 1 file changes and 1 runtime changes (templates: jumbo)"
    );
    assert_eq!(
        ev.body["regarding"],
        json!({"apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetwork", "name": NODE,
               "uid": "uid-1"})
    );
    assert_quiet(&mut r.server);

    // A second reconcile with nothing changed: the applier is asked (drift), nothing is sent.
    r.clock.fetch_add(60, Ordering::SeqCst);
    let pass = reconcile_quietly(&mut r, &[&a]).await;
    assert_eq!(r.host.calls().len(), 2);
    assert!(!pass.published && !pass.progressing && pass.event.is_none());
    assert_quiet(&mut r.server);
    assert!(health::respond(&r.state, "/metrics")
        .2
        .contains("plumber_agent_status_writes_total 2"));
}

#[tokio::test]
async fn a_restart_with_identical_content_publishes_nothing() {
    // First life: publish.
    let mut r = rig();
    start_empty(&mut r).await;
    let a = template("jumbo", 3, MTU_9000);
    r.host.queue(report_named(
        Outcome::Applied,
        &["jumbo"],
        1_800_000_005,
        None,
    ));
    let (_, seen) = reconcile_with(
        &mut r,
        &[&a],
        vec![(201, None), (200, None), (200, None), (201, None)],
    )
    .await;
    let mut stored = seen[2].body.clone();
    stored["metadata"]["uid"] = json!("uid-1");
    stored["spec"] = json!({});

    // Second life: the server has that object; the applier finds nothing to do.
    let mut r = rig();
    r.clock.fetch_add(3600, Ordering::SeqCst);
    let (res, get) = tokio::join!(r.agent.start(), serve(&mut r.server, 200, Some(stored)));
    res.unwrap();
    assert!(get.is("GET", HN));
    // The same generation: the record the applier returns has the same templates.
    let mut rep = report_named(Outcome::Unchanged, &["jumbo"], 1_800_009_999, None);
    if let Some(rec) = rep.record.as_mut() {
        rec.templates[0].generation = Some(1);
    }
    r.host.queue(rep);
    let mut b = template("jumbo", 1, MTU_9000);
    b.metadata.generation = Some(1);
    let pass = reconcile_quietly(&mut r, &[&b]).await;
    assert!(matches!(pass.verdict, Verdict::Done(ref r) if r.outcome == Outcome::Unchanged));
    assert!(!pass.published, "identical content is not written again");
    assert_quiet(&mut r.server);
}

#[tokio::test]
async fn conflicting_templates_are_degraded_and_nothing_is_applied() {
    let mut r = rig();
    start_empty(&mut r).await;
    let a = template("mtu-a", 1, MTU_9000);
    let b = template("mtu-b", 1, "interfaceConfig: [{name: eth0, mtu: 1500}]");
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&a, &b],
        vec![
            (201, None), // create
            (200, None), // status
            (201, None), // Event
        ],
    )
    .await;
    assert!(r.host.calls().is_empty(), "the applier is not called");
    assert!(matches!(pass.verdict, Verdict::Conflict(_)));
    assert!(!pass.progressing);
    assert_ssa(&seen[0], HN);
    assert_ssa(&seen[1], &format!("{HN}/status"));
    let status = &seen[1].body["status"];
    let degraded = condition(status, "Degraded");
    assert_eq!(degraded["status"], "True");
    assert_eq!(degraded["reason"], "TemplateConflict");
    let msg = degraded["message"].as_str().unwrap();
    for needle in ["mtu-a", "mtu-b", "eth0", "mtu", "9000", "1500"] {
        assert!(msg.contains(needle), "{needle} not in {msg}");
    }
    assert_eq!(condition(status, "Available")["status"], "False");
    assert!(status.get("appliedTemplates").is_none());
    assert!(status.get("lastApply").is_none());
    assert!(seen[2].is("POST", EVENTS));
    assert_eq!(seen[2].body["type"], "Warning");
    assert_eq!(seen[2].body["reason"], "Conflict");
    assert_eq!(seen[2].body["note"].as_str().unwrap(), msg);

    // The same conflict at the next resync: no apply, no write, no second Event.
    r.clock.fetch_add(60, Ordering::SeqCst);
    let pass = reconcile_quietly(&mut r, &[&a, &b]).await;
    assert!(!pass.published && pass.event.is_none());
    assert!(r.host.calls().is_empty());
    assert_quiet(&mut r.server);
}

#[tokio::test]
async fn a_deleted_template_is_reverted_by_applying_the_rest() {
    let mut r = rig();
    start_empty(&mut r).await;
    let a = template("jumbo", 1, MTU_9000);
    let b = template(
        "rack-vlan",
        2,
        "nodeSelector: {rack: r1}\ninterfaceConfig: [{name: eth1, vlan: [{id: 100}]}]",
    );
    let other = template(
        "rack-r2",
        1,
        "nodeSelector: {rack: r2}\ninterfaceConfig: [{name: eth2, mtu: 9000}]",
    );
    r.host.queue(report_named(
        Outcome::Applied,
        &["jumbo", "rack-vlan"],
        1_800_000_001,
        None,
    ));
    let (_, seen) = reconcile_with(
        &mut r,
        &[&a, &b, &other],
        vec![(201, None), (200, None), (200, None), (201, None)],
    )
    .await;
    assert_eq!(
        seen[2].body["status"]["appliedTemplates"],
        json!([{"name": "jumbo", "generation": 1}, {"name": "rack-vlan", "generation": 1}])
    );

    // rack-vlan is deleted: the applier is called with what is left (and lets go of the VLAN).
    r.clock.fetch_add(10, Ordering::SeqCst);
    r.host.queue(report_named(
        Outcome::Applied,
        &["jumbo"],
        1_800_000_011,
        None,
    ));
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&a, &other],
        vec![
            (200, None), // Progressing (no create: it exists)
            (200, None), // status
            (201, None), // Event
        ],
    )
    .await;
    assert_eq!(
        r.host.calls(),
        [
            vec!["jumbo@1".to_string(), "rack-vlan@2".to_string()],
            vec!["jumbo@1".to_string()]
        ]
    );
    assert!(pass.progressing);
    let status_path = format!("{HN}/status");
    assert_ssa(&seen[0], &status_path);
    assert_eq!(
        condition(&seen[0].body["status"], "Progressing")["message"],
        "applying templates jumbo"
    );
    assert_ssa(&seen[1], &status_path);
    let s = &seen[1].body["status"];
    assert_eq!(
        s["appliedTemplates"],
        json!([{"name": "jumbo", "generation": 1}])
    );
    assert_eq!(s["lastApply"]["digest"], "digest-of-jumbo");
    assert_eq!(seen[2].body["reason"], "Applied");
}

#[tokio::test]
async fn condition_transitions_and_events_on_failure() {
    let mut r = rig();
    start_empty(&mut r).await;
    let a = template("jumbo", 1, MTU_9000);
    let t0 = 1_800_000_000;

    // Success at t0.
    r.host
        .queue(report_named(Outcome::Applied, &["jumbo"], t0 as u64, None));
    let (_, seen) = reconcile_with(
        &mut r,
        &[&a],
        vec![(201, None), (200, None), (200, None), (201, None)],
    )
    .await;
    assert_eq!(
        condition(&seen[2].body["status"], "Degraded")["lastTransitionTime"],
        ts(t0)
    );

    // Rolled back at t0 + 100: Degraded turns True, Available False; a RolledBack Event.
    r.clock.store(t0 + 100, Ordering::SeqCst);
    r.host.queue(report_named(
        Outcome::RolledBack,
        &["jumbo"],
        (t0 + 100) as u64,
        Some("set mtu of eth0: Invalid argument; rolled back the 1 changes made before it"),
    ));
    let (pass, seen) = reconcile_with(&mut r, &[&a], vec![(200, None), (201, None)]).await;
    assert!(!pass.progressing, "the same templates: no Progressing");
    let s = &seen[0].body["status"];
    let d = condition(s, "Degraded");
    assert_eq!(
        (
            d["status"].as_str(),
            d["reason"].as_str(),
            d["lastTransitionTime"].as_str()
        ),
        (
            Some("True"),
            Some("RolledBack"),
            Some(ts(t0 + 100).as_str())
        )
    );
    assert!(d["message"]
        .as_str()
        .unwrap()
        .starts_with("set mtu of eth0"));
    assert_eq!(condition(s, "Available")["status"], "False");
    assert_eq!(
        condition(s, "Progressing")["lastTransitionTime"],
        ts(t0),
        "Progressing stayed False"
    );
    assert_eq!(s["lastApply"]["result"], "rolled-back");
    // The templates applied last are still the last that succeeded.
    assert_eq!(
        s["appliedTemplates"],
        json!([{"name": "jumbo", "generation": 1}])
    );
    assert!(seen[1].is("POST", EVENTS));
    assert_eq!(
        (
            seen[1].body["type"].as_str(),
            seen[1].body["reason"].as_str()
        ),
        (Some("Warning"), Some("RolledBack"))
    );

    // Refused at t0 + 200: still Degraded (time kept), new reason and message; an ApplyFailed Event.
    r.clock.store(t0 + 200, Ordering::SeqCst);
    r.host.queue(report_named(
        Outcome::Refused,
        &[],
        (t0 + 200) as u64,
        Some("interface eth0 is not on this node"),
    ));
    let (_, seen) = reconcile_with(&mut r, &[&a], vec![(200, None), (201, None)]).await;
    let d = condition(&seen[0].body["status"], "Degraded");
    assert_eq!(d["reason"], "ApplyRefused");
    assert_eq!(d["message"], "interface eth0 is not on this node");
    assert_eq!(d["lastTransitionTime"], ts(t0 + 100));
    assert_eq!(seen[1].body["reason"], "ApplyFailed");

    // The same refusal again: nothing written, no Event.
    r.clock.store(t0 + 260, Ordering::SeqCst);
    r.host.queue(report_named(
        Outcome::Refused,
        &[],
        (t0 + 260) as u64,
        Some("interface eth0 is not on this node"),
    ));
    let pass = reconcile_quietly(&mut r, &[&a]).await;
    assert!(!pass.published && pass.event.is_none());
    assert_quiet(&mut r.server);

    // Success at t0 + 300: Degraded False from t0 + 300.
    r.clock.store(t0 + 300, Ordering::SeqCst);
    r.host.queue(report_named(
        Outcome::Applied,
        &["jumbo"],
        (t0 + 300) as u64,
        None,
    ));
    let (_, seen) = reconcile_with(&mut r, &[&a], vec![(200, None), (201, None)]).await;
    let s = &seen[0].body["status"];
    let d = condition(s, "Degraded");
    assert_eq!(
        (d["status"].as_str(), d["lastTransitionTime"].as_str()),
        (Some("False"), Some(ts(t0 + 300).as_str()))
    );
    assert_eq!(condition(s, "Available")["status"], "True");
    assert_eq!(seen[1].body["reason"], "Applied");
    let metrics = health::respond(&r.state, "/metrics").2;
    for line in [
        "plumber_agent_applies_total{result=\"applied\"} 2",
        "plumber_agent_applies_total{result=\"refused\"} 2",
        "plumber_agent_rollbacks_total 1",
        "plumber_agent_apply_failures_total 3",
        "plumber_agent_drift_repairs_total 1",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}

/// An apply the connectivity guard rolled back (a probe that answered before the changes no longer
/// did): Degraded with reason ConnectivityLost, the probe in the message, a ConnectivityLost Event.
#[tokio::test]
async fn a_connectivity_guard_rollback_is_degraded_connectivity_lost_with_an_event() {
    let mut r = rig();
    start_empty(&mut r).await;
    let a = template("jumbo", 1, MTU_9000);
    let t0 = 1_800_000_000;
    let lost = "default gateway 10.9.9.1 via eth0 no longer answers (it did before the apply): \
                no answer from 10.9.9.1 on eth0 (neighbour FAILED) (waited 20000 ms)";
    let error = format!("connectivity guard: {lost}; rolled back the 1 changes made before it");
    let mut rolled_back = report_named(Outcome::RolledBack, &["jumbo"], t0 as u64, Some(&error));
    rolled_back.record.as_mut().unwrap().connectivity_lost = Some(lost.to_string());
    r.host.queue(rolled_back);
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&a],
        vec![
            (201, None), // create
            (200, None), // status: Progressing
            (200, None), // status: Degraded
            (201, None), // Event
        ],
    )
    .await;
    assert_eq!(pass.event, Some("ConnectivityLost"));
    let s = &seen[2].body["status"];
    for type_ in ["Degraded", "Available"] {
        let c = condition(s, type_);
        assert_eq!(c["reason"], "ConnectivityLost", "{s:#}");
        assert_eq!(c["message"], error.as_str());
    }
    assert_eq!(condition(s, "Degraded")["status"], "True");
    assert_eq!(condition(s, "Available")["status"], "False");
    assert_eq!(s["lastApply"]["result"], "rolled-back");
    let ev = &seen[3];
    assert!(ev.is("POST", EVENTS), "{ev:?}");
    assert_eq!(
        (ev.body["type"].as_str(), ev.body["reason"].as_str()),
        (Some("Warning"), Some("ConnectivityLost"))
    );
    assert_eq!(ev.body["note"], error.as_str());
    assert_quiet(&mut r.server);

    // Another rollback, not the guard's: RolledBack again.
    r.clock.store(t0 + 100, Ordering::SeqCst);
    r.host.queue(report_named(
        Outcome::RolledBack,
        &["jumbo"],
        (t0 + 100) as u64,
        Some("set mtu of eth0: Invalid argument; nothing had been changed"),
    ));
    let (pass, seen) = reconcile_with(&mut r, &[&a], vec![(200, None), (201, None)]).await;
    assert_eq!(pass.event, Some("RolledBack"));
    assert_eq!(
        condition(&seen[0].body["status"], "Degraded")["reason"],
        "RolledBack"
    );
}

#[tokio::test]
async fn a_hostnetwork_deleted_behind_the_agent_is_created_again() {
    let mut r = rig();
    // The server had the object at start (its status differs from what the agent will publish).
    let stored = json!({"apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetwork",
                        "metadata": {"name": NODE, "uid": "uid-0"}, "spec": {}, "status": {}});
    let (res, _) = tokio::join!(r.agent.start(), serve(&mut r.server, 200, Some(stored)));
    res.unwrap();
    let pass_templates: [&TemplateObject; 0] = [];
    let (pass, seen) = reconcile_with(
        &mut r,
        &pass_templates,
        vec![
            (404, Some(not_found())), // Progressing: gone
            (201, None),              // create
            (200, None),              // Progressing again
            (200, None),              // final status
        ],
    )
    .await;
    assert_eq!(r.host.calls(), [Vec::<String>::new()]);
    assert!(pass.progressing && pass.published);
    let status_path = format!("{HN}/status");
    assert_ssa(&seen[0], &status_path);
    assert_ssa(&seen[1], HN);
    assert_eq!(seen[1].body["spec"], json!({}));
    assert_ssa(&seen[2], &status_path);
    assert_eq!(seen[2].body, seen[0].body);
    assert_eq!(
        condition(&seen[3].body["status"], "Available")["reason"],
        "NoTemplates"
    );
    assert_quiet(&mut r.server);
}

// ---------------------------------------------------------------------------------------------------
// Rollout slots (maxUnavailable)

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

fn lease_list(held: &[(&str, &str)]) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "LeaseList",
           "metadata": {"resourceVersion": "5"},
           "items": held.iter().map(|(name, holder)| json!({
               "metadata": {"name": name, "namespace": "default", "resourceVersion": "4",
                            "labels": {"app.kubernetes.io/managed-by": "plumber-agent"},
                            "annotations": {"plumber.k8s.pf9.io/template":
                                            name.rsplit_once('.').unwrap().0}},
               "spec": {"holderIdentity": holder}})).collect::<Vec<_>>()})
}

fn node_object(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
}

/// A report of applying `mtu` at `generation`.
fn mtu_report(outcome: Outcome, generation: i64, time: u64, error: Option<&str>) -> Report {
    let mut r = report_named(outcome, &["mtu"], time, error);
    r.record.as_mut().unwrap().templates[0].generation = Some(generation);
    r
}

fn assert_list_slots(s: &Seen) {
    assert!(s.is("GET", LEASES), "{s:?}");
    assert_eq!(
        s.query.get("labelSelector").map(String::as_str),
        Some("app.kubernetes.io%2Fmanaged-by%3Dplumber-agent")
    );
}

#[tokio::test]
async fn a_rollout_limited_to_one_node_waits_for_the_slot_and_a_failed_node_keeps_it() {
    scenario_a_rollout_limited_to_one_node_waits_for_the_slot_and_a_failed_node_keeps_it().await
}

async fn scenario_a_rollout_limited_to_one_node_waits_for_the_slot_and_a_failed_node_keeps_it() {
    let mut r = rig();
    start_empty(&mut r).await;
    let spec = "maxUnavailable: 1\ninterfaceConfig: [{name: eth0, mtu: 9000}]";
    let v1 = template("mtu", 1, spec);

    // 1. node-2 holds the only slot and exists: nothing is applied, Progressing says why, and the
    //    pass asks to be tried again.
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&v1],
        vec![
            (200, Some(lease_list(&[("mtu.0", "node-2")]))), // the slots (one LIST)
            (200, Some(node_object("node-2"))),              // does the holder exist?
            (201, None),                                     // create the HostNetwork
            (200, None),                                     // its status
        ],
    )
    .await;
    assert_list_slots(&seen[0]);
    assert!(seen[1].is("GET", "/api/v1/nodes/node-2"), "{:?}", seen[1]);
    assert!(r.host.calls().is_empty(), "applied while waiting");
    assert!(
        matches!(pass.verdict, Verdict::Waiting(_)),
        "{:?}",
        pass.verdict
    );
    assert_eq!(pass.retry_after, Some(plumber::cluster::agent::SLOT_RETRY));
    assert_eq!(pass.event, None);
    let progressing = condition(&seen[3].body["status"], "Progressing");
    assert_eq!(progressing["status"], "True");
    assert_eq!(progressing["reason"], "WaitingForRollout");
    assert_eq!(
        progressing["message"],
        "waiting for a rollout slot: template mtu (maxUnavailable 1: 1 slots) is being applied by node-2"
    );
    assert_quiet(&mut r.server);

    // 2. The slot is free: this node creates it (holder: itself), applies, and gives it back.
    r.host
        .queue(mtu_report(Outcome::Applied, 1, 1_800_000_010, None));
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&v1],
        vec![
            (200, Some(lease_list(&[]))), // the template's slots
            (201, None),                  // take mtu.0
            (200, None),                  // status: Applying
            (200, None),                  // give mtu.0 back
            (200, None),                  // status: Available
            (201, None),                  // Event
        ],
    )
    .await;
    assert!(seen[1].is("POST", LEASES), "{:?}", seen[1]);
    assert_eq!(seen[1].body["metadata"]["name"], "mtu.0");
    assert_eq!(seen[1].body["spec"]["holderIdentity"], NODE);
    assert_eq!(
        seen[1].body["metadata"]["annotations"]["plumber.k8s.pf9.io/template"],
        "mtu"
    );
    assert!(seen[1].body["spec"].get("leaseDurationSeconds").is_none());
    assert!(
        seen[3].is("DELETE", &format!("{LEASES}/mtu.0")),
        "{:?}",
        seen[3]
    );
    assert_eq!(r.host.calls(), [vec!["mtu@1".to_string()]]);
    assert!(pass.verdict.ok() && pass.retry_after.is_none());

    // 3. Converged: no slot is needed, nothing is sent.
    let pass = reconcile_quietly(&mut r, &[&v1]).await;
    assert!(pass.verdict.ok());

    // 4. Version 2 breaks the node: it takes the slot, fails, and keeps the slot (nothing deleted),
    //    so no other node starts on version 2.
    let v2 = template("mtu", 2, spec);
    r.host.queue(mtu_report(
        Outcome::RolledBack,
        2,
        1_800_000_020,
        Some("eth0: no such device"),
    ));
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&v2],
        vec![
            (200, Some(lease_list(&[]))),
            (201, None), // take mtu.0
            (200, None), // status: Applying
            (200, None), // status: Degraded
            (201, None), // Event RolledBack
        ],
    )
    .await;
    assert!(seen[1].is("POST", LEASES));
    assert!(!seen.iter().any(|s| s.method == "DELETE"));
    assert_eq!(pass.event, Some("RolledBack"));

    // 5. The next pass still holds it (no request to take it again); once the apply succeeds the
    //    slot goes back.
    r.host
        .queue(mtu_report(Outcome::Applied, 2, 1_800_000_030, None));
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&v2],
        vec![
            (200, None), // give mtu.0 back
            (200, None), // status: Available
            (201, None), // Event
        ],
    )
    .await;
    assert!(
        seen[0].is("DELETE", &format!("{LEASES}/mtu.0")),
        "{:?}",
        seen[0]
    );
    assert!(pass.verdict.ok());
    assert_quiet(&mut r.server);
}

#[tokio::test]
async fn a_slot_held_by_a_removed_node_is_taken_over() {
    scenario_a_slot_held_by_a_removed_node_is_taken_over().await
}

async fn scenario_a_slot_held_by_a_removed_node_is_taken_over() {
    let mut r = rig();
    start_empty(&mut r).await;
    let t = template(
        "mtu",
        1,
        "maxUnavailable: 1\ninterfaceConfig: [{name: eth0}]",
    );
    r.host
        .queue(mtu_report(Outcome::Applied, 1, 1_800_000_010, None));
    let gone = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "reason": "NotFound", "code": 404, "message": "nodes \"old\" not found"});
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&t],
        vec![
            (200, Some(lease_list(&[("mtu.0", "old")]))),
            (404, Some(gone)), // the holder is no Node any more
            (200, None),       // take mtu.0 over: an update carrying the resourceVersion read
            (201, None),       // create the HostNetwork
            (200, None),       // status: Applying
            (200, None),       // give mtu.0 back
            (200, None),       // status: Available
            (201, None),       // Event
        ],
    )
    .await;
    assert!(
        seen[2].is("PUT", &format!("{LEASES}/mtu.0")),
        "{:?}",
        seen[2]
    );
    assert_eq!(seen[2].body["metadata"]["resourceVersion"], "4");
    assert_eq!(seen[2].body["spec"]["holderIdentity"], NODE);
    assert!(seen[5].is("DELETE", &format!("{LEASES}/mtu.0")));
    assert!(pass.verdict.ok());
}

#[tokio::test]
async fn a_percentage_counts_the_nodes_the_rollup_saw() {
    // 25% of 10 matched nodes: 3 slots, two held: this node takes the third.
    let mut r = rig();
    start_empty(&mut r).await;
    let mut t = template(
        "mtu",
        1,
        "maxUnavailable: 25%\ninterfaceConfig: [{name: eth0}]",
    );
    t.status = Some(
        serde_json::to_value(plumber::cluster::crd::HostNetworkTemplateStatus {
            nodes_matched: 10,
            ..Default::default()
        })
        .unwrap(),
    );
    let held = lease_list(&[("mtu.0", "a"), ("mtu.1", "b")]);
    r.host
        .queue(mtu_report(Outcome::Applied, 1, 1_800_000_010, None));
    let (_, seen) = reconcile_with(
        &mut r,
        &[&t],
        vec![
            (200, Some(held)),
            (201, None), // take mtu.2
            (201, None),
            (200, None),
            (200, None), // give back
            (200, None),
            (201, None),
        ],
    )
    .await;
    assert!(seen[1].is("POST", LEASES));
    assert_eq!(seen[1].body["metadata"]["name"], "mtu.2");
}

// ---------------------------------------------------------------------------------------------------
// The watches of `plumber agent` (its loop is not driven here: the requests its watchers start with)

/// Polls a watcher until its first list is done (its `Init` comes before any request).
async fn until_listed<K>(
    w: &mut futures::stream::BoxStream<
        '_,
        kube::runtime::watcher::Result<kube::runtime::watcher::Event<K>>,
    >,
) {
    use futures::StreamExt;
    while let Some(e) = w.next().await {
        if matches!(e, Ok(kube::runtime::watcher::Event::InitDone)) {
            return;
        }
    }
}

#[tokio::test]
async fn the_watches_list_templates_and_this_node_only() {
    scenario_the_watches_list_templates_and_this_node_only().await
}

async fn scenario_the_watches_list_templates_and_this_node_only() {
    use futures::StreamExt;
    use kube::runtime::watcher;
    let (svc, mut server) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");

    let (api, config) = plumber::cluster::agent::templates_watched(client.clone());
    let mut w = watcher(api, config).boxed();
    let empty = json!({"apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetworkTemplateList",
                       "metadata": {"resourceVersion": "1"}, "items": []});
    let (_, seen) = tokio::join!(until_listed(&mut w), serve(&mut server, 200, Some(empty)));
    assert!(
        seen.is("GET", "/apis/plumber.k8s.pf9.io/v1/hostnetworktemplates"),
        "{seen:?}"
    );
    let mut added = serde_json::to_value(template("jumbo", 1, MTU_9000)).unwrap();
    added["metadata"]["resourceVersion"] = json!("2");
    let added = json!({"type": "ADDED", "object": added});
    let (ev, seen) = tokio::join!(w.next(), serve(&mut server, 200, Some(added)));
    assert!(matches!(ev, Some(Ok(watcher::Event::Apply(_)))), "{ev:?}");
    assert_eq!(seen.query.get("watch").map(String::as_str), Some("true"));

    let (api, config) = plumber::cluster::agent::node_watched(client, NODE);
    let mut w = watcher(api, config).boxed();
    let nodes = json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"},
                       "items": [node_object(NODE)]});
    let (_, seen) = tokio::join!(until_listed(&mut w), serve(&mut server, 200, Some(nodes)));
    assert!(seen.is("GET", "/api/v1/nodes"), "{seen:?}");
    assert_eq!(
        seen.query.get("fieldSelector").map(String::as_str),
        Some("metadata.name%3Dnode-1")
    );
    // Then it watches from the list's resourceVersion, with the same selector.
    let mut node = node_object(NODE);
    node["metadata"]["resourceVersion"] = json!("2");
    let relabelled = json!({"type": "MODIFIED", "object": node});
    let (ev, seen) = tokio::join!(w.next(), serve(&mut server, 200, Some(relabelled)));
    assert!(matches!(ev, Some(Ok(watcher::Event::Apply(_)))), "{ev:?}");
    assert!(seen.is("GET", "/api/v1/nodes"), "{seen:?}");
    assert_eq!(seen.query.get("watch").map(String::as_str), Some("true"));
    assert_eq!(
        seen.query.get("resourceVersion").map(String::as_str),
        Some("1")
    );
}

/// What the scenarios asked of the API server, in RBAC terms (every request `serve` answered).
static EXERCISED: Mutex<std::collections::BTreeSet<(String, String, String)>> =
    Mutex::new(std::collections::BTreeSet::new());

/// The other side of the per-request check in `serve`: every verb the agent's RBAC grants (the table
/// deploy/rbac.yaml is checked against) is one the agent really uses.
#[tokio::test]
async fn every_verb_the_rbac_grants_is_used() {
    scenario_first_publish_creates_the_object_then_applies_its_status().await;
    scenario_a_rollout_limited_to_one_node_waits_for_the_slot_and_a_failed_node_keeps_it().await;
    scenario_a_slot_held_by_a_removed_node_is_taken_over().await;
    scenario_the_watches_list_templates_and_this_node_only().await;
    metrics_access::scenario_metrics_are_served_to_tokens_the_api_server_allows().await;
    let seen = EXERCISED.lock().unwrap().clone();
    let mut unused = Vec::new();
    for a in plumber::cluster::access::AGENT {
        for v in a.verbs {
            let key = (a.group.to_string(), a.resource.to_string(), v.to_string());
            if !seen.contains(&key) {
                unused.push(key);
            }
        }
    }
    assert!(
        unused.is_empty(),
        "granted but never used: {unused:?}\nused: {seen:?}"
    );
}

#[tokio::test]
async fn slots_live_in_the_namespace_given() {
    // POD_NAMESPACE (the DaemonSet's) rather than the client's default.
    let (svc, mut server) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");
    let state = Arc::new(health::State::new(Duration::from_secs(600)));
    let mut agent = Agent::new(client.clone(), NODE, FakeHost::default(), state)
        .with_namespace("plumber-system", client);
    let t = template(
        "mtu",
        1,
        "maxUnavailable: 1\ninterfaceConfig: [{name: eth0}]",
    );
    let l = labels();
    let script = async {
        let seen = serve(&mut server, 200, Some(lease_list(&[("mtu.0", "node-2")]))).await;
        // The rest of the pass (the holder's Node, the status) is not of interest here.
        drop(server);
        seen
    };
    let all = [&t];
    let (_, seen) = tokio::join!(agent.reconcile(&all, &l), script);
    assert!(
        seen.is(
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/plumber-system/leases"
        ),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_restarted_agent_gives_back_a_slot_it_still_held() {
    // The agent applied version 1 and stopped before deleting its slot. Its successor reads the
    // status (version 1 applied), so it needs no slot, but it finds and gives back the one left over.
    let mut r = rig();
    let t = template(
        "mtu",
        1,
        "maxUnavailable: 1\ninterfaceConfig: [{name: eth0}]",
    );
    let published = json!({"apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetwork",
        "metadata": {"name": NODE, "uid": "uid-1", "resourceVersion": "3"}, "spec": {},
        "status": {"appliedTemplates": [{"name": "mtu", "generation": 1}],
                   "lastApply": {"result": "applied", "time": ts(1_800_000_000), "digest": "d"}}});
    let (res, _) = tokio::join!(r.agent.start(), serve(&mut r.server, 200, Some(published)));
    res.unwrap();
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&t],
        vec![
            (200, Some(lease_list(&[("mtu.0", NODE)]))), // what this node holds
            (200, None),                                 // give mtu.0 back
            (200, None),                                 // status (the discovered state is new)
        ],
    )
    .await;
    assert!(pass.verdict.ok());
    assert_list_slots(&seen[0]);
    assert!(
        seen[1].is("DELETE", &format!("{LEASES}/mtu.0")),
        "{:?}",
        seen[1]
    );
    // Known now: the next pass asks nothing about slots.
    let _ = reconcile_quietly(&mut r, &[&t]).await;
}

#[tokio::test]
async fn waiting_for_one_template_gives_back_the_slot_just_taken_for_another() {
    // All or none: holding a's slot while waiting for b's could deadlock with a node doing the
    // opposite, so a's goes back.
    let mut r = rig();
    start_empty(&mut r).await;
    let a = template("a", 1, "maxUnavailable: 1\ninterfaceConfig: [{name: eth0}]");
    let b = template("b", 1, "maxUnavailable: 1\ninterfaceConfig: [{name: eth1}]");
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&a, &b],
        vec![
            (200, Some(lease_list(&[("b.0", "node-2")]))), // the slots (one LIST)
            (201, None),                                   // take a.0
            (200, Some(node_object("node-2"))),            // b.0's holder exists
            (200, None),                                   // give a.0 back
            (201, None),                                   // create the HostNetwork
            (200, None),                                   // its status
        ],
    )
    .await;
    assert_list_slots(&seen[0]);
    assert!(seen[1].is("POST", LEASES) && seen[1].body["metadata"]["name"] == "a.0");
    assert!(seen[2].is("GET", "/api/v1/nodes/node-2"), "{:?}", seen[2]);
    assert!(
        seen[3].is("DELETE", &format!("{LEASES}/a.0")),
        "{:?}",
        seen[3]
    );
    assert!(
        matches!(pass.verdict, Verdict::Waiting(_)),
        "{:?}",
        pass.verdict
    );
    assert!(r.host.calls().is_empty());
    assert_quiet(&mut r.server);
}

/// Best effort (issue 11): an apply that left out a template entry for a device the node lacks is
/// Available with reason PartiallyApplied naming the entry (not Degraded), lists it in the status's
/// `skipped`, and posts a Skipped warning once (not again while the same is skipped); when the device
/// is there, the status says Applied again and lists nothing.
#[tokio::test]
async fn a_skipped_entry_is_in_the_status_and_a_skipped_event() {
    let mut r = rig();
    start_empty(&mut r).await;
    let spec =
        "interfaceConfig: [{name: eth0, mtu: 9000}]\nsriovConfig: [{pfName: ens9f0, numVfs: 4}]";
    let a = template("fleet", 1, spec);
    let t0 = 1_800_000_000;
    let entry = plumber_render::node::Skipped {
        template: "fleet".into(),
        path: "spec.sriovConfig[0]".into(),
        selector: "pfName ens9f0".into(),
        reason: "matches no PCI NIC of this node".into(),
    };
    let with_skipped = |outcome, time| {
        let mut rep = report_named(outcome, &["fleet"], time, None);
        rep.record.as_mut().unwrap().skipped = vec![entry.clone()];
        rep
    };
    r.host.queue(with_skipped(Outcome::Applied, t0 as u64));
    let (pass, seen) = reconcile_with(
        &mut r,
        &[&a],
        vec![
            (201, None), // create
            (200, None), // status: Progressing
            (200, None), // status: applied, with what was skipped
            (201, None), // Event: Applied
            (201, None), // Event: Skipped
        ],
    )
    .await;
    assert!(pass.verdict.ok());
    assert_eq!(pass.event, Some("Applied"));
    let s = &seen[2].body["status"];
    assert_eq!(
        s["skipped"],
        json!([{"template": "fleet", "path": "spec.sriovConfig[0]", "selector": "pfName ens9f0",
                "reason": "matches no PCI NIC of this node"}]),
        "{s:#}"
    );
    let available = condition(s, "Available");
    assert_eq!(available["status"], "True");
    assert_eq!(available["reason"], "PartiallyApplied");
    assert_eq!(
        available["message"],
        "the node matches templates fleet except what it has no device for (skipped, best effort): \
         template fleet spec.sriovConfig[0] (pfName ens9f0): matches no PCI NIC of this node"
    );
    assert_eq!(condition(s, "Degraded")["status"], "False");
    assert_eq!(s["lastApply"]["result"], "applied");
    assert!(seen[3].is("POST", EVENTS), "{:?}", seen[3]);
    assert_eq!(seen[3].body["reason"], "Applied");
    let ev = &seen[4];
    assert!(ev.is("POST", EVENTS), "{ev:?}");
    assert_eq!(
        (ev.body["type"].as_str(), ev.body["reason"].as_str()),
        (Some("Warning"), Some("Skipped"))
    );
    assert_eq!(
        ev.body["note"],
        "left out, this node has no device for them (best effort: the rest is applied): \
         template fleet spec.sriovConfig[0] (pfName ens9f0): matches no PCI NIC of this node"
    );
    assert_quiet(&mut r.server);

    // The same skipped again, nothing to do: no status write, no Event.
    r.clock.store(t0 + 60, Ordering::SeqCst);
    r.host
        .queue(with_skipped(Outcome::Unchanged, (t0 + 60) as u64));
    let pass = reconcile_quietly(&mut r, &[&a]).await;
    assert_eq!(pass.event, None);

    // The NIC is there now: the entry applies, nothing is skipped, Available says Applied.
    r.clock.store(t0 + 120, Ordering::SeqCst);
    r.host.queue(report_named(
        Outcome::Applied,
        &["fleet"],
        (t0 + 120) as u64,
        None,
    ));
    let (pass, seen) = reconcile_with(&mut r, &[&a], vec![(200, None), (201, None)]).await;
    assert_eq!(pass.event, Some("Applied"));
    let s = &seen[0].body["status"];
    assert!(s.get("skipped").is_none(), "{s:#}");
    assert_eq!(condition(s, "Available")["reason"], "Applied");
    assert_quiet(&mut r.server);
}

/// HostPlumber's README names a DPDK uplink by interface (`nodeInterface: eno2, dpdk: true`): the agent
/// merges with the node's discovered inventory and applies it (before, it merged without one and
/// refused the template); a node whose inventory lacks eno2 refuses it, naming the fix.
#[tokio::test]
async fn a_dpdk_uplink_named_by_interface_resolves_from_the_nodes_discovery() {
    let spec = "ovsConfig: [{bridgeName: dpdk-br0, nodeInterface: eno2, dpdk: true}]";
    let a = template("dpdk", 1, spec);

    let mut r = rig();
    // eno2 as discovery lists it once plumber bound it to vfio-pci (by its recorded name).
    *r.host.nics.lock().unwrap() = Some(json!([{"pfName": "eno2", "pciAddr": "0000:03:00.0",
        "pfDriver": "vfio-pci", "sriovEnabled": false}]));
    start_empty(&mut r).await;
    r.host.queue(report_named(
        Outcome::Applied,
        &["dpdk"],
        1_800_000_005,
        None,
    ));
    let (pass, _) = reconcile_with(
        &mut r,
        &[&a],
        vec![(201, None), (200, None), (200, None), (201, None)],
    )
    .await;
    assert_eq!(r.host.calls(), [vec!["dpdk@1".to_string()]]);
    assert!(pass.verdict.ok(), "{:?}", pass.verdict);
    // Observed before the first decision and after the apply; later passes reuse the last one.
    assert_eq!(r.host.observed.load(Ordering::SeqCst), 2);

    let mut r = rig();
    start_empty(&mut r).await;
    let (pass, seen) =
        reconcile_with(&mut r, &[&a], vec![(201, None), (200, None), (201, None)]).await;
    assert!(r.host.calls().is_empty(), "nothing is applied");
    let Verdict::Invalid(m) = &pass.verdict else {
        panic!("{:?}", pass.verdict)
    };
    assert!(
        m.contains(
            "spec.ovsConfig[0].nodeInterface: eno2 is a DPDK uplink and its PCI address is unknown"
        ),
        "{m}"
    );
    assert_eq!(
        condition(&seen[1].body["status"], "Degraded")["reason"],
        "InvalidTemplate"
    );
}
