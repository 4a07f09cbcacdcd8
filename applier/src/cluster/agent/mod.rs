//! `plumber agent`: the DaemonSet on every node that turns the cluster's `HostNetworkTemplate`s into the
//! node's state and publishes the node's `HostNetwork`.
//!
//! One loop ([`run`]): watchers on the templates (a reflector: the full set is always at hand) and on
//! this node's `Node` (its labels), plus the netlink subscription of `plumber apply --watch`, all feed
//! one debounced stream of triggers into [`crate::node::watch::watch_events`], which also runs the resync
//! backstop. Each pass is [`Agent::reconcile`]:
//!
//! 1. select the templates for the node's labels, check and merge them ([`reconcile::decide`]): a
//!    conflict or an invalid template applies nothing and is reported (Degraded, an Event);
//! 2. when the set of templates (names and generations) differs from the last one tried, publish
//!    `Progressing=True`;
//! 3. apply through the [`reconcile::Host`] (the applier: files + runtime, verify, rollback; letting
//!    go of what only a deleted or no longer selecting template owned);
//! 4. discover the node, build the status (discovered state, applied templates, last apply,
//!    conditions), and publish it by server-side apply if its content changed ([`publish`]);
//! 5. post an Event for what happened ([`events`]) and count it ([`health::Metrics`]).
//!
//! Nothing is applied before both watchers have synced and the Node is known: applying with no labels
//! would let go of everything the label-selected templates own.

mod conditions;
pub mod config;
mod events;
pub mod health;
mod publish;
pub mod reconcile;
mod rollout;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client};
use plumber_render::inventory;
use plumber_render::node::Skipped;
use plumber_render::select::Labels;

use crate::cluster::clock::{wall_clock, Clock};
use crate::cluster::crd::{AppliedTemplate, HostNetworkStatus, LastApply, TemplateObject};
use crate::cluster::metrics_access::MetricsAccess;
use crate::node::apply::{Outcome, Target};
pub use config::Config;
use reconcile::{Decision, Host, Verdict};

/// What one pass did.
#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    pub verdict: Verdict,
    /// Whether the status was written (one or more requests).
    pub published: bool,
    /// The Event posted, by reason.
    pub event: Option<&'static str>,
    /// Whether a `Progressing=True` status was published before applying.
    pub progressing: bool,
    /// Try again after this long (waiting for a rollout slot), without waiting for an event.
    pub retry_after: Option<Duration>,
}

/// How soon a node waiting for a rollout slot looks again (a LIST of the slots: a read).
pub const SLOT_RETRY: Duration = Duration::from_secs(10);

impl crate::node::watch::PassReport for Pass {
    /// Node changes: the applier's (an apply that failed and rolled back counts as one, so that a
    /// fight backs off).
    fn writes(&self) -> usize {
        match &self.verdict {
            Verdict::Done(r) => match r.outcome {
                Outcome::Unchanged | Outcome::Refused => 0,
                Outcome::Applied => r
                    .record
                    .as_ref()
                    .map(|r| r.changes.len())
                    .unwrap_or(0)
                    .max(1),
                Outcome::RolledBack | Outcome::RollbackFailed => 1,
            },
            _ => 0,
        }
    }

    fn summary(&self) -> String {
        match &self.verdict {
            Verdict::Done(r) => r.record.as_ref().map(|r| r.summary()).unwrap_or_default(),
            v => conditions::failure(v).map(|f| f.1).unwrap_or_default(),
        }
    }
}

/// The agent's state between passes.
pub struct Agent<H: Host> {
    node: String,
    host: H,
    publisher: publish::Publisher,
    events: events::Events,
    state: Arc<health::State>,
    clock: Clock,
    conditions: Vec<Condition>,
    discovered: inventory::HostNetworkStatus,
    /// Whether `discovered` was observed by this process (not only read back from the server).
    observed: bool,
    applied_templates: Vec<AppliedTemplate>,
    last_apply: Option<LastApply>,
    /// What the last apply that ran left out (best effort).
    skipped: Vec<Skipped>,
    /// The templates (name, generation) of the last apply tried: a different set is a new apply
    /// (`Progressing`), the same set changing the node is drift.
    tried: Option<Vec<(String, Option<i64>)>>,
    /// Rollout slots (`maxUnavailable`), as Leases in the agent's namespace.
    slots: rollout::Slots,
    /// The renderer's warnings about the templates chosen last (logged once, when they change).
    warned: Vec<String>,
}

impl<H: Host> Agent<H> {
    pub fn new(client: Client, node: &str, host: H, state: Arc<health::State>) -> Agent<H> {
        Agent {
            node: node.to_string(),
            host,
            publisher: publish::Publisher::new(client.clone(), node),
            // The client's namespace: the pod's own in the cluster (its service account's).
            slots: rollout::Slots::new(client.clone(), client.default_namespace(), node),
            events: events::Events::new(client, node),
            state,
            clock: Box::new(wall_clock),
            conditions: Vec::new(),
            discovered: inventory::HostNetworkStatus::default(),
            observed: false,
            applied_templates: Vec::new(),
            last_apply: None,
            skipped: Vec::new(),
            tried: None,
            warned: Vec::new(),
        }
    }

    /// Keeps the rollout slots in `namespace` instead of the client's default one.
    pub fn with_namespace(mut self, namespace: &str, client: Client) -> Self {
        self.slots = rollout::Slots::new(client, namespace, &self.node);
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Reads the node's `HostNetwork` from the server, so that a restart carries its conditions'
    /// transition times and last apply over and writes nothing when nothing changed.
    pub async fn start(&mut self) -> Result<(), kube::Error> {
        if let Some(s) = self.publisher.load().await? {
            self.conditions = s.conditions;
            self.applied_templates = s.applied_templates;
            self.last_apply = s.last_apply;
            self.skipped = s.skipped;
            self.discovered = s.discovered;
            // The templates of the last apply, if there was one.
            self.tried = self.last_apply.is_some().then(|| {
                self.applied_templates
                    .iter()
                    .map(|t| (t.name.clone(), t.generation))
                    .collect()
            });
        }
        Ok(())
    }

    /// The status as it stands.
    fn status(&self, sync_error: Option<String>) -> HostNetworkStatus {
        HostNetworkStatus {
            discovered: self.discovered.clone(),
            applied_templates: self.applied_templates.clone(),
            last_apply: self.last_apply.clone(),
            skipped: self.skipped.clone(),
            conditions: self.conditions.clone(),
            last_sync_error: sync_error,
        }
    }

    /// One pass over `templates` (the cluster's) for a node labelled `labels`.
    pub async fn reconcile(&mut self, templates: &[&TemplateObject], labels: &Labels) -> Pass {
        let started = std::time::Instant::now();
        self.state.started();
        let mut progressing = false;
        let mut drift = false;
        // The templates are merged with the node's inventory (DPDK uplinks named by interface): observed
        // once before the first decision; every pass observes the node again after its apply.
        if !self.observed {
            match self.host.observe().await {
                Ok(d) => {
                    self.discovered = d;
                    self.observed = true;
                }
                Err(e) => tracing::warn!(error = %e, "discovering the node before merging"),
            }
        }
        let inventory = inventory::HostNetwork {
            status: self.discovered.clone(),
            ..Default::default()
        };
        let decided = reconcile::decide(templates, labels, Some(&inventory));
        if let Decision::Apply(chosen) = &decided {
            // What plumber-render and plumber apply print as warnings (an SR-IOV entry naming its
            // PF several ways, a name kubectl refuses): logged when they change, not every pass.
            let warnings = plumber_render::pipeline::warnings(chosen);
            if warnings != self.warned {
                for w in &warnings {
                    tracing::warn!(warning = %w, "template");
                }
                self.warned = warnings;
            }
        }
        let mut retry_after = None;
        let decided = match decided {
            Decision::Apply(chosen) => match self.take_slots(templates, &chosen).await {
                Ok(None) => Decision::Apply(chosen),
                Ok(Some(waiting)) => {
                    retry_after = Some(SLOT_RETRY);
                    Decision::Refuse(Verdict::Waiting(waiting))
                }
                Err(e) => {
                    self.state.metrics.api_errors.inc();
                    retry_after = Some(SLOT_RETRY);
                    Decision::Refuse(Verdict::Waiting(format!(
                        "could not take a rollout slot (retrying): {e}"
                    )))
                }
            },
            refused => refused,
        };
        let verdict = match decided {
            Decision::Refuse(v) => v,
            Decision::Apply(chosen) => {
                let set: Vec<(String, Option<i64>)> = chosen
                    .iter()
                    .map(|l| (l.name().to_string(), l.template.metadata.generation))
                    .collect();
                let names: Vec<String> = set.iter().map(|(n, _)| n.clone()).collect();
                if self.tried.as_ref() != Some(&set) {
                    self.tried = Some(set);
                    self.conditions = crate::cluster::conditions::update(
                        &self.conditions,
                        &conditions::applying(&names),
                        &(self.clock)(),
                    );
                    progressing = self.write_status(None).await;
                } else {
                    drift = true;
                }
                let mut report = self.host.apply(&chosen, labels).await;
                report.templates = names;
                reconcile::verdict(report)
            }
        };
        if let Verdict::Done(r) = &verdict {
            if let Some(rec) = &r.record {
                if r.error.is_none() {
                    self.applied_templates = publish::applied_templates(rec);
                    self.skipped = rec.skipped.clone();
                }
                self.last_apply = Some(publish::next_last_apply(self.last_apply.as_ref(), rec));
            }
        }
        // A node that applied its templates is available again: its slots go back. One that failed
        // keeps them, so that a broken template stops there.
        // After a restart the slots are not known: an agent stopped between a successful apply and
        // giving its slot back would otherwise hold it for ever. One LIST, once, when some template
        // limits its rollout.
        let unknown = !self.slots.known()
            && templates
                .iter()
                .any(|t| t.spec.get("maxUnavailable").is_some_and(|m| !m.is_null()));
        if verdict.ok() && (self.slots.holds_any() || unknown) {
            if let Err(e) = self.slots.give_back_except(&Default::default()).await {
                self.state.metrics.api_errors.inc();
                retry_after = Some(SLOT_RETRY);
                tracing::warn!(error = %e, "giving back rollout slots (retrying)");
            }
        }
        let sync_error = match self.host.observe().await {
            Ok(d) => {
                self.discovered = d;
                self.observed = true;
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "discovering the node for the status");
                Some(format!("discovering the node: {e}"))
            }
        };
        self.conditions = crate::cluster::conditions::update(
            &self.conditions,
            &conditions::after(&verdict),
            &(self.clock)(),
        );
        let published = self.write_status(sync_error).await;
        let reference = events::reference(&self.node, self.publisher.uid.clone());
        let event = match self.events.post(&reference, &verdict).await {
            Ok(e) => e,
            Err(e) => {
                self.state.metrics.api_errors.inc();
                tracing::warn!(error = %e, "posting an Event");
                None
            }
        };
        if verdict.ok() && event.is_none() {
            self.events.clear();
        }
        log(&verdict);
        self.state.metrics.count(&verdict, drift, started.elapsed());
        self.state.ended();
        Pass {
            verdict,
            published: published || progressing,
            event,
            progressing,
            retry_after,
        }
    }

    /// Takes a rollout slot of every template in `chosen` that limits its rollout (`maxUnavailable`)
    /// and that this node has not applied at its current generation yet. All or none: a node holding
    /// one template's slot while waiting for another's could deadlock with a node doing the opposite.
    /// `Ok(None)`: go ahead; `Ok(Some(why))`: wait.
    async fn take_slots(
        &mut self,
        all: &[&TemplateObject],
        chosen: &[plumber_render::parse::Loaded],
    ) -> Result<Option<String>, kube::Error> {
        let mut need = Vec::new();
        for l in chosen {
            let Some(max) = l.template.spec.max_unavailable else {
                continue;
            };
            let name = l.name();
            let generation = l.template.metadata.generation;
            if self
                .applied_templates
                .iter()
                .any(|a| a.name == name && a.generation == generation)
            {
                continue;
            }
            // A percentage counts the nodes the rollup last saw selected.
            let matched = all
                .iter()
                .find(|t| t.name() == name)
                .map_or(0, |t| t.nodes_matched());
            need.push((name.to_string(), max, max.slots(matched)));
        }
        if need.is_empty() {
            return Ok(None);
        }
        let wanted: Vec<(String, u32)> = need.iter().map(|(n, _, s)| (n.clone(), *s)).collect();
        let took = self.slots.take_all(&wanted).await?;
        let mut waiting = Vec::new();
        let mut taken_now = std::collections::BTreeSet::new();
        for ((name, max, slots), take) in need.iter().zip(&took) {
            match take {
                rollout::Take::Busy(holders) => waiting.push(format!(
                    "template {name} (maxUnavailable {max}: {slots} slots) is being applied by {}",
                    holders.join(", ")
                )),
                rollout::Take::Taken(_) => {
                    taken_now.insert(name.clone());
                }
                rollout::Take::Held(_) => {}
            }
        }
        if waiting.is_empty() {
            return Ok(None);
        }
        // Give back only what this pass took: a slot held from an earlier, failed apply stays.
        let keep = self
            .slots
            .held()
            .await?
            .keys()
            .filter(|t| !taken_now.contains(*t))
            .cloned()
            .collect();
        self.slots.give_back_except(&keep).await?;
        Ok(Some(format!(
            "waiting for a rollout slot: {}",
            waiting.join("; ")
        )))
    }

    /// Publishes the status if it changed; returns whether it wrote.
    async fn write_status(&mut self, sync_error: Option<String>) -> bool {
        let status = self.status(sync_error);
        match self.publisher.publish(&status).await {
            Ok(wrote) => {
                if wrote {
                    self.state.metrics.status_writes.inc();
                }
                wrote
            }
            Err(e) => {
                self.state.metrics.api_errors.inc();
                tracing::warn!(error = %e, "publishing the HostNetwork status (retried on the next pass)");
                false
            }
        }
    }
}

fn log(v: &Verdict) {
    match v {
        Verdict::Done(r) => match r.outcome {
            Outcome::Unchanged => tracing::debug!(templates = ?r.templates, "nothing to do"),
            Outcome::Applied => {
                let (files, ops): (Vec<&str>, Vec<&str>) = r
                    .record
                    .as_ref()
                    .map(|r| {
                        let (f, o): (Vec<_>, Vec<_>) = r
                            .changes
                            .iter()
                            .partition(|c| c.stage == crate::node::apply::Stage::File);
                        (
                            f.iter().map(|c| c.text.as_str()).collect(),
                            o.iter().map(|c| c.text.as_str()).collect(),
                        )
                    })
                    .unwrap_or_default();
                tracing::info!(templates = ?r.templates, ?files, ?ops, "applied")
            }
            o => {
                tracing::warn!(templates = ?r.templates, outcome = ?o, error = r.error.as_deref().unwrap_or(""), "apply failed")
            }
        },
        Verdict::Conflict(c) => {
            for c in c {
                tracing::warn!(field = %c.field, first = %c.first.template, second = %c.second.template, "templates conflict: {c}");
            }
        }
        Verdict::Invalid(m) => tracing::warn!(error = %m, "invalid template"),
        Verdict::Waiting(m) => tracing::info!(waiting = %m, "waiting for a rollout slot"),
    }
}

/// Runs the agent until SIGTERM or SIGINT. `after_pass` runs after each pass, on the thread that ran
/// it and, in a task, on the runtime's worker (the binary gives its allocator's free pages back to the
/// kernel with it, on both threads that allocated them, and the code pages the pass ran through).
pub async fn run(cfg: Config, after_pass: fn()) -> anyhow::Result<()> {
    let stop = crate::node::watch::shutdown_signal()?;
    let kube_config = kube::Config::infer()
        .await
        .context("connecting to the API server (in-cluster config or KUBECONFIG)")?;
    let api_server = api_server_endpoint(&kube_config.cluster_url).await;
    let client = Client::try_from(kube_config)
        .context("connecting to the API server (in-cluster config or KUBECONFIG)")?;
    let distro = match &cfg.distro {
        Some(d) => plumber_render::distro::Distro::by_name(d)?,
        None => crate::node::apply::distro_of(&cfg.host_root)?,
    };
    let handle = crate::node::netlink::connection()?;
    let ovsdb = if cfg.host_root == std::path::Path::new("/") {
        // Running on the host itself (not in a container): its ovs-vsctl, as `plumber apply`.
        crate::node::ovs::Ovsdb {
            socket: cfg.ovsdb_socket.clone(),
            ..crate::node::ovs::Ovsdb::default()
        }
    } else {
        crate::node::ovs::Ovsdb::on_host(&cfg.host_root, cfg.ovsdb_socket.clone())
    };
    let target = Target {
        root: cfg.host_root.clone(),
        state_dir: cfg.state_dir.clone(),
        sysfs: cfg.sysfs.clone(),
        distro,
        scope: crate::node::apply::Scope::All,
        node_name: cfg.node_name.clone(),
        ovsdb,
        guard: crate::node::guard::Guard::agent(
            cfg.guard_timeout(),
            api_server.into_iter().collect(),
        ),
        strict: cfg.strict,
    };
    let watch_cfg = cfg.watch();
    // A pass may wait on VFs (30 s per step) and OVS; ten resyncs (at least 10 minutes) is a wedge.
    let stall = (watch_cfg.resync_period() * 10).max(Duration::from_secs(600));
    let state = Arc::new(health::State::new(stall));
    let listener = tokio::net::TcpListener::bind((cfg.bind, cfg.port))
        .await
        .with_context(|| format!("listening on {}:{}", cfg.bind, cfg.port))?;
    let access = MetricsAccess::new(cfg.metrics_access, client.clone());
    tokio::spawn(health::serve(listener, Arc::new(access), state.clone()));
    tracing::info!(node = %cfg.node_name, port = cfg.port, root = %cfg.host_root.display(), "plumber agent starting");

    // Triggers from the API server: a bounded channel whose items only say "something changed" (a
    // full channel already guarantees a pass).
    let (tx, rx) = futures::channel::mpsc::channel::<()>(16);

    let (store, writer) = reflector::store::<TemplateObject>();
    let (api, config) = templates_watched(client.clone());
    let templates = reflector(writer, watcher(api, config)).default_backoff();
    let mut ttx = tx.clone();
    tokio::spawn(async move {
        futures::pin_mut!(templates);
        // What a pass depends on, per template: a change of the status alone (the rollup's counts,
        // written whenever any node moves) starts none, or every rollup write would wake every agent
        // (BENCHMARKS.md, "Fleet load"). A node waiting for a rollout slot retries on its own.
        let mut seen: std::collections::BTreeMap<String, String> = Default::default();
        while let Some(ev) = templates.next().await {
            match ev {
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Ok(watcher::Event::Apply(t)) => {
                    let key = pass_key(&t);
                    if seen.insert(t.name().to_string(), key.clone()).as_ref() != Some(&key) {
                        let _ = ttx.try_send(());
                    }
                }
                Ok(watcher::Event::Delete(t)) => {
                    seen.remove(t.name());
                    let _ = ttx.try_send(());
                }
                Ok(watcher::Event::InitDone) => {
                    seen.clear();
                    let _ = ttx.try_send(());
                }
                Err(e) => tracing::warn!(error = %e, "watching HostNetworkTemplates (retrying)"),
            }
        }
    });

    let (labels_tx, labels_rx) = tokio::sync::watch::channel::<Option<Labels>>(None);
    let (api, config) = node_watched(client.clone(), &cfg.node_name);
    let nodes = watcher(api, config).default_backoff();
    let mut ntx = tx.clone();
    let node_name = cfg.node_name.clone();
    tokio::spawn(async move {
        futures::pin_mut!(nodes);
        // During a (re)list the labels are held until `InitDone`.
        let mut listing: Option<Option<Labels>> = None;
        while let Some(ev) = nodes.next().await {
            let labels = match ev {
                Ok(watcher::Event::Init) => {
                    listing = Some(None);
                    continue;
                }
                Ok(watcher::Event::InitApply(n)) => {
                    listing = Some(Some(node_labels(&n)));
                    continue;
                }
                Ok(watcher::Event::InitDone) => listing.take().unwrap_or(None),
                Ok(watcher::Event::Apply(n)) => Some(node_labels(&n)),
                Ok(watcher::Event::Delete(_)) => None,
                Err(e) => {
                    tracing::warn!(error = %e, node = %node_name, "watching the Node (retrying)");
                    continue;
                }
            };
            if *labels_tx.borrow() != labels {
                labels_tx.send_replace(labels);
                let _ = ntx.try_send(());
            }
        }
    });
    // A pass waiting for a rollout slot asks for another one later through this.
    let retry_tx = tx;

    // Wait for both to sync before the first pass.
    store
        .wait_until_ready()
        .await
        .context("the template watcher stopped before it synced")?;
    let mut lrx = labels_rx.clone();
    lrx.wait_for(|l| l.is_some())
        .await
        .context("the Node watcher stopped")?;

    let mut agent = Agent::new(
        client.clone(),
        &cfg.node_name,
        reconcile::NodeHost { handle, target },
        state.clone(),
    );
    if let Some(ns) = &cfg.namespace {
        agent = agent.with_namespace(ns, client.clone());
    }
    if let Err(e) = agent.start().await {
        tracing::warn!(error = %e, "reading this node's HostNetwork (it will be written)");
    }
    let agent = std::rc::Rc::new(tokio::sync::Mutex::new(agent));
    let netlink = crate::node::netlink::events::subscribe()?;
    let events = futures::stream::select(netlink.boxed(), rx.boxed());
    let ready = state.clone();
    let stats = crate::node::watch::watch_events(
        watch_cfg,
        events,
        |trigger| {
            let agent = agent.clone();
            let store = store.clone();
            let labels = labels_rx.clone();
            let ready = ready.clone();
            let mut retry = retry_tx.clone();
            async move {
                let Some(labels) = labels.borrow().clone() else {
                    tracing::warn!(%trigger, "the Node is gone: applying nothing");
                    return Ok(None);
                };
                let all = store.state();
                let refs: Vec<&TemplateObject> = all.iter().map(|t| t.as_ref()).collect();
                let pass = agent.lock().await.reconcile(&refs, &labels).await;
                after_pass();
                tokio::spawn(async move { after_pass() });
                ready.set_ready();
                if let Some(after) = pass.retry_after {
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = retry.try_send(());
                    });
                }
                tracing::debug!(%trigger, published = pass.published, "pass done");
                crate::node::Result::Ok(Some(pass))
            }
        },
        stop,
    )
    .await?;
    tracing::info!(
        passes = stats.passes,
        repairs = stats.repairs,
        errors = stats.errors,
        "plumber agent stopped"
    );
    Ok(())
}

/// The API server's endpoint as the agent reaches it (the connectivity guard checks it after every
/// apply); `None`, with a warning, when its name does not resolve.
async fn api_server_endpoint(url: &http::Uri) -> Option<crate::node::guard::Endpoint> {
    let host = url.host()?;
    let port = url
        .port_u16()
        .unwrap_or(if url.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let name = format!("{host}:{port}");
    match tokio::net::lookup_host(name.clone()).await {
        Ok(mut addrs) => addrs
            .next()
            .map(|addr| crate::node::guard::Endpoint { name, addr }),
        Err(e) => {
            tracing::warn!(endpoint = %name, error = %e, "resolving the API server: the connectivity guard does not check it");
            None
        }
    }
}

/// What of a template a pass depends on: its spec (through the generation, which the API server bumps
/// on every spec change), its annotations and whether it is being deleted; not its status.
fn pass_key(t: &TemplateObject) -> String {
    format!(
        "{:?} {:?} {:?}",
        t.metadata.generation, t.metadata.deletion_timestamp, t.metadata.annotations
    )
}

/// What the agent watches for templates: all of them, each spec unparsed until used (one the renderer
/// cannot read is reported, and does not stop the watch: [`TemplateObject`]).
pub fn templates_watched(client: Client) -> (Api<TemplateObject>, watcher::Config) {
    (Api::all(client), watcher::Config::default())
}

/// What the agent watches for its Node: that one object, by a field selector.
pub fn node_watched(client: Client, node: &str) -> (Api<Node>, watcher::Config) {
    (
        Api::all(client),
        watcher::Config::default().fields(&format!("metadata.name={node}")),
    )
}

fn node_labels(n: &Node) -> Labels {
    n.metadata.labels.clone().unwrap_or_default()
}

/// A pass that ran, or none (no Node).
impl crate::node::watch::PassReport for Option<Pass> {
    fn writes(&self) -> usize {
        self.as_ref()
            .map_or(0, crate::node::watch::PassReport::writes)
    }

    fn summary(&self) -> String {
        self.as_ref()
            .map(crate::node::watch::PassReport::summary)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_what_a_pass_depends_on_starts_one() {
        let t = |generation: i64, status: serde_json::Value| -> TemplateObject {
            serde_json::from_value(json!({
                "metadata": {"name": "t", "generation": generation, "resourceVersion": "7"},
                "spec": {"interfaceConfig": [{"name": "eth0", "mtu": 9000}]},
                "status": status,
            }))
            .unwrap()
        };
        let base = t(1, json!({"nodesMatched": 3}));
        // The rollup's counts changed: no pass.
        assert_eq!(pass_key(&base), pass_key(&t(1, json!({"nodesMatched": 4}))));
        // The spec changed (a new generation), an annotation, a deletion: a pass each.
        assert_ne!(pass_key(&base), pass_key(&t(2, json!({"nodesMatched": 3}))));
        let mut annotated = base.clone();
        annotated.metadata.annotations = Some(
            [(
                crate::node::guard::ALLOW_DISCONNECT.to_string(),
                "true".to_string(),
            )]
            .into(),
        );
        assert_ne!(pass_key(&base), pass_key(&annotated));
        let mut deleting = base.clone();
        deleting.metadata.deletion_timestamp = Some(crate::cluster::clock::wall_clock());
        assert_ne!(pass_key(&base), pass_key(&deleting));
    }
}
