//! Carrying an apply out: the stages in order, the verification and the connectivity guard, and the
//! undo of every stage done when any of it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use plumber_render::model::PciAddr;
use plumber_render::parse::Loaded;
use plumber_render::select::Labels;

use super::journal::{self, Journal};
use super::planning::{link_ops, ovs_ops};
use super::record::{self, Outcome, Record};
use super::selection::{self, Prune};
use super::{bound, owned};
use super::{
    check_guard, discover, discover_for, discover_ovs, discover_scoped, discover_scoped_for,
    plan_node, Change, Desired, Discovered, Target, VF_WAIT,
};
use crate::node::guard;
use crate::node::install::Installed;
use crate::node::ovs::{self, OvsOp};
use crate::node::plan::{self, Op, Owned};
use crate::node::sysfs::node::Binding;
use crate::node::sysfs::{self, Planned};
use crate::node::{Error, Failed, Result};

/// What [`apply`] did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub outcome: Outcome,
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
    /// The VF netdevs the link stage saw (and set the MTUs of); see [`verify`].
    vf_netdevs: BTreeSet<String>,
    /// The record of the NICs bound to a userspace driver once the NIC stage is done (written at the
    /// commit).
    bound: Option<crate::node::sysfs::nic::BoundNics>,
    /// The record as it was before the NIC stage wrote ahead of its steps (put back by [`undo`]).
    bound_before: Option<crate::node::sysfs::nic::BoundNics>,
    ovs: Vec<OvsOp>,
    /// The runtime journal, written before the link stage ([`journal`]); `journaled` once on disk.
    journal: Option<Journal>,
    journaled: bool,
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
/// could not be). Letting go of templates no longer selected is refused unless `prune` allows it
/// ([`selection`]).
pub async fn apply(
    handle: &rtnetlink::Handle,
    target: &Target,
    templates: &[Loaded],
    labels: Option<&Labels>,
    prune: Prune,
) -> Result<Applied> {
    let started = std::time::Instant::now();
    let state_path = target.state_path();
    let _lock = record::lock(&state_path, || {
        eprintln!(
            "plumber: waiting for another apply to finish ({})",
            state_path.join("lock").display()
        )
    })?;
    // A runtime transaction first: whether it committed depends on the file journal.
    match journal::recover(handle, target).await? {
        journal::Recovered::RolledBack(undone) => eprintln!(
            "plumber: rolled back an apply that was interrupted ({} runtime changes undone)",
            undone.len()
        ),
        journal::Recovered::Committed => {
            eprintln!("plumber: finished an apply that was interrupted after its commit")
        }
        journal::Recovered::Clean => {}
    }
    target.installer().recover()?;

    // The node as far as the templates and plumber's record name it: enough for a plan that changes
    // nothing, which is the plan a full discovery gives then (`plan::scope`). Any other plan, and its
    // refusals, come from a discovery of the whole node: the connectivity guard reads every default
    // route and the path to it, and what is carried out is planned on everything. So it is tried only
    // where a plan that changes nothing is likely, after an apply that ended well (the agent's and the
    // watch's passes, a re-apply): a first apply, or one after a failure, would pay for both.
    let t = std::time::Instant::now();
    let last = record::read_head(&state_path);
    let likely_unchanged = last.as_ref().is_some_and(record::Head::ended_well);
    let scoped = if likely_unchanged {
        let scoped = discover_scoped(target, templates, labels).await?;
        crate::node::timing("discover (scoped)", t);
        scoped
    } else {
        None
    };
    let mut unchanged = None;
    if let Some((mut found, desired)) = scoped {
        // The templates applied before get their own record before this apply's record replaces
        // last-apply.json (a state directory from before templates.json).
        selection::keep(&state_path, &found.applied)?;
        let t = std::time::Instant::now();
        let prepared = prepare(target, templates, labels, prune, Ok(desired), &mut found);
        crate::node::timing("merge, render and plan (scoped)", t);
        if let Ok(p) = prepared {
            if p.1 .0.is_empty() {
                unchanged = Some((found, p));
            }
        }
    }
    let (found, prepared) = match unchanged {
        Some((found, p)) => (found, Ok(p)),
        None => {
            let t = std::time::Instant::now();
            let mut found = discover(handle, target).await?;
            crate::node::timing("discover", t);
            selection::keep(&state_path, &found.applied)?;
            let t = std::time::Instant::now();
            let desired = Desired::new(templates, labels, &found.inventory, target);
            let prepared = prepare(target, templates, labels, prune, desired, &mut found);
            crate::node::timing("merge, render and plan", t);
            (found, prepared)
        }
    };
    let (desired, (plan, counts)) = match prepared {
        Ok(x) => x,
        Err(e) => {
            let r = Record {
                error: Some(e.to_string()),
                duration_ms: record::millis(started.elapsed()),
                ..Record::new(Outcome::Refused, record::now())
            };
            let _ = record::write(&state_path, &r);
            return Err(e);
        }
    };
    let mut rec = Record {
        templates: desired.node.templates.clone(),
        digest: desired.digest(),
        changes: plan.changes(),
        skipped: desired.node.skipped.clone(),
        ..Record::new(Outcome::Unchanged, record::now())
    };
    if plan.is_empty() {
        // Recorded only when the configuration changed, so that a watch loop does not write the disk
        // (`last` is still the record on disk: nothing since the lock wrote it).
        rec.took(started);
        if last
            .as_ref()
            .is_none_or(|l| l.digest != rec.digest || !l.ended_well())
        {
            record::write(&state_path, &rec)?;
        }
        if target.scope.runtime() {
            owned::write(&state_path, &Owned::of(&desired.node))?;
            // Nothing to bind or give back: the NICs still bound and asked for stay recorded.
            let nics = &found.inventory.status.interface_status;
            let nic = sysfs::nic::plan_nics(
                &desired.node.nic_drivers,
                nics,
                &found.bindings,
                &found.bound,
            )?;
            bound::write(&state_path, &nic.keep)?;
        }
        let applied = found.applied.after(target.scope, &plan.templates);
        selection::write(&state_path, &applied)?;
        return Ok(Applied {
            outcome: Outcome::Unchanged,
            record: rec,
        });
    }

    // The connectivity guard: what the node reaches before the changes.
    let t = std::time::Instant::now();
    let reached = guard::probe::before(&found.state, &found.indexes, &plan.guard).await;
    crate::node::timing("connectivity guard, before", t);
    rec.guard = reached.report();

    let mut done = Done {
        journal: target.scope.runtime().then(|| {
            Journal::new(
                found.owned.clone(),
                Owned::of(&desired.node),
                found.applied.after(target.scope, &plan.templates),
            )
        }),
        ..Done::default()
    };
    let mut writes = 0;
    let t = std::time::Instant::now();
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
    crate::node::timing("execute", t);
    let t = std::time::Instant::now();
    let result = match result {
        Ok(()) => verify(handle, target, &desired, &done.vf_netdevs).await,
        Err(e) => Err(e),
    };
    crate::node::timing("verify", t);
    let result = match result {
        Ok(()) => guard_after(handle, target, &reached, &mut rec).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            // runtime.json, then the files' commit point, then the runtime journal's ([`journal`]).
            if target.scope.runtime() {
                owned::write(&state_path, &Owned::of(&desired.node))?;
            }
            if let Some(b) = &done.bound {
                bound::write(&state_path, b)?;
            }
            if let Some(i) = done.installed.take() {
                i.commit()?;
            }
            if done.journaled {
                journal::remove(&state_path)?;
            }
            let applied = found.applied.after(target.scope, &plan.templates);
            selection::write(&state_path, &applied)?;
            rec.result = Outcome::Applied;
            rec.netlink_writes = writes;
            // What was done: the files planned, then the runtime's changes as carried out.
            rec.changes = plan
                .files
                .iter()
                .map(Change::file)
                .chain(done.sysfs.iter().map(|p| Change::sriov(&p.step)))
                .chain(done.links.iter().map(Change::link))
                .chain(done.ovs.iter().map(Change::ovs))
                .collect();
            record::write(&state_path, rec.took(started))?;
            Ok(Applied {
                outcome: Outcome::Applied,
                record: rec,
            })
        }
        Err(StageError {
            at,
            error,
            rolled_back: mut stage_undone,
            rollback_failed: mut stage_failed,
        }) => {
            let journaled = done.journaled;
            if let Some(j) = done.journal.as_mut().filter(|_| journaled) {
                // Whatever happens to the files now, a crash from here on is rolled back.
                j.rolling_back = true;
                let _ = journal::write(&state_path, j);
            }
            let (rolled_back, rollback_failed) = undo(handle, target, done).await;
            // Undone: the journal goes. Part-way: it stays, and the next apply finishes the rollback.
            if journaled && rollback_failed.is_empty() && stage_failed.is_empty() {
                let _ = journal::remove(&state_path);
            }
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
            let _ = record::write(&state_path, rec.took(started));
            Err(Error::Apply(Box::new(failed)))
        }
    }
}

/// The plan for `desired` on the node as `found` (completed by [`discover_for`]), and the refusals of
/// the selection guard and the connectivity guard.
fn prepare(
    target: &Target,
    templates: &[Loaded],
    labels: Option<&Labels>,
    prune: Prune,
    desired: Result<Desired>,
    found: &mut Discovered,
) -> Result<(Desired, (super::NodePlan, Vec<Planned>))> {
    desired
        .and_then(|d| discover_for(target, &d, found).map(|()| d))
        .and_then(|d| plan_node(target, &d, found).map(|p| (d, p)))
        .and_then(|(d, p)| selection::check(prune, &p.0, templates, labels).map(|()| (d, p)))
        .and_then(|(d, p)| check_guard(target, &d, found, &p.0).map(|()| (d, p)))
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
        done.bindings_before = Some(found.bindings.clone());
    }
    run_sysfs(target, counts, done)?;
    let mut current = found.clone();
    if !counts.is_empty() {
        current = discover(handle, target)
            .await
            .map_err(|e| StageError::new("discovering the node after changing VF counts", e))?;
    }
    let nics = &current.inventory.status.interface_status;
    let drivers = sysfs::node::plan_drivers(&desired.node.sriov, nics, &current.bindings)
        .map_err(|e| StageError::new("planning VF drivers", e))?;
    run_sysfs(target, &drivers, done)?;
    // The NICs' own drivers: bound before OVS adds their DPDK ports, given back when let go.
    let nic = sysfs::nic::plan_nics(
        &desired.node.nic_drivers,
        nics,
        &current.bindings,
        &current.bound,
    )
    .map_err(|e| StageError::new("planning NIC drivers", e))?;
    let nic_steps = nic.steps();
    if !nic_steps.is_empty() {
        // Recorded before the binds, so that a NIC bound by an apply killed part-way is still known
        // (by name, with its old driver) to the next one.
        let mut ahead = current.bound.clone();
        ahead.extend(nic.keep.iter().map(|(pci, b)| (*pci, b.clone())));
        bound::write(&target.state_path(), &ahead)
            .map_err(|e| StageError::new("recording the NICs to bind", e))?;
        done.bound_before = Some(current.bound.clone());
    }
    run_sysfs(target, &nic_steps, done)?;
    done.bound = Some(nic.keep);
    // A driver bound just now may have made VF netdevs, whose MTUs the link stage sets.
    if !drivers.is_empty() && desired.node.sriov.iter().any(|p| p.mtu.is_some()) {
        current = discover(handle, target)
            .await
            .map_err(|e| StageError::new("discovering the node after binding VF drivers", e))?;
    }
    done.vf_netdevs = plan::vf_netdevs(&current.inventory.status.interface_status);

    // Links, addresses, routes: planned on the node as it is now, and journaled before any of it.
    let ops = link_ops(desired, &current).map_err(|e| StageError::new("planning links", e))?;
    if !ops.is_empty() {
        let t = std::time::Instant::now();
        write_journal(target, done, |j| {
            j.links = journal::links(&ops, &current.state)
        })?;
        crate::node::timing("journal the link ops", t);
    }
    let t = std::time::Instant::now();
    let applied = crate::node::netlink::apply_with(handle, &ops, &current.indexes).await;
    crate::node::timing("link ops (netlink)", t);
    match applied {
        Ok(a) => {
            *writes += a.writes;
            done.links = a.ops;
        }
        // netlink::apply undid its own ops; the earlier stages are undone by the caller.
        Err(Error::Apply(f)) => return Err(StageError::undone(&f)),
        Err(e) => return Err(StageError::new("changing links", e)),
    }

    // Open vSwitch: one transaction, all or nothing; journaled before it.
    if !ovs_ops.is_empty() {
        write_journal(target, done, |j| j.ovs = ovs_ops.to_vec())?;
    }
    match ovs::apply(&target.ovsdb, ovs_ops) {
        Ok(_) => done.ovs = ovs_ops.to_vec(),
        Err(Error::Apply(f)) => return Err(StageError::undone(&f)),
        Err(e) => return Err(StageError::new("changing OVS", e)),
    }
    Ok(())
}

/// Adds to the runtime journal (`add`) and writes it, before the changes it adds.
fn write_journal(
    target: &Target,
    done: &mut Done,
    add: impl FnOnce(&mut Journal),
) -> std::result::Result<(), StageError> {
    let files = done.installed.as_ref().is_some_and(|i| i.journaled());
    let Some(j) = done.journal.as_mut() else {
        return Ok(());
    };
    add(j);
    j.files = files;
    journal::write(&target.state_path(), j)
        .map_err(|e| StageError::new("journaling the runtime changes", e))?;
    done.journaled = true;
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

/// Discover again: every stage's plan must be empty. Except the MTU of a VF netdev the link stage did
/// not see (`planned`): a VF driver that registers its netdev asynchronously (`iavf`) makes it after
/// the VFs were bound; the installed udev rule sets its MTU as it appears, or the next apply does.
async fn verify(
    handle: &rtnetlink::Handle,
    target: &Target,
    desired: &Desired,
    planned: &BTreeSet<String>,
) -> std::result::Result<(), StageError> {
    if !target.scope.runtime() {
        return Ok(());
    }
    // What verifying plans is what the scoped discovery covers (not the guard, checked after it).
    let scoped = discover_scoped_for(target, desired)
        .await
        .map_err(|e| StageError::new("verifying", e))?;
    let mut found = match scoped {
        Some(found) => found,
        None => discover(handle, target)
            .await
            .map_err(|e| StageError::new("verifying", e))?,
    };
    let nics = &found.inventory.status.interface_status;
    let mut left: Vec<String> = Vec::new();
    let counts = sysfs::node::plan_counts(&desired.node.sriov, nics)
        .map_err(|e| StageError::new("verifying VF counts", e))?;
    left.extend(counts.iter().map(|p| p.step.to_string()));
    let drivers = sysfs::node::plan_drivers(&desired.node.sriov, nics, &found.bindings)
        .map_err(|e| StageError::new("verifying VF drivers", e))?;
    left.extend(drivers.iter().map(|p| p.step.to_string()));
    let nic = sysfs::nic::plan_nics(
        &desired.node.nic_drivers,
        nics,
        &found.bindings,
        &found.bound,
    )
    .map_err(|e| StageError::new("verifying NIC drivers", e))?;
    left.extend(nic.steps().iter().map(|p| p.step.to_string()));
    let ops = link_ops(desired, &found).map_err(|e| StageError::new("verifying links", e))?;
    let late = plan::vf_netdevs(&found.inventory.status.interface_status);
    left.extend(
        ops.iter()
            .filter(|o| !matches!(o, Op::SetMtu { link, .. } if late.contains(link) && !planned.contains(link)))
            .map(|o| o.to_string()),
    );
    found.ovs = Some(discover_ovs(target, desired, &found.owned));
    let ovs_left = ovs_ops(desired, &found).map_err(|e| StageError::new("verifying OVS", e))?;
    left.extend(ovs_left.iter().map(|o| o.to_string()));
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

/// The connectivity guard after the changes: every probe that answered before them must answer again.
async fn guard_after(
    handle: &rtnetlink::Handle,
    target: &Target,
    reached: &guard::probe::Before,
    rec: &mut Record,
) -> std::result::Result<(), StageError> {
    if reached.answered.is_empty() {
        return Ok(());
    }
    let t = std::time::Instant::now();
    let checked = guard::probe::after(handle, reached, target.guard.timeout).await;
    crate::node::timing("connectivity guard, after", t);
    rec.guard = checked.report;
    match checked.lost {
        None => Ok(()),
        Some(lost) => {
            rec.connectivity_lost = Some(lost.clone());
            Err(StageError::new(guard::STAGE, lost))
        }
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
        match crate::node::netlink::apply(handle, &back).await {
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
    if let Some(b) = &done.bound_before {
        if let Err(e) = bound::write(&target.state_path(), b) {
            failed.push(format!("restoring the record of bound NICs: {e}"));
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
