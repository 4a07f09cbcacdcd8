//! What the last apply did, kept in the state directory (`/var/lib/plumber/last-apply.json`) for
//! people and monitoring, and the lock that keeps two applies (the agent and a person) from
//! interleaving. `plumber apply -o json|yaml` prints the same record.
//!
//! ```json
//! {"result": "applied", "time": "2026-12-06T23:07:00Z",
//!  "templates": [{"name": "sriov-workers", "priority": 0, "generation": 3}],
//!  "digest": "4f1c…",
//!  "changes": [{"stage": "file", "op": "create", "object": "/etc/netplan/60-plumber.yaml",
//!               "values": {"mode": "0600"}, "text": "create /etc/netplan/60-plumber.yaml (mode 0600)"},
//!              {"stage": "link", "op": "setMtu", "object": "ens1f0", "values": {"mtu": 9000, "previous": 1500},
//!               "text": "set mtu of ens1f0: 1500 -> 9000"}],
//!  "duration_ms": 35, "netlink_writes": 1, "error": null,
//!  "guard": ["default gateway 10.0.0.1 via ens1f0: answered in 1 ms before the apply and in 2 ms after it"],
//!  "skipped": [{"template": "sriov-workers", "path": "spec.sriovConfig[1]", "selector": "pfName ens9f0",
//!               "reason": "matches no PCI NIC of this node"}]}
//! ```
//!
//! `changes` are [`Change`]s, the schema of `plumber apply --dry-run -o json`'s `changes`: for an applied
//! record, what was done (the plan's `bindVfs` promise becomes the sysfs steps carried out). `time` is
//! RFC 3339 in UTC, to the second; `duration_ms` whole milliseconds (an integer: exact in every JSON
//! reader, and finer than an apply needs); a record written before (seconds since the epoch, `files` and `ops`
//! as lines) still reads, with no changes.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use plumber_render::node::{Skipped, TemplateRef};
use serde::{Deserialize, Serialize};

use super::Change;

use crate::node::install::fsutil;
use crate::node::{Error, Result};

/// The file name of the record in the state directory.
pub(crate) const RECORD: &str = "last-apply.json";
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
    /// Seconds since the Unix epoch; written as RFC 3339 in UTC (`2026-12-06T23:07:00Z`).
    #[serde(with = "rfc3339")]
    pub time: u64,
    /// The templates that selected the node, with their `metadata.generation`.
    pub templates: Vec<TemplateRef>,
    /// sha256 of the desired state (the merged NodeConfig and every rendered file): the same digest
    /// means the same configuration.
    pub digest: String,
    /// The changes: files, then the runtime's (sysfs steps, netlink ops, OVS ops), in the order done.
    #[serde(default)]
    pub changes: Vec<Change>,
    /// How long the apply took, lock wait included, in whole milliseconds (an integer every JSON reader
    /// reads exactly; 0 in a record written before).
    #[serde(default)]
    pub duration_ms: u64,
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
            changes: Vec::new(),
            duration_ms: 0,
            netlink_writes: 0,
            error: None,
            guard: Vec::new(),
            connectivity_lost: None,
            skipped: Vec::new(),
        }
    }
}

impl Record {
    /// The record with its `duration_ms` the time since `started`.
    pub(crate) fn took(&mut self, started: std::time::Instant) -> &Record {
        self.duration_ms = millis(started.elapsed());
        self
    }

    /// The changes of `stage`, as lines.
    pub(crate) fn lines(&self, stage: super::Stage) -> impl Iterator<Item = &str> {
        self.changes
            .iter()
            .filter(move |c| c.stage == stage)
            .map(|c| c.text.as_str())
    }

    /// Every change as one line, `; ` between them.
    pub(crate) fn summary(&self) -> String {
        self.changes
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `time` as RFC 3339 in UTC; read from that or from seconds since the epoch (records written before).
mod rfc3339 {
    use k8s_openapi::jiff::Timestamp;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(t: &u64, s: S) -> Result<S::Ok, S::Error> {
        let ts = i64::try_from(*t)
            .ok()
            .and_then(|t| Timestamp::from_second(t).ok())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        s.serialize_str(&ts.to_string())
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Seconds(u64),
        Text(String),
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Either::deserialize(d)? {
            Either::Seconds(s) => Ok(s),
            Either::Text(t) => {
                let ts: Timestamp = t
                    .parse()
                    .map_err(|e| D::Error::custom(format!("time: {t:?} is not RFC 3339: {e}")))?;
                u64::try_from(ts.as_second())
                    .map_err(|_| D::Error::custom(format!("time: {t:?} is before 1970")))
            }
        }
    }
}

/// Reads the record in `state_dir` (`None` when there is none or it cannot be parsed: the record is
/// informational, a damaged one is replaced by the next apply).
pub(crate) fn read(state_dir: &Path) -> Option<Record> {
    let bytes = std::fs::read(state_dir.join(RECORD)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What an apply reads of the record before its own: how the last apply ended, and the digest of what
/// it applied.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Head {
    pub result: Outcome,
    pub digest: String,
}

impl Head {
    /// The last apply was applied or found the node unchanged.
    pub(crate) fn ended_well(&self) -> bool {
        matches!(self.result, Outcome::Applied | Outcome::Unchanged)
    }
}

/// The [`Head`] of the record in `state_dir` (`None` as for [`read`]), without building the rest: the
/// record of a 500-interface apply lists 2000 changes in half a megabyte, which every re-apply would
/// otherwise parse into values only to drop them.
pub(crate) fn read_head(state_dir: &Path) -> Option<Head> {
    let bytes = std::fs::read(state_dir.join(RECORD)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes `record` to `state_dir` atomically (mode 0644), without an fsync: the record is
/// informational ([`read`] takes a damaged or missing one for none), so a power cut may take it back to
/// the one before or lose it, and what that costs is one full discovery (the scoped one is tried only
/// after a record of an apply that ended well). What must survive a power cut (`runtime.json`,
/// `templates.json`, the runtime journal) is written durably.
pub(crate) fn write(state_dir: &Path, record: &Record) -> Result<()> {
    fsutil::create_dir_all(state_dir, true)?;
    let mut text = serde_json::to_string_pretty(record).expect("a record serializes");
    text.push('\n');
    fsutil::atomic_replace(&state_dir.join(RECORD), text.as_bytes(), 0o644)
}

/// An exclusive lock on the state directory, released on drop.
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

/// Takes the lock of `state_dir`, waiting for another apply to finish (`waiting` is called once
/// when the lock is held by someone else).
pub(crate) fn lock(state_dir: &Path, waiting: impl FnOnce()) -> Result<Lock> {
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
    Ok(Lock { _file: file })
}

/// `d` in whole milliseconds, rounded to the nearest.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from((d.as_micros() + 500) / 1000).unwrap_or(u64::MAX)
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now() -> u64 {
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
            changes: vec![Change::file(&super::super::FileChange::Create {
                path: "/etc/x".into(),
                mode: 0o600,
            })],
            duration_ms: 35,
            ..Record::new(Outcome::Applied, 1_796_598_420)
        };
        write(&state, &r).unwrap();
        let text = std::fs::read_to_string(state.join(RECORD)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["time"], "2026-12-06T23:07:00Z", "{text}");
        assert_eq!(v["changes"][0]["values"]["mode"], "0600", "{text}");
        assert_eq!(v["duration_ms"], 35, "{text}");
        assert_eq!(read(&state), Some(r));
        let head = read_head(&state).unwrap();
        assert_eq!((head.result, head.digest.as_str()), (Outcome::Applied, "d"));
        assert!(head.ended_well());
        std::fs::write(state.join(RECORD), "{").unwrap();
        assert_eq!(read(&state), None);
        assert_eq!(read_head(&state), None);
        // A refused apply did not end well.
        write(&state, &Record::new(Outcome::Refused, 1)).unwrap();
        assert!(!read_head(&state).unwrap().ended_well());
    }

    #[test]
    fn durations_round_to_whole_milliseconds() {
        use std::time::Duration;
        assert_eq!(millis(Duration::from_micros(34_499)), 34);
        assert_eq!(millis(Duration::from_micros(34_500)), 35);
        assert_eq!(millis(Duration::from_secs(2)), 2000);
    }

    #[test]
    fn a_record_written_before_reads_with_its_time_and_templates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(RECORD),
            r#"{"result": "applied", "time": 1795400000, "templates": [{"name": "t", "priority": 0}],
                "digest": "d", "files": ["create /etc/x (mode 0600)"], "ops": [], "error": null}"#,
        )
        .unwrap();
        let r = read(dir.path()).expect("an old record reads");
        assert_eq!((r.time, r.templates[0].name.as_str()), (1_795_400_000, "t"));
        assert!(r.changes.is_empty());
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
