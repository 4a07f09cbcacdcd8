//! Planning an apply: every stage's changes for the desired state on the node as discovered, and
//! nothing else (no change is made here; refusals happen here).

use plumber_render::render::Artifact;

use super::{file_changes, Desired, Discovered, FileChange, NodePlan, Target};
use crate::ovs::{self, OvsOp};
use crate::plan;
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
    Ok(ovs::plan(&desired.node.ovs, &ovs::discover(&target.ovsdb)?))
}

fn file_changes_in(target: &Target, artifacts: &[Artifact]) -> Result<Vec<FileChange>> {
    file_changes(&target.installer(), &target.root, artifacts)
}
