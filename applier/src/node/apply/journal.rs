//! The runtime journal: a write-ahead record of the link, address, route and VF ops and the Open
//! vSwitch ops an apply is about to carry out, written (fsynced, atomically) to the state directory
//! (`runtime-txn.json`) before the first of them (and again, with the OVS ops, before the OVS
//! transaction), and removed once the apply is committed or undone. A crash (SIGKILL, the OOM
//! killer, a power cut) leaves it behind, and the next apply, or the agent when it starts, rolls
//! the interrupted transaction back under the state lock before doing anything else ([`recover`]):
//! it discovers the node (and OVSDB, when OVS ops are journaled), undoes every op whose effect is
//! there (OVS first, as one transaction: [`ovs::recovery`]; then the links: [`plan::recovery`]),
//! checks that nothing is left to undo, puts `runtime.json` back as it was, and removes the
//! journal. A crash during the recovery leaves the journal for the next one.
//!
//! ```json
//! {"version": 1, "links": [{"op": "createLink", "name": "br0", "spec": {"type": "bridge"}}],
//!  "ownedBefore": {}, "ownedAfter": {"links": {"br0": "bridge"}},
//!  "appliedAfter": {"files": ["net"], "runtime": ["net"]}, "files": true}
//! ```
//!
//! The files of the apply have their own journal (`txn/`, see [`crate::node::install`]), whose removal is the
//! commit point of the whole transaction when the apply changed files (`files`): an apply writes
//! `runtime.json`, commits the files, then removes this journal. A crash between the file commit and the
//! removal is finished forward (the records of the committed apply are written again); otherwise, and
//! always once the apply failed and began undoing itself (`rollingBack`), the runtime is rolled back,
//! and the file journal after it.
//!
//! Not journaled: SR-IOV (sysfs) steps (VF counts and drivers).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{owned, selection, Target};
use crate::node::install::fsutil;
use crate::node::ovs::{self, OvsOp};
use crate::node::plan::{self, Op, Owned};
use crate::node::state::CurrentState;
use crate::node::{Error, Result};

/// The journal's file name in the state directory.
const FILE: &str = "runtime-txn.json";
const VERSION: u32 = 1;

/// One runtime transaction.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    version: u32,
    /// The link, address, route and VF ops, in the order they are carried out.
    pub links: Vec<Op>,
    /// The OVS ops, one transaction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ovs: Vec<OvsOp>,
    /// `runtime.json` before the apply, put back when the transaction is rolled back.
    owned_before: Owned,
    /// `runtime.json` and `templates.json` of the committed apply.
    owned_after: Owned,
    applied_after: selection::AppliedTemplates,
    /// The apply's file transaction was open when the journal was written: its commit commits this.
    #[serde(default)]
    pub files: bool,
    /// The apply failed and is undoing itself: roll back, whatever became of the files.
    #[serde(default)]
    pub rolling_back: bool,
}

impl Journal {
    pub fn new(
        owned_before: Owned,
        owned_after: Owned,
        applied_after: selection::AppliedTemplates,
    ) -> Journal {
        Journal {
            version: VERSION,
            owned_before,
            owned_after,
            applied_after,
            ..Journal::default()
        }
    }
}

/// The link ops as journaled: `ops`, with what the executor does inside an op that a crash can stop
/// half-way made explicit. Moving a link that is up in or out of a bond takes it down and up again
/// around the change; a `SetUp` down before each such move (undone when the link is found down) brings
/// it back up if the crash came between. Pure.
pub(crate) fn links(ops: &[Op], current: &CurrentState) -> Vec<Op> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        if let Op::SetController { link, .. } = op {
            if current.links.get(link).is_some_and(|l| l.up) {
                out.push(Op::SetUp {
                    link: link.clone(),
                    up: false,
                });
            }
        }
        out.push(op.clone());
    }
    out
}

/// Writes `journal` to `state_dir`, atomically and durably (mode 0600).
pub fn write(state_dir: &Path, journal: &Journal) -> Result<()> {
    fsutil::create_dir_all(state_dir, true)?;
    let text = serde_json::to_vec(journal).expect("a journal serializes");
    fsutil::atomic_write(&state_dir.join(FILE), &text, 0o600)
}

/// The journal in `state_dir`, if there is one.
fn read(state_dir: &Path) -> Result<Option<Journal>> {
    let path = state_dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path.display(), e)),
    };
    let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| {
        Error::Transaction(format!(
            "{}: {e}; it records an interrupted apply: check the node, then remove it",
            path.display()
        ))
    })?;
    if journal.version != VERSION {
        return Err(Error::Transaction(format!(
            "{}: unsupported version {}",
            path.display(),
            journal.version
        )));
    }
    Ok(Some(journal))
}

/// Removes the journal (the transaction is over), durably.
pub(crate) fn remove(state_dir: &Path) -> Result<()> {
    fsutil::remove_durable(&state_dir.join(FILE))?;
    fsutil::remove_tmp_files(state_dir, FILE)
}

/// What [`recover`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recovered {
    /// No transaction was open.
    Clean,
    /// The transaction had committed: its records were written again.
    Committed,
    /// The transaction was rolled back: these undos were carried out.
    RolledBack(Vec<String>),
}

/// Finishes a runtime transaction a crash left open (see the module doc). Run under the state lock,
/// before the file journal's recovery. An error leaves the journal for the next try.
pub(crate) async fn recover(handle: &rtnetlink::Handle, target: &Target) -> Result<Recovered> {
    let state = target.state_path();
    let Some(j) = read(&state)? else {
        fsutil::remove_tmp_files(&state, FILE)?;
        return Ok(Recovered::Clean);
    };
    if j.files && !j.rolling_back && !target.installer().in_transaction()? {
        owned::write(&state, &j.owned_after)?;
        selection::write(&state, &j.applied_after)?;
        remove(&state)?;
        return Ok(Recovered::Committed);
    }
    let path = state.join(FILE);
    let mut done = Vec::new();
    let mut failed = Vec::new();
    let mut left: Vec<String> = Vec::new();
    // OVS first: its ports may be links the link ops created.
    if !j.ovs.is_empty() {
        let undo = ovs::recovery(&j.ovs, &ovs::discover(&target.ovsdb)?);
        match ovs::apply(&target.ovsdb, &undo) {
            Ok(_) => done.extend(undo.iter().map(|o| o.to_string())),
            Err(e) => failed.push(e.to_string()),
        }
        let now = ovs::discover(&target.ovsdb)?;
        left.extend(ovs::recovery(&j.ovs, &now).iter().map(|o| o.to_string()));
    }
    let found = crate::node::netlink::discover(handle).await?;
    let undo = plan::recovery(&j.links, &found);
    for op in &undo {
        // Each undo on its own: one that fails does not stop the others.
        match crate::node::netlink::execute(handle, op).await {
            Ok(()) => done.push(op.to_string()),
            Err(e) => failed.push(e.to_string()),
        }
    }
    let found = crate::node::netlink::discover(handle).await?;
    left.extend(
        plan::recovery(&j.links, &found)
            .iter()
            .map(|o| o.to_string()),
    );
    if !failed.is_empty() || !left.is_empty() {
        return Err(Error::Transaction(format!(
            "{}: rolling back an interrupted apply failed ({}); still to undo: {}. The journal stays: \
             the next apply tries again (remove it to give up, after checking the node)",
            path.display(),
            failed.join("; "),
            left.join("; ")
        )));
    }
    owned::write(&state, &j.owned_before)?;
    remove(&state)?;
    Ok(Recovered::RolledBack(done))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::state::{CurrentKind, LinkState};

    fn link(name: &str, kind: CurrentKind, up: bool, controller: Option<&str>) -> LinkState {
        LinkState {
            name: name.into(),
            kind,
            mtu: 1500,
            up,
            controller: controller.map(str::to_string),
            addresses: vec![],
            vfs: vec![],
        }
    }

    #[test]
    fn a_port_a_crash_left_down_between_the_requests_of_its_move_comes_back_up() {
        let bond = CurrentKind::Bond {
            mode: plumber_render::model::BondMode::ActiveBackup,
        };
        let state = |up: bool, controller: Option<&str>| CurrentState {
            links: [
                (
                    "eno1".to_string(),
                    link("eno1", CurrentKind::Device, up, controller),
                ),
                ("bond0".to_string(), link("bond0", bond.clone(), true, None)),
            ]
            .into(),
            routes: vec![],
        };
        let ops = vec![Op::SetController {
            link: "eno1".into(),
            controller: Some("bond0".into()),
            previous: None,
        }];
        let journaled = links(&ops, &state(true, None));
        assert_eq!(journaled.len(), 2);
        let undo = |s: &CurrentState| -> Vec<String> {
            plan::recovery(&journaled, s)
                .iter()
                .map(|o| o.to_string())
                .collect()
        };
        // Before the move, and after it as a whole: the port is up.
        assert_eq!(undo(&state(true, None)), Vec::<String>::new());
        assert_eq!(
            undo(&state(true, Some("bond0"))),
            ["release eno1 from bond0"]
        );
        // Between its requests: taken down and not enslaved yet, or enslaved and not up again.
        assert_eq!(undo(&state(false, None)), ["set eno1 up"]);
        assert_eq!(
            undo(&state(false, Some("bond0"))),
            ["release eno1 from bond0", "set eno1 up"]
        );
        // A port that was down is not journaled with it.
        assert_eq!(links(&ops, &state(false, None)), ops);
    }

    #[test]
    fn a_journal_round_trips_and_goes() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("var/lib/plumber");
        assert_eq!(read(&state).unwrap(), None);
        let mut after = Owned::default();
        after.links.insert("br0".into(), "bridge".into());
        let mut j = Journal::new(Owned::default(), after, Default::default());
        j.links.push(Op::SetUp {
            link: "br0".into(),
            up: true,
        });
        j.files = true;
        write(&state, &j).unwrap();
        assert_eq!(read(&state).unwrap(), Some(j));
        remove(&state).unwrap();
        assert_eq!(read(&state).unwrap(), None);
        std::fs::write(state.join(FILE), "{").unwrap();
        assert!(read(&state).is_err(), "a damaged journal is not ignored");
    }
}
