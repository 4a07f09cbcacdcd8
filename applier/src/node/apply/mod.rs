//! `plumber apply`: make the node match the templates that select it, files and runtime, as one
//! transaction.
//!
//! 1. Take the state directory's lock; finish the runtime transaction ([`journal`]) and the file
//!    transaction a crash left open (roll them back, unless they had committed).
//! 2. Discover the node (netlink, sysfs; [`discover`](mod@discover); netlink first only as far as the
//!    plan reads it, [`discover_scoped`], and all of it when that plan changes something), select and
//!    merge the templates, render the files
//!    for the distro, discover what they need (the installed files, OVSDB; [`discover_for`]), and plan
//!    every change ([`NodePlan`]), reading nothing more. Anything impossible (a conflict, a missing
//!    NIC, more VFs than the device has, a foreign file in the way) is refused here, before any change;
//!    so is letting go of a template no longer selected, unless pruning is allowed ([`selection`]). An
//!    SR-IOV entry for a PF the node does not have is not impossible but skipped, and reported in the
//!    plan and the record, unless [`Target::strict`] or the template asks for all or nothing
//!    ([`plumber_render::best_effort`]).
//! 3. Carry the plan out, in an order the kernel accepts: files (kept uncommitted), VF counts (through
//!    0), VF drivers (planned once the VFs exist), links/addresses/routes and VF settings (re-planned
//!    when the VF stage changed the node; journaled before the first of them), Open vSwitch (one OVSDB transaction; OVSDB is asked only when
//!    the templates configure OVS).
//! 4. Verify: discover again and plan again; every stage's plan must be empty. Then the connectivity
//!    guard ([`crate::node::guard`]): what the node reached before the changes it must reach again.
//! 5. Commit the files, or, on any failure, undo every stage done, last first, and restore the files,
//!    so that the node ends as it started.
//!
//! The outcome is recorded in the state directory ([`record`]) and decides the exit code.

pub(crate) mod bound;
mod change;
mod discover;
mod files;
mod host_stack;
pub mod journal;
mod owned;
mod planning;
pub(crate) mod record;
mod run;
pub mod selection;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use plumber_render::distro::Distro;
use plumber_render::inventory::HostNetwork;
use plumber_render::node::{NodeConfig, Skipped};
use plumber_render::parse::Loaded;
use plumber_render::render::Artifact;
use plumber_render::select::Labels;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::node::install::Installer;
use crate::node::ovs::{OvsOp, Ovsdb};
use crate::node::plan::Op;
use crate::node::{Error, Result};
pub use change::{Change, Stage};
pub use discover::{
    discover, discover_for, discover_ovs, discover_scoped, discover_scoped_for, Discovered,
    OvsFound,
};
pub use files::{distro_of, file_changes, FileChange, InstalledFile, InstalledFiles};
pub use planning::{check_guard, plan_node};
pub use record::{Outcome, Record};
pub use run::{apply, Applied};
pub use selection::{LetGo, Prune};

/// How long a VF count change may take to show in sysfs (drivers create VFs synchronously; this bounds
/// a slow one).
const VF_WAIT: Duration = Duration::from_secs(30);

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
    /// The connectivity guard's settings.
    pub guard: crate::node::guard::Guard,
    /// All or nothing: refuse the apply when a template entry selects a device the node does not have
    /// (an SR-IOV PF by name, PCI address or vendor/device), instead of applying the rest and reporting
    /// the entry as skipped ([`plumber_render::best_effort`]). A template annotated
    /// `plumber.k8s.pf9.io/strict: "true"` is strict on its own.
    pub strict: bool,
}

impl Target {
    /// The state directory's real path.
    pub(crate) fn state_path(&self) -> PathBuf {
        self.root
            .join(self.state_dir.to_string_lossy().trim_start_matches('/'))
    }

    fn installer(&self) -> Installer {
        Installer::new(&self.root, &self.state_dir)
    }
}

/// Everything an apply would change, stage by stage (what `--dry-run` prints). Serialised (`--dry-run -o
/// json|yaml`) as `distro`, `templates`, `changes` (every stage's changes as [`Change`]s, the schema of the
/// record's), `let_go`, and `guard` and `skipped` when not empty.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePlan {
    distro: String,
    templates: Vec<String>,
    files: Vec<FileChange>,
    /// VF counts, then the drivers of the VFs that exist now (VFs an apply creates are bound after
    /// they appear).
    sriov: Vec<Change>,
    links: Vec<Op>,
    /// Open vSwitch changes, carried out as one OVSDB transaction.
    ovs: Vec<OvsOp>,
    /// What this apply lets go of (also among `files`, `links` and `ovs`, which are what is carried
    /// out), and the templates it no longer selects.
    let_go: LetGo,
    /// What the connectivity guard checks before and after the changes (none when the plan does not
    /// change the running node).
    pub(crate) guard: Vec<crate::node::guard::Probe>,
    /// Template entries left out: they select a device this node does not have (best effort).
    skipped: Vec<Skipped>,
}

/// The serialised form of a [`NodePlan`].
#[derive(Serialize)]
struct PlanOutput<'a> {
    distro: &'a str,
    templates: &'a [String],
    changes: Vec<Change>,
    let_go: &'a LetGo,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    guard: &'a [crate::node::guard::Probe],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    skipped: &'a [Skipped],
}

impl Serialize for NodePlan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        PlanOutput {
            distro: &self.distro,
            templates: &self.templates,
            changes: self.changes(),
            let_go: &self.let_go,
            guard: &self.guard,
            skipped: &self.skipped,
        }
        .serialize(s)
    }
}

impl NodePlan {
    /// Every change, stage by stage, in the order an apply carries them out.
    fn changes(&self) -> Vec<Change> {
        self.files
            .iter()
            .map(Change::file)
            .chain(self.sriov.iter().cloned())
            .chain(self.links.iter().map(Change::link))
            .chain(self.ovs.iter().map(Change::ovs))
            .collect()
    }

    fn is_empty(&self) -> bool {
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
        for t in &self.let_go.templates {
            writeln!(f, "let go: template {t} (applied before, not selected now)")?;
        }
        for s in &self.skipped {
            writeln!(f, "skipped: {s}")?;
        }
        if self.is_empty() {
            return writeln!(f, "# nothing to do");
        }
        // What lets go is marked: file removals, and the last ops of the link and OVS stages.
        let mark = |letting_go: bool| if letting_go { "let go: " } else { "" };
        for c in &self.files {
            let m = mark(matches!(c, FileChange::Remove { .. }));
            writeln!(f, "{m}file: {c}")?;
        }
        let kept = self.sriov.len().saturating_sub(self.let_go.nics.len());
        for (i, s) in self.sriov.iter().enumerate() {
            writeln!(f, "{}sriov: {}", mark(i >= kept), s.text)?;
        }
        let kept = self.links.len().saturating_sub(self.let_go.links.len());
        for (i, op) in self.links.iter().enumerate() {
            writeln!(f, "{}link: {op}", mark(i >= kept))?;
        }
        let kept = self.ovs.len().saturating_sub(self.let_go.ovs.len());
        for (i, op) in self.ovs.iter().enumerate() {
            writeln!(f, "{}ovs: {op}", mark(i >= kept))?;
        }
        for p in &self.guard {
            writeln!(f, "guard: check {p}")?;
        }
        Ok(())
    }
}

/// The desired state for this node and the files it renders to.
#[derive(Debug, Clone)]
pub struct Desired {
    node: NodeConfig,
    artifacts: Vec<Artifact>,
    /// A selected template says that cutting the connectivity guard's probes off is meant.
    allow_disconnect: bool,
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
        // Entries for devices the node lacks are left out (best effort) unless asked all or nothing.
        let refs: Vec<&Loaded> = templates.iter().collect();
        plumber_render::best_effort::check(&node, &refs, target.strict)?;
        let artifacts = if target.scope.files() {
            plumber_render::render::render(&node, &target.distro)?
        } else {
            Vec::new()
        };
        // Network files the host would not read leave a node configured now and bare after a reboot.
        let network_dir = format!("{}/", target.distro.paths.network.trim_end_matches('/'));
        if artifacts.iter().any(|a| a.path.starts_with(&network_dir)) {
            host_stack::check(&target.root, &target.distro).map_err(Error::HostStack)?;
        }
        let allow_disconnect = crate::node::guard::annotated(templates, &node.templates);
        Ok(Desired {
            node,
            artifacts,
            allow_disconnect,
        })
    }

    /// sha256 over the merged configuration and every rendered file.
    fn digest(&self) -> String {
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

impl crate::node::watch::PassReport for Applied {
    /// Every change a pass made (files, SR-IOV steps, link ops, OVS ops); 0 when the node matched.
    fn writes(&self) -> usize {
        match self.outcome {
            Outcome::Unchanged => 0,
            _ => self.record.changes.len().max(1),
        }
    }

    fn summary(&self) -> String {
        self.record.summary()
    }
}
