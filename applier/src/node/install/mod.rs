//! Installing rendered [`Artifact`]s under a root, atomically, with a manifest of the files plumber owns
//! and a journal that makes every install a transaction the applier can roll back, even after a crash.
//!
//! # Layout
//!
//! Everything lives under `root` (`/` on a node, a temp dir in tests). The state dir (default
//! [`DEFAULT_STATE_DIR`]) holds:
//!
//! - `manifest.json`: every path plumber owns, with the sha256 of its content (of the link target for a
//!   symlink) and its mode (the format is `plumber_render::manifest`, which plumber-render reads too). Written atomically like every other file.
//! - `txn/`, only while a transaction is open: `journal.json`, `backup/<n>` (the previous content of every
//!   file the transaction replaces or removes) and `manifest.json` (the previous manifest, if any).
//!
//! # One install
//!
//! 1. **Plan, writing nothing.** Every artifact path must be absolute with only normal components, no
//!    artifact may be an ancestor of another or lie in the state dir. For each artifact the installer
//!    looks at the target without following symlinks (nor any symlink among its ancestors inside root,
//!    which is refused as foreign: writing through it could land outside root):
//!    - same bytes and mode (or same link target) as wanted: *unchanged*, not touched at all;
//!    - owned (in the old manifest) and different: *written*; if what is on disk also differs from the
//!      manifest's hash and mode, someone edited it, and it is reported as *drifted* too;
//!    - absent: *written*;
//!    - not owned and different (including a symlink, a directory, or the same content with another
//!      mode): the whole install fails with [`Error::Foreign`] before anything is written;
//!    - not owned and a VLAN file HostPlumber left ([`hostplumber`]): *written*, as if owned (backed up,
//!      so a rollback puts HostPlumber's file back);
//!    - not owned and identical: *adopted*, taken into the manifest without touching the file. Refusing
//!      would make a re-install after a lost manifest fail on every file, and adopting an identical file
//!      changes nothing on disk; a rollback makes it unowned again.
//!
//!    Files in the old manifest that are no longer rendered are *removed* (one already gone, or replaced
//!    by a directory, is just dropped from the manifest). If nothing changes and the manifest would be
//!    byte-identical, the install writes nothing at all, not even a journal.
//! 2. **Journal first.** Back up every file to be replaced or removed and the old manifest into `txn/`,
//!    fsync them, then write `txn/journal.json` atomically: the list of touched paths with what was there
//!    before (absent, a file: backup and mode, a symlink: its target) and the directories to be created.
//!    The transaction exists from the moment the journal's rename is durable.
//! 3. **Then the files**: missing parent directories (0755), then each file written to
//!    `.plumber-tmp-<name>-<pid>` in its own directory, fsynced, chmodded, renamed over the target and the
//!    directory fsynced (a symlink: a temp symlink renamed over the target); then the removals.
//! 4. **Then the manifest**, atomically.
//!
//! [`install`](Installer::install) returns an [`Installed`]: [`commit`](Installed::commit) deletes the
//! journal (the commit point) and then the backups; [`rollback`](Installed::rollback) puts back the old
//! manifest, every old file with its mode, deletes new files, temp files and the directories the install
//! created, and only then deletes the journal. Rolling back is idempotent, so a crash during a rollback is
//! finished by the next [`recover`](Installer::recover).
//!
//! An I/O error during steps 3 and 4 rolls the transaction back before `install` returns the error.
//!
//! # Crashes
//!
//! A transaction is only committed by deleting its journal, so on start [`Installer::recover`] rolls back
//! any journal it finds: the tree is the one before the interrupted install (content, modes, symlinks;
//! not owners, timestamps or xattrs: files are written as the applier's user, root on a node). A `txn/`
//! without a journal crashed before step 3 (or after the commit point) and touched nothing that needs
//! undoing; it is deleted. An install refuses to start while a journal exists ([`Error::Transaction`]),
//! so dropping an [`Installed`] without committing leaves it for `recover` to roll back.
//!
//! Not handled: two installers on the same root at once (the applier is one process), and a root or state
//! dir that is itself reached through a symlink (both are chosen by the caller, not by the artifacts).

pub(crate) mod fsutil;
pub(crate) mod hostplumber;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use plumber_render::render::Artifact;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::node::error::{Error, Result};
use fsutil::OnDisk;

pub use fsutil::TMP_PREFIX;

use plumber_render::manifest::VERSION as MANIFEST_VERSION;
pub use plumber_render::manifest::{Manifest, Owned, DEFAULT_STATE_DIR};

/// What one install did (or, after a rollback, undid). Paths are absolute on the host, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstallReport {
    /// Files and symlinks written: new, changed, or drifted.
    pub written: Vec<String>,
    /// Already exactly as rendered: not touched.
    pub unchanged: Vec<String>,
    /// Owned before, no longer rendered: deleted.
    pub removed: Vec<String>,
    /// Owned files someone changed since plumber wrote them (also in `written`).
    pub drifted: Vec<String>,
    /// Files that existed, were not owned, and were identical to the artifact: now owned, not touched.
    pub adopted: Vec<String>,
}

impl InstallReport {
    /// Whether the install changed nothing on disk.
    pub fn is_noop(&self) -> bool {
        self.written.is_empty() && self.removed.is_empty()
    }
}

/// What [`Installer::recover`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// No transaction was open.
    Clean,
    /// A transaction had not written its journal yet (or had just committed); its leftovers were deleted.
    Discarded,
    /// An uncommitted transaction was rolled back; these paths were restored.
    RolledBack(Vec<String>),
}

/// Installs artifacts under `root`; see the module doc for the protocol.
#[derive(Debug, Clone)]
pub struct Installer {
    root: PathBuf,
    state_dir: PathBuf,
}

/// The real paths of the state files.
#[derive(Debug, Clone)]
struct Paths {
    root: PathBuf,
    /// The state dir as an absolute host path (`/var/lib/plumber`).
    state_rel: String,
    state: PathBuf,
    manifest: PathBuf,
    txn: PathBuf,
    journal: PathBuf,
    backup: PathBuf,
    old_manifest: PathBuf,
}

impl Paths {
    fn real(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    version: u32,
    /// Every path the transaction writes or removes, with what was there before.
    entries: Vec<JournalEntry>,
    /// Directories the transaction creates, parents first.
    created_dirs: Vec<String>,
    /// Whether a manifest existed (and was saved as `txn/manifest.json`).
    had_manifest: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct JournalEntry {
    path: String,
    before: Before,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Before {
    Absent,
    /// Saved as `txn/backup/<backup>`.
    File {
        backup: String,
        mode: u32,
    },
    Symlink {
        target: String,
    },
}

/// The result of an install: the report, and the open transaction to commit or roll back.
#[must_use = "an install must be committed or rolled back; dropped, it is rolled back by recover()"]
#[derive(Debug)]
pub struct Installed {
    pub report: InstallReport,
    txn: Option<(Paths, Journal)>,
}

impl Installed {
    /// Keep the installed files: delete the journal (the commit point), then the backups.
    pub fn commit(self) -> Result<InstallReport> {
        if let Some((paths, _)) = &self.txn {
            fsutil::remove_durable(&paths.journal)?;
            remove_txn_dir(paths)?;
        }
        Ok(self.report)
    }

    /// Whether the install opened a transaction (it changed something), which its commit ends.
    pub(crate) fn journaled(&self) -> bool {
        self.txn.is_some()
    }

    /// Put back exactly the tree and manifest from before the install.
    pub fn rollback(self) -> Result<InstallReport> {
        if let Some((paths, journal)) = &self.txn {
            rollback(paths, journal)?;
        }
        Ok(self.report)
    }
}

/// What to do to one path.
enum Action<'a> {
    Write(&'a Artifact),
    Remove,
}

struct Step<'a> {
    path: String,
    action: Action<'a>,
    before: OnDisk,
}

impl Installer {
    /// An installer for `root`, keeping its manifest and journal in `<root><state_dir>`.
    pub(crate) fn new(root: &Path, state_dir: &Path) -> Self {
        Installer {
            root: root.to_path_buf(),
            state_dir: state_dir.to_path_buf(),
        }
    }

    /// An installer for `root` with the state dir [`DEFAULT_STATE_DIR`].
    pub fn with_default_state(root: &Path) -> Self {
        Self::new(root, Path::new(DEFAULT_STATE_DIR))
    }

    fn paths(&self) -> Result<Paths> {
        let state_rel = self.state_dir.to_string_lossy().into_owned();
        check_path(&state_rel)?;
        let state = self.root.join(state_rel.trim_start_matches('/'));
        let txn = state.join("txn");
        Ok(Paths {
            root: self.root.clone(),
            state_rel,
            manifest: state.join(plumber_render::manifest::FILE),
            journal: txn.join("journal.json"),
            backup: txn.join("backup"),
            old_manifest: txn.join("manifest.json"),
            txn,
            state,
        })
    }

    /// The manifest on disk (empty when there is none).
    pub fn manifest(&self) -> Result<Manifest> {
        let paths = self.paths()?;
        Ok(read_manifest(&paths)?.0)
    }

    /// Whether a transaction is open (its journal exists): neither committed nor rolled back.
    pub(crate) fn in_transaction(&self) -> Result<bool> {
        Ok(self.paths()?.journal.exists())
    }

    /// Roll back a transaction left by a crash (or by an [`Installed`] dropped uncommitted); run it
    /// before the first install after a start.
    pub fn recover(&self) -> Result<Recovery> {
        let paths = self.paths()?;
        if !paths.txn.exists() {
            // A crash while writing the manifest of a transaction is impossible without a journal, but
            // a crash while committing can leave a temp journal inside txn/, which is handled below.
            fsutil::remove_tmp_files(&paths.state, "manifest.json")?;
            return Ok(Recovery::Clean);
        }
        match fs::read(&paths.journal) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                remove_txn_dir(&paths)?;
                Ok(Recovery::Discarded)
            }
            Err(e) => Err(Error::io(paths.journal.display(), e)),
            Ok(bytes) => {
                let journal: Journal =
                    serde_json::from_slice(&bytes).map_err(|e| Error::Manifest {
                        path: paths.journal.display().to_string(),
                        message: e.to_string(),
                    })?;
                for e in &journal.entries {
                    check_path(&e.path)?;
                }
                for d in &journal.created_dirs {
                    check_path(d)?;
                }
                rollback(&paths, &journal)?;
                Ok(Recovery::RolledBack(
                    journal.entries.into_iter().map(|e| e.path).collect(),
                ))
            }
        }
    }

    /// Install `artifacts` (replacing the previous set): see the module doc. When an error is returned
    /// nothing was changed: checks come before any write, and an I/O failure during the transaction
    /// rolls it back (if that rollback fails too, the journal stays for [`recover`](Self::recover)).
    pub fn install(&self, artifacts: &[Artifact]) -> Result<Installed> {
        let paths = self.paths()?;
        if paths.journal.exists() {
            return Err(Error::Transaction(format!(
                "{}: a previous install was neither committed nor rolled back; recover first",
                paths.journal.display()
            )));
        }
        if paths.txn.exists() {
            remove_txn_dir(&paths)?;
        }
        check_artifacts(artifacts, &paths.state_rel)?;
        let (old, old_bytes) = read_manifest(&paths)?;

        let mut report = InstallReport::default();
        let mut steps = Vec::new();
        let mut new_dirs = BTreeSet::new();
        let mut new = Manifest {
            version: MANIFEST_VERSION,
            files: BTreeMap::new(),
        };
        let mut sorted: Vec<&Artifact> = artifacts.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        for art in sorted {
            let real = paths.real(&art.path);
            let missing = check_ancestors(&paths, &art.path)?;
            let disk = if missing.is_empty() {
                fsutil::read_on_disk(&real)?
            } else {
                OnDisk::Absent
            };
            new_dirs.extend(missing);
            let want = owned_of(art);
            let owned = old.files.get(&art.path);
            if is_artifact(&disk, art) {
                if owned.is_some() {
                    report.unchanged.push(art.path.clone());
                } else {
                    report.adopted.push(art.path.clone());
                }
            } else {
                match (owned, &disk) {
                    (_, OnDisk::Absent) => {}
                    // A VLAN file HostPlumber left is replaced as if it were plumber's (and restored
                    // on a rollback).
                    (None, OnDisk::File { content, .. })
                        if hostplumber::is_hostplumber_vlan_file(&art.path, content) => {}
                    (None, _) | (Some(_), OnDisk::Other) => {
                        return Err(Error::Foreign(art.path.clone()));
                    }
                    (Some(o), _) => {
                        if !matches(&disk, o) {
                            report.drifted.push(art.path.clone());
                        }
                    }
                }
                if owned.is_some() && disk == OnDisk::Absent {
                    report.drifted.push(art.path.clone());
                }
                report.written.push(art.path.clone());
                steps.push(Step {
                    path: art.path.clone(),
                    action: Action::Write(art),
                    before: disk,
                });
            }
            new.files.insert(art.path.clone(), want);
        }
        for path in old.files.keys() {
            if new.files.contains_key(path) {
                continue;
            }
            check_path(path).map_err(|e| Error::Manifest {
                path: paths.manifest.display().to_string(),
                message: e.to_string(),
            })?;
            if !check_ancestors(&paths, path)?.is_empty() {
                continue;
            }
            match fsutil::read_on_disk(&paths.real(path))? {
                OnDisk::Absent | OnDisk::Other => {}
                disk => {
                    report.removed.push(path.clone());
                    steps.push(Step {
                        path: path.clone(),
                        action: Action::Remove,
                        before: disk,
                    });
                }
            }
        }
        report.drifted.sort();

        let new_bytes = manifest_bytes(&new);
        if steps.is_empty() && old_bytes.as_deref() == Some(new_bytes.as_slice()) {
            return Ok(Installed { report, txn: None });
        }
        let journal = begin(&paths, &steps, new_dirs, old_bytes.as_deref())?;
        if let Err(e) = apply(&paths, &journal, &steps, &new_bytes) {
            // Best effort; if this fails too, the journal stays for recover().
            let _ = rollback(&paths, &journal);
            return Err(e);
        }
        Ok(Installed {
            report,
            txn: Some((paths, journal)),
        })
    }
}

/// Steps 3 and 4 of the protocol: directories, files, removals, manifest.
fn apply(paths: &Paths, journal: &Journal, steps: &[Step], manifest: &[u8]) -> Result<()> {
    for d in &journal.created_dirs {
        fsutil::create_dir(&paths.real(d), false)?;
    }
    for step in steps {
        let real = paths.real(&step.path);
        match step.action {
            Action::Write(art) => match &art.symlink {
                Some(link) => fsutil::atomic_symlink(&real, link)?,
                None => fsutil::atomic_write(&real, art.content.as_bytes(), art.mode & 0o7777)?,
            },
            Action::Remove => fsutil::remove_durable(&real)?,
        }
    }
    fsutil::atomic_write(&paths.manifest, manifest, 0o644)
}

/// Step 2 of the protocol: backups, then the journal.
fn begin(
    paths: &Paths,
    steps: &[Step],
    new_dirs: BTreeSet<String>,
    old_manifest: Option<&[u8]>,
) -> Result<Journal> {
    fsutil::create_dir_all(&paths.state, true)?;
    fsutil::create_dir(&paths.txn, true)?;
    fsutil::create_dir(&paths.backup, true)?;
    let mut entries = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let before = match &step.before {
            OnDisk::Absent => Before::Absent,
            OnDisk::File { content, mode } => {
                let backup = i.to_string();
                fsutil::write_new(&paths.backup.join(&backup), content, 0o600)?;
                Before::File {
                    backup,
                    mode: *mode,
                }
            }
            OnDisk::Symlink { target } => Before::Symlink {
                target: target.clone(),
            },
            OnDisk::Other => unreachable!("directories are never replaced"),
        };
        entries.push(JournalEntry {
            path: step.path.clone(),
            before,
        });
    }
    fsutil::sync_dir(&paths.backup)?;
    if let Some(bytes) = old_manifest {
        fsutil::write_new(&paths.old_manifest, bytes, 0o600)?;
    }
    let journal = Journal {
        version: MANIFEST_VERSION,
        entries,
        created_dirs: new_dirs.into_iter().collect(),
        had_manifest: old_manifest.is_some(),
    };
    let bytes = serde_json::to_vec_pretty(&journal).expect("journal serializes");
    fsutil::sync_dir(&paths.txn)?;
    fsutil::atomic_write(&paths.journal, &bytes, 0o600)?;
    Ok(journal)
}

/// Undo a journaled transaction, idempotently; the journal goes last.
fn rollback(paths: &Paths, journal: &Journal) -> Result<()> {
    if journal.had_manifest {
        let bytes = fs::read(&paths.old_manifest)
            .map_err(|e| Error::io(paths.old_manifest.display(), e))?;
        fsutil::atomic_write(&paths.manifest, &bytes, 0o644)?;
    } else {
        fsutil::remove_durable(&paths.manifest)?;
    }
    fsutil::remove_tmp_files(&paths.state, "manifest.json")?;
    for entry in journal.entries.iter().rev() {
        let real = paths.real(&entry.path);
        // A crash before a created directory was made leaves nothing to restore under it.
        let exists = real.parent().is_some_and(|p| p.is_dir());
        match &entry.before {
            Before::Absent if exists => fsutil::remove_durable(&real)?,
            Before::Absent => {}
            Before::File { backup, mode } => {
                let src = paths.backup.join(backup);
                let bytes = fs::read(&src).map_err(|e| Error::io(src.display(), e))?;
                fsutil::atomic_write(&real, &bytes, *mode)?;
            }
            Before::Symlink { target } => fsutil::atomic_symlink(&real, target)?,
        }
        if exists {
            if let (Some(dir), Some(name)) = (real.parent(), real.file_name()) {
                fsutil::remove_tmp_files(dir, &name.to_string_lossy())?;
            }
        }
    }
    for d in journal.created_dirs.iter().rev() {
        let real = paths.real(d);
        let empty = match fs::read_dir(&real) {
            Ok(mut it) => it.next().is_none(),
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => return Err(Error::io(real.display(), e)),
        };
        // Not empty: something that is not plumber's appeared there; leave it.
        if empty {
            fs::remove_dir(&real).map_err(|e| Error::io(real.display(), e))?;
            fsutil::sync_dir(real.parent().unwrap_or(&paths.root))?;
        }
    }
    fsutil::remove_durable(&paths.journal)?;
    remove_txn_dir(paths)
}

fn remove_txn_dir(paths: &Paths) -> Result<()> {
    match fs::remove_dir_all(&paths.txn) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(paths.txn.display(), e)),
    }
    fsutil::sync_dir(&paths.state)
}

fn read_manifest(paths: &Paths) -> Result<(Manifest, Option<Vec<u8>>)> {
    let bytes = match fs::read(&paths.manifest) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok((Manifest::default(), None)),
        Err(e) => return Err(Error::io(paths.manifest.display(), e)),
    };
    let manifest = Manifest::parse(&bytes).map_err(|message| Error::Manifest {
        path: paths.manifest.display().to_string(),
        message,
    })?;
    Ok((manifest, Some(bytes)))
}

fn manifest_bytes(m: &Manifest) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(m).expect("manifest serializes");
    bytes.push(b'\n');
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn owned_of(art: &Artifact) -> Owned {
    match &art.symlink {
        Some(link) => Owned {
            sha256: sha256_hex(link.as_bytes()),
            mode: 0o777,
            symlink: Some(link.clone()),
        },
        None => Owned {
            sha256: sha256_hex(art.content.as_bytes()),
            mode: art.mode & 0o7777,
            symlink: None,
        },
    }
}

/// Whether what is on disk is exactly `art` (bytes compared: cheaper than hashing).
fn is_artifact(disk: &OnDisk, art: &Artifact) -> bool {
    match (disk, &art.symlink) {
        (OnDisk::File { content, mode }, None) => {
            *mode == art.mode & 0o7777 && content.as_slice() == art.content.as_bytes()
        }
        (OnDisk::Symlink { target }, Some(link)) => target == link,
        _ => false,
    }
}

/// Whether what is on disk is what `owned` describes.
fn matches(disk: &OnDisk, owned: &Owned) -> bool {
    match (disk, &owned.symlink) {
        (OnDisk::File { content, mode }, None) => {
            *mode == owned.mode && sha256_hex(content) == owned.sha256
        }
        (OnDisk::Symlink { target }, Some(link)) => target == link,
        _ => false,
    }
}

fn bad(path: &str, reason: &str) -> Error {
    Error::BadPath {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// Absolute, with only normal components: no `.`, `..`, empty component or trailing slash.
fn check_path(path: &str) -> Result<()> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(bad(path, "not an absolute path"));
    };
    if rest.is_empty() {
        return Err(bad(path, "is the root directory"));
    }
    for seg in rest.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." || seg.contains('\0') {
            return Err(bad(
                path,
                "must contain only normal components (no `.`, `..`, `//` or trailing `/`)",
            ));
        }
    }
    Ok(())
}

/// The ancestors of an absolute, checked path, shallowest first (`/a/b/c` → `/a`, `/a/b`).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .skip(1)
        .map(move |(i, _)| &path[..i])
}

fn check_artifacts(artifacts: &[Artifact], state_rel: &str) -> Result<()> {
    let mut seen = HashSet::new();
    for art in artifacts {
        check_path(&art.path)?;
        if !seen.insert(art.path.as_str()) {
            return Err(bad(&art.path, "rendered twice"));
        }
    }
    for art in artifacts {
        if let Some(a) = ancestors(&art.path).find(|a| seen.contains(a)) {
            return Err(bad(
                a,
                &format!("is a file but also a directory of {}", art.path),
            ));
        }
        let p = art.path.as_str();
        if p == state_rel
            || p.strip_prefix(state_rel)
                .is_some_and(|r| r.starts_with('/'))
            || state_rel
                .strip_prefix(p)
                .is_some_and(|r| r.starts_with('/'))
        {
            return Err(bad(p, &format!("overlaps plumber's state dir {state_rel}")));
        }
    }
    Ok(())
}

/// Check that every existing ancestor of `path` inside root is a real directory (a symlink could lead
/// out of root); returns the missing ones, shallowest first.
fn check_ancestors(paths: &Paths, path: &str) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    for a in ancestors(path) {
        if !missing.is_empty() {
            missing.push(a.to_string());
            continue;
        }
        let real = paths.real(a);
        match fs::symlink_metadata(&real) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(Error::Foreign(a.to_string())),
            Err(e) if e.kind() == ErrorKind::NotFound => missing.push(a.to_string()),
            Err(e) => return Err(Error::io(real.display(), e)),
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests;
