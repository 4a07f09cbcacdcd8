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
use crate::node::plan;
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

/// How long a scoped discovery may take before the apply gives up on it for a full one: far above
/// what it takes (milliseconds), there only so that an answer the kernel dropped cannot hold an apply.
const SCOPED_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// [`discover`], scoped to what planning `templates` on this node reads
/// ([`crate::node::plan::scope`], [`crate::node::netlink::Scoped`]), with the templates merged on the
/// node: sysfs's NICs and their links first (the inventory the templates' SR-IOV selectors resolve
/// on), then the links the merged templates and plumber's record name, and the routes through all of
/// them.
///
/// A plan made from it is the plan a full discovery gives, for the plan's links and the refusals; the
/// connectivity guard, which reads every default route and the path to it, is not covered: an apply
/// uses it only for a plan that changes nothing (`apply::run`). Its inventory lists the NICs as
/// [`discover`]'s does, but only the links and routes found. `None` when the templates cannot be
/// merged on the node, or the scoped discovery failed or took longer than [`SCOPED_MAX`]: a full
/// discovery then says why, or does the job.
pub async fn discover_scoped(
    target: &Target,
    templates: &[plumber_render::parse::Loaded],
    labels: Option<&plumber_render::select::Labels>,
) -> Result<Option<(Discovered, Desired)>> {
    scoped(target, |inventory| {
        Desired::new(templates, labels, inventory, target).ok()
    })
    .await
}

/// [`discover_scoped`] for `desired`, merged already (verification: the plans that must be empty
/// after an apply are the link, SR-IOV and OVS stages', never the guard's).
pub async fn discover_scoped_for(target: &Target, desired: &Desired) -> Result<Option<Discovered>> {
    Ok(scoped(target, |_| Some(desired))
        .await?
        .map(|(found, _)| found))
}

/// The scoped discovery for the desired state `merge` makes on the inventory of sysfs's NICs (`None`:
/// no desired state, then no discovery either).
async fn scoped<D: std::borrow::Borrow<Desired>>(
    target: &Target,
    merge: impl FnOnce(&HostNetwork) -> Option<D>,
) -> Result<Option<(Discovered, D)>> {
    let nics = crate::node::sysfs::discover_sriov(&target.sysfs)?;
    let state_path = target.state_path();
    let owned = owned::read(&state_path);
    let inventory_of = |state: &CurrentState| {
        let mut inventory =
            crate::node::show::host_network_of(&target.node_name, state, nics.clone());
        crate::node::show::name_bound_nics(&mut inventory, &state_path);
        inventory
    };
    let scoped = async {
        let t = std::time::Instant::now();
        let mut scoped = crate::node::netlink::Scoped::new()?;
        scoped.add(&plan::scope::nic_links(&nics)).await?;
        let inventory = inventory_of(&scoped.state());
        crate::node::timing("scoped: the NICs' links", t);
        let t = std::time::Instant::now();
        let Some(desired) = merge(&inventory) else {
            return Ok(None);
        };
        crate::node::timing("scoped: merge and render", t);
        let t = std::time::Instant::now();
        let names = plan::scope::links_read(
            &desired.borrow().node,
            &owned,
            &inventory.status.interface_status,
        );
        scoped.add(&names).await?;
        crate::node::timing("scoped: links and addresses", t);
        let t = std::time::Instant::now();
        let found = scoped.finish().await?;
        crate::node::timing("scoped: routes", t);
        Ok::<_, Error>(Some((found, desired)))
    };
    let ((state, indexes), desired) = match tokio::time::timeout(SCOPED_MAX, scoped).await {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => return Ok(None),
        Ok(Err(e)) => {
            eprintln!("plumber: the scoped discovery failed ({e}); discovering the whole node");
            return Ok(None);
        }
        Err(_) => {
            eprintln!(
                "plumber: the scoped discovery took over {SCOPED_MAX:?}; discovering the whole node"
            );
            return Ok(None);
        }
    };
    let inventory = inventory_of(&state);
    let bindings =
        crate::node::sysfs::node::bindings(&target.sysfs, &inventory.status.interface_status);
    Ok(Some((
        Discovered {
            state,
            inventory,
            indexes,
            bindings,
            owned,
            bound: super::bound::read(&state_path),
            applied: selection::read(&state_path),
            files: None,
            ovs: None,
        },
        desired,
    )))
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
