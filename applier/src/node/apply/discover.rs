//! Discovering the node for an apply: everything the plan is made from, so that planning
//! ([`plan_node`](super::plan_node)) reads nothing itself. [`discover`] reads the node (netlink, sysfs
//! with the VF drivers' bindings, the state directory's records); [`discover_for`] adds what depends on
//! the desired state: the installed files its rendering would write, and OVSDB when the templates
//! configure OVS (or plumber let something there that it may have to let go of).

use std::collections::BTreeMap;

use plumber_render::inventory::HostNetwork;
use plumber_render::model::PciAddr;

use super::files::InstalledFiles;
use super::{owned, selection, Desired, Target};
use crate::node::ovs::{self, OvsState};
use crate::node::state::CurrentState;
use crate::node::sysfs::node::Binding;
use crate::node::{Error, Result};

/// The node as discovered.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub(crate) state: CurrentState,
    pub inventory: HostNetwork,
    /// Link indexes by name (saves the executor a lookup per link).
    pub(crate) indexes: crate::node::netlink::Indexes,
    /// The driver binding of every VF in `inventory` (sysfs).
    pub(crate) bindings: BTreeMap<PciAddr, Binding>,
    /// What plumber created at runtime for the templates of its last apply (the state directory's
    /// record), to let go of what the templates no longer name.
    pub(crate) owned: crate::node::plan::Owned,
    /// The NICs plumber bound to a userspace driver (the state directory's record).
    pub(crate) bound: crate::node::sysfs::nic::BoundNics,
    /// The templates of the last successful apply (the state directory's record), to tell which ones
    /// an apply drops.
    pub(crate) applied: selection::AppliedTemplates,
    /// The installed files the desired state's rendering writes, and plumber's manifest
    /// ([`discover_for`]); `None` until then, or when the apply does not install files.
    pub(crate) files: Option<InstalledFiles>,
    /// OVSDB as the OVS stage needs it ([`discover_for`]); `None` until then, or when the apply does not
    /// change the runtime.
    pub(crate) ovs: Option<OvsFound>,
}

/// What the OVS stage found in OVSDB.
#[derive(Debug, Clone, PartialEq)]
pub enum OvsFound {
    /// Not looked at: the templates configure no OVS bridge, and plumber owns nothing in OVSDB or
    /// OVSDB cannot be reached (with nothing configured, nothing can be let go of there).
    NotNeeded,
    /// OVSDB is needed and cannot be reached: why (refused by the plan, which names the bridges).
    Unreachable(String),
    /// OVSDB is reachable and could not be read: the message (refused by the plan).
    Unreadable(String),
    Found(OvsState),
}

/// Reads the node: netlink and sysfs, and the state directory's records.
pub async fn discover(handle: &rtnetlink::Handle, target: &Target) -> Result<Discovered> {
    let (state, indexes) = crate::node::netlink::discover_indexed(handle).await?;
    let mut inventory = crate::node::show::host_network(&target.node_name, &state, &target.sysfs)?;
    crate::node::show::name_bound_nics(&mut inventory, &target.state_path());
    let bindings =
        crate::node::sysfs::node::bindings(&target.sysfs, &inventory.status.interface_status);
    Ok(Discovered {
        state,
        inventory,
        indexes,
        bindings,
        owned: owned::read(&target.state_path()),
        bound: super::bound::read(&target.state_path()),
        applied: selection::read(&target.state_path()),
        files: None,
        ovs: None,
    })
}

/// Adds to `found` what planning `desired` needs besides the node: the installed files (when the apply
/// installs files) and OVSDB (when it changes the runtime). Errs only when plumber's manifest cannot
/// be read; OVSDB's failures are kept for the plan to refuse in its turn.
pub fn discover_for(target: &Target, desired: &Desired, found: &mut Discovered) -> Result<()> {
    if target.scope.files() {
        found.files = Some(InstalledFiles::read(
            &target.installer(),
            &target.root,
            &desired.artifacts,
        )?);
    }
    if target.scope.runtime() {
        found.ovs = Some(discover_ovs(target, desired, &found.owned));
    }
    Ok(())
}

/// OVSDB as the OVS stage needs it: asked only when the templates configure OVS bridges, or when
/// plumber owns bridges or ports there and OVSDB can be reached.
pub fn discover_ovs(
    target: &Target,
    desired: &Desired,
    owned: &crate::node::plan::Owned,
) -> OvsFound {
    let owns = !owned.ovs_bridges.is_empty() || !owned.ovs_ports.is_empty();
    if desired.node.ovs.is_empty() && (!owns || !target.ovsdb.reachable()) {
        return OvsFound::NotNeeded;
    }
    if let Err(e) = target.ovsdb.check() {
        return OvsFound::Unreachable(ovs_message(e));
    }
    match ovs::discover(&target.ovsdb) {
        Ok(s) => OvsFound::Found(s),
        Err(e) => OvsFound::Unreadable(ovs_message(e)),
    }
}

/// An OVS error's message, without the `ovs: ` its display starts with.
fn ovs_message(e: Error) -> String {
    match e {
        Error::Ovs(m) => m,
        e => e.to_string(),
    }
}
