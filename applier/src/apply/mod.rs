//! `plumber apply`: make the node match the templates that select it, files and runtime, as one
//! transaction.
//!
//! 1. Take the state directory's lock; finish a file transaction a crash left open.
//! 2. Discover the node (netlink, sysfs), select and merge the templates, render the files for the
//!    distro, and plan every change ([`NodePlan`]). Anything impossible (a conflict, a missing NIC, more
//!    VFs than the device has, a foreign file in the way) is refused here, before any change.
//! 3. Carry the plan out, in an order the kernel accepts: files (kept uncommitted), VF counts (through
//!    0), VF drivers (planned once the VFs exist), links/addresses/routes and VF settings (re-planned
//!    when the VF stage changed the node), Open vSwitch (one OVSDB transaction; OVSDB is asked only when
//!    the templates configure OVS).
//! 4. Verify: discover again and plan again; every stage's plan must be empty.
//! 5. Commit the files, or, on any failure, undo every stage done, last first, and restore the files,
//!    so that the node ends as it started.
//!
//! The outcome is recorded in the state directory ([`record`]) and decides the exit code.

mod files;
pub mod record;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use plumber_render::distro::Distro;
use plumber_render::inventory::HostNetwork;
use plumber_render::model::PciAddr;
use plumber_render::node::NodeConfig;
use plumber_render::parse::Loaded;
use plumber_render::render::Artifact;
use plumber_render::select::Labels;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::install::{Installed, Installer};
use crate::ovs::{self, OvsOp, Ovsdb};
use crate::plan::{self, Op};
use crate::state::CurrentState;
use crate::sysfs::node::Binding;
use crate::sysfs::{self, Planned};
use crate::{Error, Failed, Result};
pub use files::{distro_of, file_changes, FileChange};
pub use record::{Outcome, Record};

/// How long a VF count change may take to show in sysfs (drivers create VFs synchronously; this bounds
/// a slow one).
pub const VF_WAIT: Duration = Duration::from_secs(30);

/// What `apply` changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Files and runtime.
    #[default]
    All,
    /// Only the files (an image build, a node that is rebooted next).
    Files,
    /// Only the runtime state (the files are managed by something else).
    Runtime,
}

impl Scope {
    fn files(self) -> bool {
        self != Scope::Runtime
    }
    fn runtime(self) -> bool {
        self != Scope::Files
    }
}

/// Where an apply acts.
#[derive(Debug, Clone)]
pub struct Target {
    /// The root the files go under (`/` on a node).
    pub root: PathBuf,
    /// The state directory as a host path (`/var/lib/plumber`), under `root`.
    pub state_dir: PathBuf,
    pub sysfs: PathBuf,
    pub distro: Distro,
    pub scope: Scope,
    /// The node name for the discovered inventory.
    pub node_name: String,
    /// How to reach OVSDB; used only when the templates configure OVS bridges.
    pub ovsdb: Ovsdb,
}

impl Target {
    /// The state directory's real path.
    pub fn state_path(&self) -> PathBuf {
        self.root
            .join(self.state_dir.to_string_lossy().trim_start_matches('/'))
    }

    fn installer(&self) -> Installer {
        Installer::new(&self.root, &self.state_dir)
    }
}

/// Everything an apply would change, stage by stage (what `--dry-run` prints).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodePlan {
    pub distro: String,
    pub templates: Vec<String>,
    pub files: Vec<FileChange>,
    /// VF counts, then the drivers of the VFs that exist now (VFs an apply creates are bound after
    /// they appear).
    pub sriov: Vec<String>,
    pub links: Vec<Op>,
    /// Open vSwitch changes, carried out as one OVSDB transaction.
    pub ovs: Vec<OvsOp>,
}

impl NodePlan {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
            && self.sriov.is_empty()
            && self.links.is_empty()
            && self.ovs.is_empty()
    }
}

impl fmt::Display for NodePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "# distro {}, templates: {}",
            self.distro,
            if self.templates.is_empty() {
                "(none select this node)".to_string()
            } else {
                self.templates.join(", ")
            }
        )?;
        if self.is_empty() {
            return writeln!(f, "# nothing to do");
        }
        for c in &self.files {
            writeln!(f, "file: {c}")?;
        }
        for s in &self.sriov {
            writeln!(f, "sriov: {s}")?;
        }
        for op in &self.links {
            writeln!(f, "link: {op}")?;
        }
        for op in &self.ovs {
            writeln!(f, "ovs: {op}")?;
        }
        Ok(())
    }
}

/// The node as discovered.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub state: CurrentState,
    pub inventory: HostNetwork,
    /// Link indexes by name (saves the executor a lookup per link).
    pub indexes: crate::netlink::Indexes,
}

/// Reads the node: netlink and sysfs.
pub async fn discover(handle: &rtnetlink::Handle, target: &Target) -> Result<Discovered> {
    let (state, indexes) = crate::netlink::discover_indexed(handle).await?;
    let inventory = crate::show::host_network(&target.node_name, &state, &target.sysfs)?;
    Ok(Discovered {
        state,
        inventory,
        indexes,
    })
}

/// The desired state for this node and the files it renders to.
#[derive(Debug, Clone)]
pub struct Desired {
    pub node: NodeConfig,
    pub artifacts: Vec<Artifact>,
}

impl Desired {
    /// Select and merge `templates` for the node (resolving SR-IOV PFs on its inventory) and render
    /// the files when `target` installs them.
    pub fn new(
        templates: &[Loaded],
        labels: Option<&Labels>,
        inventory: &HostNetwork,
        target: &Target,
    ) -> Result<Desired> {
        let node = plumber_render::node_config(templates, labels, Some(inventory))?;
        let artifacts = if target.scope.files() {
            plumber_render::render::render(&node, &target.distro)?
        } else {
            Vec::new()
        };
        Ok(Desired { node, artifacts })
    }

    /// sha256 over the merged configuration and every rendered file.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(&self.node).expect("a NodeConfig serializes"));
        for a in &self.artifacts {
            h.update(a.path.as_bytes());
            h.update([0]);
            h.update(a.mode.to_be_bytes());
            h.update(a.content.as_bytes());
            h.update(a.symlink.as_deref().unwrap_or("").as_bytes());
            h.update([0]);
        }
        format!("{:x}", h.finalize())
    }
}

/// The plan for `desired` on the node as `found`. Errors when a change is impossible.
pub fn plan_node(
    target: &Target,
    desired: &Desired,
    found: &Discovered,
) -> Result<(NodePlan, Vec<Planned>)> {
    let files = if target.scope.files() {
        file_changes_in(target, &desired.artifacts)?
    } else {
        Vec::new()
    };
    let ovs = if target.scope.runtime() && !desired.node.ovs.is_empty() {
        ovs_plan(target, desired)?
    } else {
        Vec::new()
    };
    let (sriov, counts, links) = if target.scope.runtime() {
        let nics = &found.inventory.status.interface_status;
        let counts = sysfs::node::plan_counts(&desired.node.sriov, nics)?;
        let bindings = sysfs::node::bindings(&target.sysfs, nics);
        let drivers = sysfs::node::plan_drivers(&desired.node.sriov, nics, &bindings)?;
        let mut lines: Vec<String> = counts.iter().map(|p| p.step.to_string()).collect();
        if !counts.is_empty() {
            for pf in desired.node.sriov.iter().filter(|p| p.vf_driver.is_some()) {
                lines.push(format!(
                    "then bind the VFs of {} to {}",
                    pf.selector,
                    pf.vf_driver.as_ref().unwrap().canonical().as_str()
                ));
            }
        } else {
            lines.extend(drivers.iter().map(|p| p.step.to_string()));
        }
        let links = plan::plan(&desired.node, &found.state)?;
        (lines, counts, links)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    Ok((
        NodePlan {
            distro: target.distro.name.clone(),
            templates: desired
                .node
                .templates
                .iter()
                .map(|t| t.name.clone())
                .collect(),
            files,
            sriov,
            links,
            ovs,
        },
        counts,
    ))
}

/// The OVS ops for the templates' bridges on OVSDB as it is; refused when OVSDB cannot be reached.
fn ovs_plan(target: &Target, desired: &Desired) -> Result<Vec<OvsOp>> {
    target.ovsdb.check().map_err(|e| {
        Error::Ovs(format!(
            "the templates configure OVS bridges ({}) but {e}",
            desired
                .node
                .ovs
                .iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    Ok(ovs::plan(&desired.node.ovs, &ovs::discover(&target.ovsdb)?))
}

fn file_changes_in(target: &Target, artifacts: &[Artifact]) -> Result<Vec<FileChange>> {
    file_changes(&target.installer(), &target.root, artifacts)
}

/// What [`apply`] did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub outcome: Outcome,
    pub plan: NodePlan,
    /// Netlink write requests sent.
    pub netlink_writes: usize,
    pub record: Record,
}

/// What was done so far, to undo on failure.
#[derive(Default)]
struct Done {
    installed: Option<Installed>,
    sysfs: Vec<Planned>,
    /// The VF bindings before VF counts changed (restored after rolling the counts back).
    bindings_before: Option<BTreeMap<PciAddr, Binding>>,
    links: Vec<Op>,
    ovs: Vec<OvsOp>,
}

/// A failure inside the transaction: the step that failed and why, and what the failing stage undid
/// of its own changes already (netlink and sysfs undo their batch themselves).
struct StageError {
    at: String,
    error: String,
    rolled_back: Vec<String>,
    rollback_failed: Vec<String>,
}

impl StageError {
    fn new(at: impl Into<String>, e: impl fmt::Display) -> Self {
        StageError {
            at: at.into(),
            error: e.to_string(),
            rolled_back: Vec::new(),
            rollback_failed: Vec::new(),
        }
    }

    /// From a stage that failed part-way and undid its own steps.
    fn undone(f: &Failed) -> Self {
        StageError {
            at: f.at.clone(),
            error: f.error.clone(),
            rolled_back: f.rolled_back.clone(),
            rollback_failed: f.rollback_failed.clone(),
        }
    }
}

/// Applies `templates` to the node (see the module doc). `Err` means nothing was changed
/// ([`Outcome::Refused`]) or everything was undone ([`Error::Apply`], with what was rolled back and what
/// could not be).
pub async fn apply(
    handle: &rtnetlink::Handle,
    target: &Target,
    templates: &[Loaded],
    labels: Option<&Labels>,
) -> Result<Applied> {
    let state_path = target.state_path();
    let _lock = record::lock(&state_path, || {
        eprintln!(
            "plumber: waiting for another apply to finish ({})",
            state_path.join("lock").display()
        )
    })?;
    target.installer().recover()?;

    let found = discover(handle, target).await?;
    let prepared = Desired::new(templates, labels, &found.inventory, target)
        .and_then(|d| plan_node(target, &d, &found).map(|p| (d, p)));
    let (desired, (plan, counts)) = match prepared {
        Ok(x) => x,
        Err(e) => {
            let r = Record {
                result: Outcome::Refused,
                time: record::now(),
                templates: vec![],
                digest: String::new(),
                files: vec![],
                ops: vec![],
                netlink_writes: 0,
                error: Some(e.to_string()),
            };
            let _ = record::write(&state_path, &r);
            return Err(e);
        }
    };
    let mut rec = Record {
        result: Outcome::Unchanged,
        time: record::now(),
        templates: desired.node.templates.clone(),
        digest: desired.digest(),
        files: plan.files.iter().map(|c| c.to_string()).collect(),
        ops: plan
            .sriov
            .iter()
            .cloned()
            .chain(plan.links.iter().map(|o| o.to_string()))
            .chain(plan.ovs.iter().map(|o| o.to_string()))
            .collect(),
        netlink_writes: 0,
        error: None,
    };
    if plan.is_empty() {
        // Recorded only when the configuration changed, so that a watch loop does not write the disk.
        let last = record::read(&state_path);
        if last.as_ref().is_none_or(|l| {
            l.digest != rec.digest || !matches!(l.result, Outcome::Applied | Outcome::Unchanged)
        }) {
            record::write(&state_path, &rec)?;
        }
        return Ok(Applied {
            outcome: Outcome::Unchanged,
            plan,
            netlink_writes: 0,
            record: rec,
        });
    }

    let mut done = Done::default();
    let mut writes = 0;
    let result = execute(
        handle,
        target,
        &desired,
        &found,
        (&counts, &plan.ovs),
        &mut done,
        &mut writes,
    )
    .await;
    let result = match result {
        Ok(()) => verify(handle, target, &desired).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            if let Some(i) = done.installed.take() {
                i.commit()?;
            }
            rec.result = Outcome::Applied;
            rec.netlink_writes = writes;
            rec.ops = done
                .sysfs
                .iter()
                .map(|p| p.step.to_string())
                .chain(done.links.iter().map(|o| o.to_string()))
                .chain(done.ovs.iter().map(|o| o.to_string()))
                .collect();
            record::write(&state_path, &rec)?;
            Ok(Applied {
                outcome: Outcome::Applied,
                plan,
                netlink_writes: writes,
                record: rec,
            })
        }
        Err(StageError {
            at,
            error,
            rolled_back: mut stage_undone,
            rollback_failed: mut stage_failed,
        }) => {
            let (rolled_back, rollback_failed) = undo(handle, target, done).await;
            stage_undone.extend(rolled_back);
            stage_failed.extend(rollback_failed);
            let (rolled_back, rollback_failed) = (stage_undone, stage_failed);
            let rollback = match (rolled_back.len(), rollback_failed.len()) {
                (0, 0) => "nothing had been changed".to_string(),
                (n, 0) => format!("rolled back the {n} changes made before it"),
                (n, f) => format!(
                    "rolled back {n} changes, {f} failed to roll back (the node is left part-way): {}",
                    rollback_failed.join("; ")
                ),
            };
            rec.result = if rollback_failed.is_empty() {
                Outcome::RolledBack
            } else {
                Outcome::RollbackFailed
            };
            let failed = Failed {
                at,
                error,
                rolled_back,
                rollback_failed,
                rollback,
            };
            rec.error = Some(failed.to_string());
            let _ = record::write(&state_path, &rec);
            Err(Error::Apply(Box::new(failed)))
        }
    }
}

async fn execute(
    handle: &rtnetlink::Handle,
    target: &Target,
    desired: &Desired,
    found: &Discovered,
    (counts, ovs_ops): (&[Planned], &[OvsOp]),
    done: &mut Done,
    writes: &mut usize,
) -> std::result::Result<(), StageError> {
    if target.scope.files() {
        let installed = target
            .installer()
            .install(&desired.artifacts)
            .map_err(|e| StageError::new("installing files", e))?;
        done.installed = Some(installed);
    }
    if !target.scope.runtime() {
        return Ok(());
    }

    // VF counts, then the drivers of the VFs as they are now.
    if !counts.is_empty() {
        done.bindings_before = Some(sysfs::node::bindings(
            &target.sysfs,
            &found.inventory.status.interface_status,
        ));
    }
    run_sysfs(target, counts, done)?;
    let mut current = found.clone();
    if !counts.is_empty() {
        current = discover(handle, target)
            .await
            .map_err(|e| StageError::new("discovering the node after changing VF counts", e))?;
    }
    let nics = &current.inventory.status.interface_status;
    let bindings = sysfs::node::bindings(&target.sysfs, nics);
    let drivers = sysfs::node::plan_drivers(&desired.node.sriov, nics, &bindings)
        .map_err(|e| StageError::new("planning VF drivers", e))?;
    run_sysfs(target, &drivers, done)?;

    // Links, addresses, routes: planned on the node as it is now.
    let ops = plan::plan(&desired.node, &current.state)
        .map_err(|e| StageError::new("planning links", e))?;
    match crate::netlink::apply_with(handle, &ops, &current.indexes).await {
        Ok(a) => {
            *writes += a.writes;
            done.links = a.ops;
        }
        // netlink::apply undid its own ops; the earlier stages are undone by the caller.
        Err(Error::Apply(f)) => return Err(StageError::undone(&f)),
        Err(e) => return Err(StageError::new("changing links", e)),
    }

    // Open vSwitch: one transaction, all or nothing.
    match ovs::apply(&target.ovsdb, ovs_ops) {
        Ok(_) => done.ovs = ovs_ops.to_vec(),
        Err(Error::Apply(f)) => return Err(StageError::undone(&f)),
        Err(e) => return Err(StageError::new("changing OVS", e)),
    }
    Ok(())
}

fn run_sysfs(
    target: &Target,
    steps: &[Planned],
    done: &mut Done,
) -> std::result::Result<(), StageError> {
    if steps.is_empty() {
        return Ok(());
    }
    match sysfs::run(&target.sysfs, steps, VF_WAIT) {
        Ok(()) => {
            done.sysfs.extend(steps.iter().cloned());
            Ok(())
        }
        // sysfs::run undid the steps of this batch.
        Err(Error::SysfsApply(f)) => Err(StageError::undone(&f)),
        Err(e) => Err(StageError::new("SR-IOV", e)),
    }
}

/// Discover again: every stage's plan must be empty.
async fn verify(
    handle: &rtnetlink::Handle,
    target: &Target,
    desired: &Desired,
) -> std::result::Result<(), StageError> {
    if !target.scope.runtime() {
        return Ok(());
    }
    let found = discover(handle, target)
        .await
        .map_err(|e| StageError::new("verifying", e))?;
    let nics = &found.inventory.status.interface_status;
    let mut left: Vec<String> = Vec::new();
    let counts = sysfs::node::plan_counts(&desired.node.sriov, nics)
        .map_err(|e| StageError::new("verifying VF counts", e))?;
    left.extend(counts.iter().map(|p| p.step.to_string()));
    let bindings = sysfs::node::bindings(&target.sysfs, nics);
    let drivers = sysfs::node::plan_drivers(&desired.node.sriov, nics, &bindings)
        .map_err(|e| StageError::new("verifying VF drivers", e))?;
    left.extend(drivers.iter().map(|p| p.step.to_string()));
    let ops = plan::plan(&desired.node, &found.state)
        .map_err(|e| StageError::new("verifying links", e))?;
    left.extend(ops.iter().map(|o| o.to_string()));
    if !desired.node.ovs.is_empty() {
        let st = ovs::discover(&target.ovsdb).map_err(|e| StageError::new("verifying OVS", e))?;
        left.extend(
            ovs::plan(&desired.node.ovs, &st)
                .iter()
                .map(|o| o.to_string()),
        );
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(StageError::new(
            "verifying",
            format!(
                "the node does not match after applying (another program changing it?); still to do: {}",
                left.join("; ")
            ),
        ))
    }
}

/// Undoes every stage done, last first. Returns the undone steps and the ones that failed.
async fn undo(
    handle: &rtnetlink::Handle,
    target: &Target,
    done: Done,
) -> (Vec<String>, Vec<String>) {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    if !done.ovs.is_empty() {
        match ovs::rollback(&target.ovsdb, &done.ovs) {
            Ok(_) => ok.extend(done.ovs.iter().rev().map(|o| o.inverse().to_string())),
            Err(e) => failed.push(format!("undoing the OVS changes: {e}")),
        }
    }
    if !done.links.is_empty() {
        let back = plan::rollback(&done.links);
        match crate::netlink::apply(handle, &back).await {
            Ok(_) => ok.extend(back.iter().map(|o| o.to_string())),
            Err(Error::Apply(f)) => {
                failed.push(format!("{}: {}", f.at, f.error));
                failed.extend(f.rollback_failed.iter().cloned());
            }
            Err(e) => failed.push(e.to_string()),
        }
    }
    if !done.sysfs.is_empty() {
        let steps = sysfs::rollback_steps(&done.sysfs);
        match sysfs::rollback(&target.sysfs, &done.sysfs, VF_WAIT) {
            Ok(()) => ok.extend(steps.iter().map(|s| s.to_string())),
            Err(e) => failed.push(e.to_string()),
        }
    }
    if let Some(before) = &done.bindings_before {
        let now = sysfs::discover_sriov(&target.sysfs)
            .map(|nics| sysfs::node::bindings(&target.sysfs, &nics));
        match now {
            Ok(now) => {
                let steps = sysfs::node::plan_restore(before, &now);
                match sysfs::run(&target.sysfs, &steps, VF_WAIT) {
                    Ok(()) => ok.extend(steps.iter().map(|p| p.step.to_string())),
                    Err(e) => failed.push(format!("restoring VF drivers: {e}")),
                }
            }
            Err(e) => failed.push(format!("restoring VF drivers: {e}")),
        }
    }
    if let Some(i) = done.installed {
        let paths: Vec<String> = i
            .report
            .written
            .iter()
            .chain(&i.report.removed)
            .map(|p| format!("restore {p}"))
            .collect();
        match i.rollback() {
            Ok(_) => ok.extend(paths),
            Err(e) => failed.push(format!("restoring files: {e}")),
        }
    }
    (ok, failed)
}

/// The exit code for an apply's result: 0 done (or nothing to do), 1 refused (nothing changed), 3
/// failed and rolled back (the node is as it was), 4 failed and the rollback failed too.
pub fn exit_code(result: &Result<Applied>) -> u8 {
    match result {
        Ok(_) => 0,
        Err(Error::Apply(f)) if f.rollback_failed.is_empty() => 3,
        Err(Error::Apply(_)) => 4,
        Err(_) => 1,
    }
}

/// The default state directory as a host path.
pub fn default_state_dir() -> &'static Path {
    Path::new(crate::install::DEFAULT_STATE_DIR)
}

impl crate::watch::PassReport for Applied {
    /// Every change a pass made (files, SR-IOV steps, link ops, OVS ops); 0 when the node matched.
    fn writes(&self) -> usize {
        match self.outcome {
            Outcome::Unchanged => 0,
            _ => (self.record.files.len() + self.record.ops.len()).max(1),
        }
    }

    fn summary(&self) -> String {
        self.record
            .files
            .iter()
            .chain(&self.record.ops)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    }
}
