//! Planning an apply: every stage's changes for the desired state on the node as discovered, and
//! nothing else. A pure function of the desired state and what discovery found ([`Discovered`], after
//! [`discover_for`](super::discover_for)): nothing is read and no change is made here; refusals happen
//! here.

use super::{
    file_changes, Change, Desired, Discovered, FileChange, LetGo, NodePlan, OvsFound, Target,
};
use crate::node::ovs::{self, OvsOp};
use crate::node::plan::{self, Op};
use crate::node::sysfs::{self, Planned};
use crate::node::{Error, Result};

/// The plan for `desired` on the node as `found` (completed for `desired` by
/// [`discover_for`](super::discover_for), which this relies on). Errors when a change is impossible.
pub fn plan_node(
    target: &Target,
    desired: &Desired,
    found: &Discovered,
) -> Result<(NodePlan, Vec<Planned>)> {
    let files = if target.scope.files() {
        let installed = found
            .files
            .as_ref()
            .expect("apply::discover_for reads the installed files before planning");
        file_changes(installed, &desired.artifacts)?
    } else {
        Vec::new()
    };
    let (ovs, ovs_released) = if target.scope.runtime() {
        ovs_ops_split(desired, found)?
    } else {
        (Vec::new(), Vec::new())
    };
    let mut nic_released = Vec::new();
    let (sriov, counts, (links, released)) = if target.scope.runtime() {
        let nics = &found.inventory.status.interface_status;
        let counts = sysfs::node::plan_counts(&desired.node.sriov, nics)?;
        let drivers = sysfs::node::plan_drivers(&desired.node.sriov, nics, &found.bindings)?;
        let mut lines: Vec<Change> = counts.iter().map(|p| Change::sriov(&p.step)).collect();
        if !counts.is_empty() {
            for pf in desired.node.sriov.iter() {
                if let Some(d) = &pf.vf_driver {
                    lines.push(Change::bind_vfs(
                        &pf.selector.to_string(),
                        d.canonical().as_str(),
                    ));
                }
            }
        } else {
            lines.extend(drivers.iter().map(|p| Change::sriov(&p.step)));
        }
        // The NICs' own drivers (pfDriver, DPDK uplinks), after the VFs and before links and OVS;
        // never one that still carries addresses.
        crate::node::ovs::check_nic_binds(&desired.node, &found.state).map_err(Error::Sysfs)?;
        let nic = sysfs::nic::plan_nics(
            &desired.node.nic_drivers,
            nics,
            &found.bindings,
            &found.bound,
        )?;
        lines.extend(nic.steps().iter().map(|p| Change::sriov(&p.step)));
        nic_released = nic.release.iter().map(|p| p.step.to_string()).collect();
        let links = link_ops_split(desired, found)?;
        (lines, counts, links)
    } else {
        (Vec::new(), Vec::new(), (Vec::new(), Vec::new()))
    };
    let templates: Vec<String> = desired
        .node
        .templates
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let let_go = LetGo {
        templates: found
            .applied
            .in_scope(target.scope)
            .into_iter()
            .filter(|t| !templates.iter().any(|s| s == t))
            .map(str::to_string)
            .collect(),
        files: files
            .iter()
            .filter_map(|c| match c {
                FileChange::Remove { path } => Some(path.clone()),
                _ => None,
            })
            .collect(),
        links: released.clone(),
        ovs: ovs_released.clone(),
        nics: nic_released,
    };
    // What is carried out: the desired state's ops, then letting go.
    let links = [links, released].concat();
    let ovs = [ovs, ovs_released].concat();
    // The connectivity guard's probes; whether the plan cuts one's path is `check_guard`'s.
    let changes_runtime = !(sriov.is_empty() && links.is_empty() && ovs.is_empty());
    let guard = crate::node::guard::plan(
        &target.guard,
        true,
        &found.state,
        &links,
        &ovs,
        changes_runtime,
    )
    .map_err(Error::Guard)?;
    Ok((
        NodePlan {
            distro: target.distro.name.clone(),
            templates,
            files,
            sriov,
            links,
            ovs,
            let_go,
            guard,
            skipped: desired.node.skipped.clone(),
        },
        counts,
    ))
}

/// Refuses `plan` when it cuts the node off from one of the connectivity guard's probes (its address,
/// route or link), unless the command line or the templates say it is meant. Checked after the
/// selection guard, whose refusal says more about a plan made from the wrong templates.
pub fn check_guard(
    target: &Target,
    desired: &Desired,
    found: &Discovered,
    plan: &NodePlan,
) -> Result<()> {
    let changes_runtime = !(plan.sriov.is_empty() && plan.links.is_empty() && plan.ovs.is_empty());
    crate::node::guard::plan(
        &target.guard,
        desired.allow_disconnect,
        &found.state,
        &plan.links,
        &plan.ovs,
        changes_runtime,
    )
    .map(|_| ())
    .map_err(Error::Guard)
}

/// The link, address, route and VF ops: the templates' desired state, then letting go of what plumber
/// created earlier that no template names any more.
pub(super) fn link_ops(desired: &Desired, found: &Discovered) -> Result<Vec<Op>> {
    let (ops, released) = link_ops_split(desired, found)?;
    Ok([ops, released].concat())
}

/// [`link_ops`] in two: the desired state's ops, and the ops that let go. `sriovConfig.mtu` on the
/// PF (when no `interfaceConfig` names it) and its VFs' netdevs go around the plan's ops: lowered
/// before them, raised after them.
fn link_ops_split(desired: &Desired, found: &Discovered) -> Result<(Vec<Op>, Vec<Op>)> {
    let (lower, raise) = plan::sriov_mtu_ops(
        &desired.node,
        &found.inventory.status.interface_status,
        &found.state,
    );
    let ops = [lower, plan::plan(&desired.node, &found.state)?, raise].concat();
    let released = plan::release(&found.owned, &desired.node, &found.state);
    Ok((ops, released))
}

/// The OVS ops: the templates' bridges on OVSDB as it is, then letting go of the bridges and ports
/// plumber created that no template lists any more. Refused when the templates configure OVS and OVSDB
/// cannot be reached (with nothing configured, an unreachable OVSDB has nothing to let go of), and when
/// a kernel interface that is not an OVS port yet would carry addresses into one
/// ([`ovs::check_uplink_addresses`]).
pub(super) fn ovs_ops(desired: &Desired, found: &Discovered) -> Result<Vec<OvsOp>> {
    let (ops, released) = ovs_ops_split(desired, found)?;
    Ok([ops, released].concat())
}

/// [`ovs_ops`] in two: the desired bridges' ops, and the ops that let go.
fn ovs_ops_split(desired: &Desired, found: &Discovered) -> Result<(Vec<OvsOp>, Vec<OvsOp>)> {
    let found_ovs = found
        .ovs
        .as_ref()
        .expect("apply::discover_for reads OVSDB before planning");
    let current = match found_ovs {
        OvsFound::NotNeeded => return Ok((Vec::new(), Vec::new())),
        OvsFound::Unreachable(why) => {
            return Err(Error::Ovs(format!(
                "the templates configure OVS bridges ({}) but {why}",
                desired
                    .node
                    .ovs
                    .iter()
                    .map(|b| b.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
        OvsFound::Unreadable(m) => return Err(Error::Ovs(m.clone())),
        OvsFound::Found(s) => s,
    };
    ovs::check_uplink_addresses(&desired.node, &found.state, current).map_err(Error::Ovs)?;
    let ops = ovs::plan(&desired.node.ovs, current);
    let released = ovs::release(
        &found.owned.ovs_bridges,
        &found.owned.ovs_ports,
        &desired.node.ovs,
        current,
        &ops,
    );
    Ok((ops, released))
}

#[cfg(test)]
mod tests;
