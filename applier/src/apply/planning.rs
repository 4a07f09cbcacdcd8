//! Planning an apply: every stage's changes for the desired state on the node as discovered, and
//! nothing else (no change is made here; refusals happen here).

use plumber_render::render::Artifact;

use super::{file_changes, Desired, Discovered, FileChange, NodePlan, Target};
use crate::ovs::{self, OvsOp};
use crate::plan::{self, Op};
use crate::sysfs::{self, Planned};
use crate::{Error, Result};

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
    let ovs = if target.scope.runtime() {
        ovs_ops(target, desired, found)?
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
        let links = link_ops(desired, found)?;
        (lines, counts, links)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    // The connectivity guard's probes; a plan that cuts one's path is refused here.
    let changes_runtime = !(sriov.is_empty() && links.is_empty() && ovs.is_empty());
    let guard = crate::guard::plan(
        &target.guard,
        desired.allow_disconnect,
        &found.state,
        &links,
        &ovs,
        changes_runtime,
    )
    .map_err(Error::Guard)?;
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
            guard,
        },
        counts,
    ))
}

/// The link, address, route and VF ops: the templates' desired state, then letting go of what plumber
/// created earlier that no template names any more.
pub(super) fn link_ops(desired: &Desired, found: &Discovered) -> Result<Vec<Op>> {
    let mut ops = plan::plan(&desired.node, &found.state)?;
    ops.extend(plan::release(&found.owned, &desired.node, &found.state));
    Ok(ops)
}

/// The OVS ops: the templates' bridges on OVSDB as it is, then letting go of the bridges and ports
/// plumber created that no template lists any more. Refused when the templates configure OVS and OVSDB
/// cannot be reached; with nothing configured, an unreachable OVSDB has nothing to let go of.
pub(super) fn ovs_ops(
    target: &Target,
    desired: &Desired,
    found: &Discovered,
) -> Result<Vec<OvsOp>> {
    let owns = !found.owned.ovs_bridges.is_empty() || !found.owned.ovs_ports.is_empty();
    if desired.node.ovs.is_empty() && (!owns || !target.ovsdb.reachable()) {
        return Ok(Vec::new());
    }
    target.ovsdb.check().map_err(|e| {
        let why = match e {
            Error::Ovs(m) => m,
            e => e.to_string(),
        };
        Error::Ovs(format!(
            "the templates configure OVS bridges ({}) but {why}",
            desired
                .node
                .ovs
                .iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let current = ovs::discover(&target.ovsdb)?;
    let mut ops = ovs::plan(&desired.node.ovs, &current);
    ops.extend(ovs::release(
        &found.owned.ovs_bridges,
        &found.owned.ovs_ports,
        &desired.node.ovs,
        &current,
    ));
    Ok(ops)
}

fn file_changes_in(target: &Target, artifacts: &[Artifact]) -> Result<Vec<FileChange>> {
    file_changes(&target.installer(), &target.root, artifacts)
}
