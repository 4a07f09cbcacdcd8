//! What the last apply did, kept in the state directory (`/var/lib/plumber/last-apply.json`) for
//! people and monitoring, and the lock that keeps two applies (the agent and a person) from
//! interleaving.
//!
//! ```json
//! {"result": "applied", "time": 1795400000,
//!  "templates": [{"name": "sriov-workers", "priority": 0, "generation": 3}],
//!  "digest": "4f1c…", "files": ["write /etc/netplan/90-plumber.yaml"],
//!  "ops": ["set mtu of ens1f0: 1500 -> 9000"], "netlink_writes": 1, "error": null,
//!  "guard": ["default gateway 10.0.0.1 via ens1f0: answered in 1 ms before the apply and in 2 ms after it"],
//!  "skipped": [{"template": "sriov-workers", "path": "spec.sriovConfig[1]", "selector": "pfName ens9f0",
//!               "reason": "matches no PCI NIC of this node"}]}
//! ```

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use plumber_render::node::{Skipped, TemplateRef};
use serde::{Deserialize, Serialize};

use crate::install::fsutil;
use crate::{Error, Result};

/// The file name of the record in the state directory.
pub const RECORD: &str = "last-apply.json";
const LOCK: &str = "lock";

/// How an apply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The node matched already: nothing was changed.
    Unchanged,
    /// Changes were made and verified.
    Applied,
    /// The templates or the node made an apply impossible (a conflict, a missing NIC, a foreign file):
    /// nothing was changed.
    Refused,
    /// A change or the verification failed; everything done was undone.
    RolledBack,
    /// A change failed and undoing failed too: the node is part-way.
    RollbackFailed,
}

/// The record of one apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub result: Outcome,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The templates that selected the node, with their `metadata.generation`.
    pub templates: Vec<TemplateRef>,
    /// sha256 of the desired state (the merged NodeConfig and every rendered file): the same digest
    /// means the same configuration.
    pub digest: String,
    /// File changes, one line each.
    pub files: Vec<String>,
    /// Runtime changes (netlink ops, sysfs steps, OVS ops), one line each.
    pub ops: Vec<String>,
    /// Netlink write requests the apply sent (0 when the node matched).
    #[serde(default)]
    pub netlink_writes: usize,
    pub error: Option<String>,
    /// The connectivity guard's probes, one line each (none when the apply did not change the
    /// running node).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guard: Vec<String>,
    /// The guard's probes that answered before the changes and not after them: why the apply was
    /// rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity_lost: Option<String>,
    /// Template entries left out because they select a device this node does not have (best effort:
    /// the rest was applied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

impl Record {
    /// A record of `result` at `time` (seconds since the epoch) with nothing else in it yet; fill in
    /// what the apply has with struct update syntax (`Record { templates, ..Record::new(r, t) }`), so
    /// that a field added here needs no change where records are made.
    pub fn new(result: Outcome, time: u64) -> Record {
        Record {
            result,
            time,
            templates: Vec::new(),
            digest: String::new(),
            files: Vec::new(),
            ops: Vec::new(),
            netlink_writes: 0,
            error: None,
            guard: Vec::new(),
            connectivity_lost: None,
            skipped: Vec::new(),
        }
    }
}

/// Reads the record in `state_dir` (`None` when there is none or it cannot be parsed: the record is
/// informational, a damaged one is replaced by the next apply).
pub fn read(state_dir: &Path) -> Option<Record> {
    let bytes = std::fs::read(state_dir.join(RECORD)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes `record` to `state_dir` atomically (mode 0644).
pub fn write(state_dir: &Path, record: &Record) -> Result<()> {
    fsutil::create_dir_all(state_dir, true)?;
    let mut text = serde_json::to_string_pretty(record).expect("a record serializes");
    text.push('\n');
    fsutil::atomic_write(&state_dir.join(RECORD), text.as_bytes(), 0o644)
}

/// An exclusive lock on the state directory, released on drop.
#[derive(Debug)]
pub struct Lock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the lock of `state_dir`, waiting for another apply to finish (`waiting` is called once
/// when the lock is held by someone else).
pub fn lock(state_dir: &Path, waiting: impl FnOnce()) -> Result<Lock> {
    fsutil::create_dir_all(state_dir, true)?;
    let path = state_dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(path.display(), e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            waiting();
            file.lock().map_err(|e| Error::io(path.display(), e))?;
        }
        Err(TryLockError::Error(e)) => return Err(Error::io(path.display(), e)),
    }
    Ok(Lock { _file: file, path })
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_a_damaged_one_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("var/lib/plumber");
        assert_eq!(read(&state), None);
        let r = Record {
            templates: vec![TemplateRef {
                name: "t".into(),
                priority: 0,
                generation: Some(3),
            }],
            digest: "d".into(),
            files: vec!["write /etc/x".into()],
            ..Record::new(Outcome::Applied, 1)
        };
        write(&state, &r).unwrap();
        assert_eq!(read(&state), Some(r));
        std::fs::write(state.join(RECORD), "{").unwrap();
        assert_eq!(read(&state), None);
    }

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path(), || panic!("nobody holds it yet")).unwrap();
        let path = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let mut waited = false;
            let _second = lock(&path, || waited = true).unwrap();
            tx.send(waited).unwrap();
        });
        // The second lock cannot be taken while the first is held.
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_err());
        drop(first);
        assert!(rx.recv().unwrap(), "the second apply was told it waits");
        t.join().unwrap();
    }
}
