//! `plumber rollup`: the one writer of `HostNetworkTemplate` statuses, a one-replica Deployment with no
//! host access.
//!
//! Each template's status says how many nodes its nodeSelector matches, how many applied its current
//! generation, which failed, and conditions over them ([`compute`] has the rules). It is computed from
//! the Nodes' labels and every node's `HostNetwork` (which that node's agent writes) by this one
//! component rather than by the agents themselves: a thousand agents would fight over one object, and
//! an idle agent must write nothing at all.
//!
//! ```yaml
//! # kubectl get hnt jumbo -o yaml (the status)
//! status:
//!   observedGeneration: 3
//!   nodesMatched: 40
//!   nodesApplied: 37
//!   nodesFailed: 1
//!   failedNodes: [worker-17]
//!   conditions:
//!   - type: Available
//!     status: "False"
//!     reason: NodesFailed
//!     message: 37 of 40 matched nodes applied generation 3 (1 failed, 2 pending)
//!     observedGeneration: 3
//!     lastTransitionTime: "2027-01-15T08:00:00Z"
//!   - type: Progressing
//!     status: "True"
//!     reason: NodesPending
//!     message: 2 of 40 matched nodes have not applied generation 3 yet (1 has no HostNetwork yet)
//!     observedGeneration: 3
//!     lastTransitionTime: "2027-01-15T08:00:00Z"
//!   - type: Degraded
//!     status: "True"
//!     reason: NodesFailed
//!     message: "1 of 40 matched nodes failed: worker-17 (RolledBack: set mtu of eno2: 1500 -> 9000: Invalid argument)"
//!     observedGeneration: 3
//!     lastTransitionTime: "2027-01-15T08:02:11Z"
//! ```
//!
//! How ([`run`], [`drive`]):
//!
//! * three watchers ([`changes`]): the templates, the Nodes (metadata only: the labels), the
//!   HostNetworks. Only projections are kept ([`Rollup`]): a template's name, generation, selector and
//!   current status; a Node's labels; a [`compute::NodeReport`] per HostNetwork (its applied templates,
//!   last apply result and two conditions). The HostNetworks are read through [`HostNetworkView`],
//!   which skips the discovered state while parsing (a HostNetwork can be hundreds of KiB), and listed
//!   [`HOST_NETWORK_PAGE`] at a time; templates through [`TemplateView`], which reads only the
//!   nodeSelector of the spec (a spec field this build does not know cannot break the rollup);
//! * a relist (`Init` .. `InitDone`) replaces a projection at once, as a reflector does;
//! * changes are debounced ([`Debounce`]: `--debounce-ms` after the last, at most 4 × that after the
//!   first), then every template is recomputed and its status written by server-side apply (field
//!   manager [`FIELD_MANAGER`], forced) to `hostnetworktemplates/NAME/status`, only when it differs
//!   from the status the template has ([`compute::same`]): a restart with nothing changed writes
//!   nothing, and a change to a HostNetwork's discovered state alone does not even recompute;
//! * a failed write is retried [`RETRY`] later; a template deleted is dropped; nothing is computed
//!   before the three watchers have listed once (`/readyz` says so).
//!
//! What it asks of the API server is [`crate::cluster::access::ROLLUP`]: list and watch the three kinds, patch
//! `hostnetworktemplates/status`; no get, no Events.

mod compute;
mod health;
mod networks;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use plumber_render::select::Labels;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::cluster::clock::{wall_clock, Clock};
use crate::cluster::crd::{
    ApplyResult, HostNetwork, HostNetworkTemplate, HostNetworkTemplateStatus, TemplateObject,
};
use crate::cluster::metrics_access::MetricsAccess;
use compute::{NodeReport, Template};

/// The one field manager the rollup writes with.
const FIELD_MANAGER: &str = "plumber-rollup";

/// The port of /healthz, /readyz and /metrics.
pub const DEFAULT_PORT: u16 = 9473;

/// How long after a failed status write the sync runs again.
const RETRY: Duration = Duration::from_secs(10);

/// HostNetworks per list page: a page is held whole while it is parsed, and a HostNetwork can reach
/// 256 KiB (500, kube's default, could be 128 MiB at once).
const HOST_NETWORK_PAGE: u32 = 50;

/// How long a sync may run before `/healthz` fails (a request hangs for at most kube's read timeout,
/// 295 s).
const STALL: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------------------------------------------
// What the rollup reads

/// A `HostNetworkTemplate` as the rollup reads it: metadata, the spec unparsed (its `nodeSelector`, and
/// whether this build's renderer can read and validate it) and the status. A spec no Rust type would
/// take does not stop the watcher.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TemplateView {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Value,
    #[serde(default)]
    status: Option<HostNetworkTemplateStatus>,
}

/// A `HostNetwork` as the rollup reads it: what [`NodeReport`] needs of the status; the discovered
/// state (interfaces, links, routes, OVS) is skipped by the parser without being built.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HostNetworkView {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    status: Option<HostNetworkViewStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostNetworkViewStatus {
    #[serde(default)]
    applied_templates: Vec<ViewAppliedTemplate>,
    #[serde(default)]
    last_apply: Option<ViewLastApply>,
    #[serde(default)]
    conditions: Vec<ViewCondition>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ViewAppliedTemplate {
    #[serde(default)]
    name: String,
    #[serde(default)]
    generation: Option<i64>,
}

/// `lastApply.result` as text: a result a newer agent publishes and this build does not know is
/// `None`, not a parse error that would stop the watcher.
#[derive(Debug, Clone, Default, Deserialize)]
struct ViewLastApply {
    #[serde(default)]
    result: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ViewCondition {
    #[serde(default, rename = "type")]
    type_: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
}

/// The views are the real kinds' (same group, version, plural: the same URLs).
macro_rules! view_of {
    ($view:ty, $kind:ty) => {
        impl Resource for $view {
            type DynamicType = ();
            type Scope = k8s_openapi::ClusterResourceScope;
            fn kind(dt: &()) -> Cow<'_, str> {
                <$kind as Resource>::kind(dt)
            }
            fn group(dt: &()) -> Cow<'_, str> {
                <$kind as Resource>::group(dt)
            }
            fn version(dt: &()) -> Cow<'_, str> {
                <$kind as Resource>::version(dt)
            }
            fn plural(dt: &()) -> Cow<'_, str> {
                <$kind as Resource>::plural(dt)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}
view_of!(TemplateView, HostNetworkTemplate);
view_of!(HostNetworkView, HostNetwork);

impl HostNetworkView {
    /// The projection the rollup keeps.
    fn report(&self) -> NodeReport {
        let Some(s) = &self.status else {
            return NodeReport::default();
        };
        NodeReport::new(
            s.applied_templates
                .iter()
                .map(|t| (t.name.as_str(), t.generation)),
            s.last_apply
                .as_ref()
                .and_then(|l| l.result.clone())
                .and_then(|r| serde_json::from_value::<ApplyResult>(Value::String(r)).ok()),
            s.conditions.iter().map(|c| {
                (
                    c.type_.as_str(),
                    c.status.as_str(),
                    c.reason.as_str(),
                    c.message.as_str(),
                )
            }),
        )
    }
}

/// The template watcher's `Api` and configuration.
pub fn template_watch(client: Client) -> (Api<TemplateView>, watcher::Config) {
    (Api::all(client), watcher::Config::default())
}

/// The Node watcher's: metadata only (`PartialObjectMetadata`; labels are all the rollup reads of a
/// Node, whose status with its image list is much bigger).
fn node_watch(client: Client) -> (Api<PartialObjectMeta<Node>>, watcher::Config) {
    (Api::all(client), watcher::Config::default())
}

/// The HostNetwork watcher's (small list pages, see [`HOST_NETWORK_PAGE`]).
fn host_network_watch(client: Client) -> (Api<HostNetworkView>, watcher::Config) {
    (
        Api::all(client),
        watcher::Config::default().page_size(HOST_NETWORK_PAGE),
    )
}

/// One event of one of the three watchers.
#[derive(Debug)]
pub enum Change {
    Template(watcher::Event<TemplateView>),
    Node(watcher::Event<PartialObjectMeta<Node>>),
    HostNetwork(watcher::Event<HostNetworkView>),
    /// A watcher failed (it retries, backing off); `what` names it.
    Error {
        what: &'static str,
        error: watcher::Error,
    },
}

/// The three watchers as one stream (each retrying with kube's default backoff).
pub fn changes(client: Client) -> impl Stream<Item = Change> + Send + 'static {
    let (api, cfg) = template_watch(client.clone());
    let templates = watcher(api, cfg).default_backoff().map(|e| match e {
        Ok(e) => Change::Template(e),
        Err(error) => Change::Error {
            what: "HostNetworkTemplates",
            error,
        },
    });
    let (api, cfg) = node_watch(client.clone());
    let nodes = watcher(api, cfg).default_backoff().map(|e| match e {
        Ok(e) => Change::Node(e),
        Err(error) => Change::Error {
            what: "Nodes",
            error,
        },
    });
    let (api, cfg) = host_network_watch(client);
    let host_networks = watcher(api, cfg).default_backoff().map(|e| match e {
        Ok(e) => Change::HostNetwork(e),
        Err(error) => Change::Error {
            what: "HostNetworks",
            error,
        },
    });
    futures::stream::select_all([templates.boxed(), nodes.boxed(), host_networks.boxed()])
}

// ---------------------------------------------------------------------------------------------------
// The projections

/// Projections by object name, replaced at once on a relist.
#[derive(Debug)]
struct Projection<V> {
    items: BTreeMap<String, V>,
    /// Collected during a relist (`Init` .. `InitDone`).
    listing: Option<BTreeMap<String, V>>,
    synced: bool,
}

impl<V> Default for Projection<V> {
    fn default() -> Self {
        Projection {
            items: BTreeMap::new(),
            listing: None,
            synced: false,
        }
    }
}

impl<V: PartialEq> Projection<V> {
    /// Applies one event (`project`: `None` drops the object, as a deleted one); returns whether the
    /// projections changed.
    fn on<K: Resource>(
        &mut self,
        event: watcher::Event<K>,
        project: impl Fn(&K) -> Option<V>,
    ) -> bool {
        let name = |o: &K| o.meta().name.clone().unwrap_or_default();
        match event {
            watcher::Event::Init => {
                self.listing = Some(BTreeMap::new());
                false
            }
            watcher::Event::InitApply(o) => {
                if let Some(v) = project(&o) {
                    self.listing
                        .get_or_insert_with(BTreeMap::new)
                        .insert(name(&o), v);
                }
                false
            }
            watcher::Event::InitDone => {
                let listed = self.listing.take().unwrap_or_default();
                let changed = !self.synced || listed != self.items;
                self.items = listed;
                self.synced = true;
                changed
            }
            watcher::Event::Apply(o) => match project(&o) {
                Some(v) => {
                    let n = name(&o);
                    if self.items.get(&n) == Some(&v) {
                        false
                    } else {
                        self.items.insert(n, v);
                        true
                    }
                }
                None => self.items.remove(&name(&o)).is_some(),
            },
            watcher::Event::Delete(o) => self.items.remove(&name(&o)).is_some(),
        }
    }
}

/// What the rollup keeps of a template: what [`compute`] reads, and the status it has.
#[derive(Debug, Clone, PartialEq)]
struct TemplateState {
    template: Template,
    status: Option<HostNetworkTemplateStatus>,
    /// The NetworkAttachmentDefinitions it declares (none when the renderer refuses it).
    networks: Vec<plumber_render::networks::Nad>,
}

impl TemplateView {
    /// The projection, `None` for a template being deleted (its nodes are letting go of it).
    fn state(&self) -> Option<TemplateState> {
        if self.metadata.deletion_timestamp.is_some() {
            return None;
        }
        let object = TemplateObject {
            metadata: self.metadata.clone(),
            spec: self.spec.clone(),
            status: None,
        };
        let (invalid, networks) = checked(&object);
        Some(TemplateState {
            template: Template {
                name: object.name().to_string(),
                generation: self.metadata.generation,
                // A selector that is not a map of strings (the schema says it is) selects every node,
                // which then report the template as invalid, as does the rollup.
                selector: object.node_selector().unwrap_or_default(),
                invalid,
            },
            status: self.status.clone(),
            networks,
        })
    }
}

/// What the renderer says is wrong with the template on its own (parsing, then validation), as the
/// agents would report it (`None` when nothing is), and the NetworkAttachmentDefinitions it declares
/// (none when it is wrong): one parse for both.
fn checked(object: &TemplateObject) -> (Option<String>, Vec<plumber_render::networks::Nad>) {
    let l = match object.to_loaded() {
        Err(e) => return (Some(e), Vec::new()),
        Ok(l) => l,
    };
    let errors: Vec<String> = plumber_render::validate::validate(&l)
        .iter()
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return (Some(errors.join("; ")), Vec::new());
    }
    match plumber_render::networks::networks(&[&l]) {
        Ok(networks) => (None, networks),
        Err(e) => (Some(e.to_string()), Vec::new()),
    }
}

/// What one [`Rollup::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Statuses written.
    pub writes: usize,
    /// Writes that failed: `template: error`.
    pub errors: Vec<String>,
}

/// The projections of the cluster, and the status writer.
pub struct Rollup {
    templates: Projection<TemplateState>,
    nodes: Projection<Labels>,
    reports: Projection<NodeReport>,
    params: PatchParams,
    clock: Clock,
    /// The NetworkAttachmentDefinitions of the templates' pools, when a client is given
    /// ([`Rollup::with_networks`]).
    networks: Option<networks::Networks>,
}

impl Default for Rollup {
    fn default() -> Self {
        Rollup::new()
    }
}

impl Rollup {
    pub fn new() -> Rollup {
        Rollup {
            templates: Projection::default(),
            nodes: Projection::default(),
            reports: Projection::default(),
            params: PatchParams::apply(FIELD_MANAGER).force(),
            clock: Box::new(wall_clock),
            networks: None,
        }
    }

    /// Also keeps the templates' NetworkAttachmentDefinitions in the cluster, through `client`.
    pub fn with_networks(mut self, client: Client) -> Self {
        self.networks = Some(networks::Networks::new(client));
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Whether the three watchers have each listed once.
    pub fn ready(&self) -> bool {
        self.templates.synced && self.nodes.synced && self.reports.synced
    }

    /// (templates, nodes, HostNetworks) held.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (
            self.templates.items.len(),
            self.nodes.items.len(),
            self.reports.items.len(),
        )
    }

    /// The report of node `name` as held.
    pub fn report(&self, name: &str) -> Option<&NodeReport> {
        self.reports.items.get(name)
    }

    /// A template event; returns whether anything the statuses depend on changed.
    pub fn on_template(&mut self, e: watcher::Event<TemplateView>) -> bool {
        self.templates.on(e, TemplateView::state)
    }

    /// A Node event (labels).
    pub fn on_node<K: Resource>(&mut self, e: watcher::Event<K>) -> bool {
        self.nodes
            .on(e, |n| Some(n.meta().labels.clone().unwrap_or_default()))
    }

    /// A HostNetwork event.
    pub fn on_host_network(&mut self, e: watcher::Event<HostNetworkView>) -> bool {
        self.reports.on(e, |h| Some(h.report()))
    }

    /// Any of the three; errors are logged and change nothing.
    pub fn on_change(&mut self, c: Change) -> bool {
        match c {
            Change::Template(e) => self.on_template(e),
            Change::Node(e) => self.on_node(e),
            Change::HostNetwork(e) => self.on_host_network(e),
            Change::Error { what, error } => {
                tracing::warn!(error = %error, "watching {what} (retrying)");
                false
            }
        }
    }

    /// Every template's status as it should be now (name, status, whether it differs from the one the
    /// template has).
    fn compute(&self) -> Vec<(String, HostNetworkTemplateStatus, bool)> {
        let now = (self.clock)();
        self.templates
            .items
            .iter()
            .map(|(name, t)| {
                let status = compute::compute(
                    &t.template,
                    &self.nodes.items,
                    &self.reports.items,
                    t.status.as_ref(),
                    &now,
                );
                let differs = !t.status.as_ref().is_some_and(|s| compute::same(s, &status));
                (name.clone(), status, differs)
            })
            .collect()
    }

    /// Recomputes every template and writes the statuses that differ from what the templates have.
    pub async fn sync(&mut self, api: &Api<TemplateView>) -> SyncReport {
        let mut report = SyncReport::default();
        for (name, status, differs) in self.compute() {
            if !differs {
                continue;
            }
            let body = Patch::Apply(status_body(&name, &status));
            match api.patch_status(&name, &self.params, &body).await {
                Ok(written) => {
                    report.writes += 1;
                    tracing::info!(
                        template = %name,
                        matched = status.nodes_matched,
                        applied = status.nodes_applied,
                        failed = status.nodes_failed,
                        "status written"
                    );
                    // What the server has now (its watch event will say the same).
                    if let Some(t) = self.templates.items.get_mut(&name) {
                        t.status = Some(written.status.unwrap_or(status));
                    }
                }
                Err(kube::Error::Api(s)) if s.is_not_found() => {
                    // Deleted meanwhile: its Delete event is on its way.
                    tracing::debug!(template = %name, "template gone before its status was written");
                    self.templates.items.remove(&name);
                }
                Err(e) => {
                    tracing::warn!(template = %name, error = %e, "writing the template status (retried)");
                    report.errors.push(format!("{name}: {e}"));
                }
            }
        }
        if let Some(nets) = &mut self.networks {
            let mut desired =
                networks::desired(self.templates.items.values().map(|t| t.networks.as_slice()));
            desired.may_delete = self
                .templates
                .items
                .values()
                .all(|t| t.template.invalid.is_none());
            let (writes, errors) = nets.sync(&desired).await;
            report.writes += writes;
            for e in &errors {
                tracing::warn!(error = %e, "keeping the NetworkAttachmentDefinitions (retried)");
            }
            report.errors.extend(errors);
        }
        report
    }
}

/// The body of the status apply.
fn status_body(name: &str, status: &HostNetworkTemplateStatus) -> Value {
    json!({
        "apiVersion": plumber_render::model::API_VERSION,
        "kind": "HostNetworkTemplate",
        "metadata": {"name": name},
        "status": status,
    })
}

// ---------------------------------------------------------------------------------------------------
// The loop

/// When the next sync is due: `debounce` after the last change of a burst, but no later than
/// 4 × `debounce` after its first (a fleet that never stops changing still gets statuses); or a retry.
#[derive(Debug, Clone)]
struct Debounce {
    debounce: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
    retry: Option<Instant>,
}

impl Debounce {
    fn new(debounce: Duration) -> Debounce {
        Debounce {
            debounce,
            first: None,
            last: None,
            retry: None,
        }
    }

    /// A change at `now`.
    fn note(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// A retry at `at` (unless a change comes first).
    fn retry_at(&mut self, at: Instant) {
        self.retry = Some(self.retry.map_or(at, |r| r.min(at)));
    }

    /// When the sync is due, if one is.
    fn due(&self) -> Option<Instant> {
        let burst = match (self.first, self.last) {
            (Some(f), Some(l)) => Some((l + self.debounce).min(f + self.debounce * 4)),
            _ => None,
        };
        match (burst, self.retry) {
            (Some(b), Some(r)) => Some(b.min(r)),
            (b, r) => b.or(r),
        }
    }

    /// The sync ran.
    fn clear(&mut self) {
        self.first = None;
        self.last = None;
        self.retry = None;
    }
}

/// Applies `changes` to `rollup` and syncs, debounced, until `stop` resolves. Nothing is synced before
/// the three watchers have listed once.
async fn drive<S, F>(
    rollup: &mut Rollup,
    api: &Api<TemplateView>,
    changes: S,
    debounce: Duration,
    state: &health::State,
    stop: F,
) -> anyhow::Result<()>
where
    S: Stream<Item = Change>,
    F: Future<Output = ()>,
{
    futures::pin_mut!(changes, stop);
    let mut timer = Debounce::new(debounce);
    loop {
        let due = timer.due().filter(|_| rollup.ready());
        tokio::select! {
            _ = &mut stop => return Ok(()),
            c = changes.next() => {
                let Some(c) = c else {
                    anyhow::bail!("the watchers stopped");
                };
                if rollup.on_change(c) {
                    timer.note(Instant::now());
                }
                let (t, n, h) = rollup.sizes();
                state.metrics.templates.set(t as i64);
                state.metrics.nodes.set(n as i64);
                state.metrics.host_networks.set(h as i64);
                if rollup.ready() && !state.is_ready() {
                    tracing::info!(templates = t, nodes = n, host_networks = h, "watchers synced");
                    state.set_ready();
                }
            }
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                timer.clear();
                state.started();
                let r = rollup.sync(api).await;
                state.ended();
                state.metrics.syncs.inc();
                state.metrics.status_writes.inc_by(r.writes as u64);
                state.metrics.api_errors.inc_by(r.errors.len() as u64);
                if !r.errors.is_empty() {
                    timer.retry_at(Instant::now() + RETRY);
                }
            }
        }
    }
}

/// The rollup's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: std::net::IpAddr,
    pub port: u16,
    pub debounce: Duration,
    /// Who may read `/metrics`.
    pub metrics_access: crate::cluster::metrics_access::Mode,
}

/// Runs the rollup until SIGTERM or SIGINT.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let stop = crate::node::watch::shutdown_signal()?;
    let client = Client::try_default()
        .await
        .context("connecting to the API server (in-cluster config or KUBECONFIG)")?;
    let state = Arc::new(health::State::new(STALL));
    let listener = tokio::net::TcpListener::bind((cfg.bind, cfg.port))
        .await
        .with_context(|| format!("listening on {}:{}", cfg.bind, cfg.port))?;
    let s = state.clone();
    let access = MetricsAccess::new(cfg.metrics_access, client.clone());
    tokio::spawn(crate::cluster::health::serve_with(
        listener,
        Arc::new(access),
        move |path| health::respond(&s, path),
    ));
    tracing::info!(
        port = cfg.port,
        debounce_ms = cfg.debounce.as_millis() as u64,
        "plumber rollup starting"
    );
    let (api, _) = template_watch(client.clone());
    let mut rollup = Rollup::new().with_networks(client.clone());
    drive(
        &mut rollup,
        &api,
        changes(client),
        cfg.debounce,
        &state,
        stop,
    )
    .await?;
    tracing::info!("plumber rollup stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hn(name: &str, status: Value) -> HostNetworkView {
        serde_json::from_value(json!({"metadata": {"name": name}, "status": status})).unwrap()
    }

    fn tpl(name: &str, generation: i64, selector: Value) -> TemplateView {
        serde_json::from_value(json!({
            "metadata": {"name": name, "generation": generation},
            "spec": {"nodeSelector": selector, "interfaceConfig": [{"name": "eth0", "mtu": 9000}],
                     "aFieldFromTheFuture": true},
        }))
        .unwrap()
    }

    #[test]
    fn views_read_what_they_need_and_skip_the_rest() {
        let h = hn(
            "n1",
            json!({
                "links": [{"name": "eth0", "kind": "device", "mtu": 9000, "up": true}],
                "interfaceStatus": [], "routes": {},
                "appliedTemplates": [{"name": "a", "generation": 2}],
                "lastApply": {"result": "a-result-from-the-future", "time": "2027-01-15T08:00:00Z",
                              "digest": "d"},
                "conditions": [{"type": "Available", "status": "True", "reason": "Applied",
                                "message": "m", "lastTransitionTime": "2027-01-15T08:00:00Z"}]
            }),
        );
        let r = h.report();
        assert!(r.has_applied("a", Some(2)));
        assert_eq!(r.last_apply, None);
        let t = tpl("a", 2, json!({"rack": "r1"})).state().unwrap();
        assert_eq!(
            t.template.selector,
            plumber_render::select::parse_labels("rack=r1").unwrap()
        );
        assert_eq!(t.template.generation, Some(2));
        // A field this build does not know: its agents refuse the template, and so says the rollup.
        assert_eq!(
            t.template.invalid.as_deref(),
            Some(
                "hostnetworktemplate/a#1 (a): spec.aFieldFromTheFuture: unknown field \
                 `aFieldFromTheFuture`, expected one of `priority`, `nodeSelector`, \
                 `maxUnavailable`, `sriovConfig`, `interfaceConfig`, `bondConfig`, `bridgeConfig`, \
                 `ovsConfig`"
            )
        );
        let mut fine = tpl("b", 1, json!({"rack": "r1"}));
        fine.spec
            .as_object_mut()
            .unwrap()
            .remove("aFieldFromTheFuture");
        assert_eq!(fine.state().unwrap().template.invalid, None);
        // A selector that is no map of strings does not stop the watcher: it selects every node.
        let odd: TemplateView = serde_json::from_value(json!({
            "metadata": {"name": "odd"}, "spec": {"nodeSelector": ["rack"]}}))
        .unwrap();
        let odd = odd.state().unwrap().template;
        assert!(odd.selector.is_empty() && odd.invalid.is_some());
        assert_eq!(HostNetworkView::plural(&()), "hostnetworks");
        assert_eq!(
            TemplateView::url_path(&(), None),
            "/apis/plumber.k8s.pf9.io/v1/hostnetworktemplates"
        );
    }

    #[test]
    fn a_relist_replaces_and_only_real_changes_count() {
        let mut r = Rollup::new();
        assert!(!r.ready());
        assert!(!r.on_template(watcher::Event::Init));
        assert!(!r.on_template(watcher::Event::InitApply(tpl("a", 1, json!({})))));
        assert!(r.on_template(watcher::Event::InitDone));
        assert!(r.on_node(watcher::Event::<PartialObjectMeta<Node>>::InitDone));
        assert!(!r.ready());
        assert!(r.on_host_network(watcher::Event::Apply(hn("n1", json!({})))));
        assert!(r.on_host_network(watcher::Event::InitDone));
        assert!(r.ready());
        // The relist dropped n1 (not listed).
        assert_eq!(r.sizes(), (1, 0, 0));
        // The same template again: no change; a HostNetwork whose discovered state alone changed: none.
        assert!(!r.on_template(watcher::Event::Apply(tpl("a", 1, json!({})))));
        assert!(r.on_host_network(watcher::Event::Apply(hn("n1", json!({"links": []})))));
        assert!(!r.on_host_network(watcher::Event::Apply(hn(
            "n1",
            json!({"links": [{"name": "x", "kind": "device", "mtu": 1500, "up": true}]})
        ))));
        // A template being deleted is dropped.
        let mut gone = tpl("a", 1, json!({}));
        gone.metadata.deletion_timestamp = Some(wall_clock());
        assert!(r.on_template(watcher::Event::Apply(gone)));
        assert_eq!(r.sizes(), (0, 0, 1));
        assert!(!r.on_template(watcher::Event::Delete(tpl("a", 1, json!({})))));
    }

    #[test]
    fn debounce_waits_for_quiet_but_not_forever() {
        let d = Duration::from_millis(1000);
        let t0 = Instant::now();
        let mut b = Debounce::new(d);
        assert_eq!(b.due(), None);
        b.note(t0);
        assert_eq!(b.due(), Some(t0 + d));
        b.note(t0 + Duration::from_millis(800));
        assert_eq!(b.due(), Some(t0 + Duration::from_millis(1800)));
        b.note(t0 + Duration::from_millis(3500));
        assert_eq!(b.due(), Some(t0 + Duration::from_millis(4000)));
        b.clear();
        b.retry_at(t0 + RETRY);
        assert_eq!(b.due(), Some(t0 + RETRY));
        b.note(t0);
        assert_eq!(b.due(), Some(t0 + d));
    }
}
