//! Durable, atomic file-system steps: every replacement goes through a temp file in the target's own
//! directory (`.plumber-tmp-<name>-<pid>`), is fsynced, renamed over the target, and the directory is
//! fsynced so the rename itself survives a power cut.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::node::error::{Error, Result};

/// Prefix of every temp file plumber creates; `recover` deletes leftovers with it.
pub const TMP_PREFIX: &str = ".plumber-tmp-";

/// What is at a path, without following a symlink there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OnDisk {
    Absent,
    File {
        content: Vec<u8>,
        mode: u32,
    },
    Symlink {
        target: String,
    },
    /// A directory, socket, device...: never plumber's.
    Other,
}

pub(crate) fn read_on_disk(path: &Path) -> Result<OnDisk> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(OnDisk::Absent),
        Err(e) => return Err(Error::io(path.display(), e)),
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(path).map_err(|e| Error::io(path.display(), e))?;
        Ok(OnDisk::Symlink {
            target: target.to_string_lossy().into_owned(),
        })
    } else if ft.is_file() {
        let content = fs::read(path).map_err(|e| Error::io(path.display(), e))?;
        Ok(OnDisk::File {
            content,
            mode: meta.permissions().mode() & 0o7777,
        })
    } else {
        Ok(OnDisk::Other)
    }
}

fn tmp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!("{TMP_PREFIX}{name}-{}", std::process::id()))
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path.display(), e)),
    }
}

/// fsync a directory, making renames, creations and removals in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir.display(), e))
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("/"))
}

/// Write a new file durably (no rename): for backups, whose directory is synced by the caller.
pub(crate) fn write_new(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    create_new(path, content, mode, true)
}

/// Creates `path` (replacing a leftover) with `content` at `mode`, and fsyncs it when `durable`.
fn create_new(path: &Path, content: &[u8], mode: u32, durable: bool) -> Result<()> {
    remove_if_exists(path)?;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path.display(), e))?;
    f.write_all(content)
        .and_then(|()| f.set_permissions(fs::Permissions::from_mode(mode)))
        .and_then(|()| if durable { f.sync_all() } else { Ok(()) })
        .map_err(|e| Error::io(path.display(), e))
}

/// Replace `target` with a file holding `content` at `mode`, atomically and durably.
pub(crate) fn atomic_write(target: &Path, content: &[u8], mode: u32) -> Result<()> {
    replace_through_tmp(target, content, mode, true)?;
    sync_dir(parent(target))
}

/// Replace `target` with a file holding `content` at `mode` atomically, but not durably: no fsync of
/// the file nor of its directory. For records a power cut may take back to their previous version, or
/// lose, but that a reader never sees half-written (a crash of the process cannot lose a written file:
/// the page cache keeps it). Two fsyncs fewer than [`atomic_write`], on the disk every apply writes.
pub(crate) fn atomic_replace(target: &Path, content: &[u8], mode: u32) -> Result<()> {
    replace_through_tmp(target, content, mode, false)
}

/// The temp file, fsynced when `durable`, renamed over `target`; no temp file is left on failure.
fn replace_through_tmp(target: &Path, content: &[u8], mode: u32, durable: bool) -> Result<()> {
    let tmp = tmp_path(target);
    let result = create_new(&tmp, content, mode, durable)
        .and_then(|()| fs::rename(&tmp, target).map_err(|e| Error::io(target.display(), e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Replace `target` with a symlink to `link`, atomically and durably.
pub(crate) fn atomic_symlink(target: &Path, link: &str) -> Result<()> {
    let tmp = tmp_path(target);
    remove_if_exists(&tmp)?;
    std::os::unix::fs::symlink(link, &tmp).map_err(|e| Error::io(tmp.display(), e))?;
    if let Err(e) = fs::rename(&tmp, target) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(target.display(), e));
    }
    sync_dir(parent(target))
}

/// Remove a file or symlink (not a directory) durably; absent is fine.
pub(crate) fn remove_durable(target: &Path) -> Result<()> {
    remove_if_exists(target)?;
    sync_dir(parent(target))
}

/// Create one directory (its parent exists) with mode 0755 (0700 when `private`), durably.
pub(crate) fn create_dir(dir: &Path, private: bool) -> Result<()> {
    let mode = if private { 0o700 } else { 0o755 };
    match fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(Error::io(dir.display(), e)),
    }
    // The umask may have cleared bits.
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(dir.display(), e))?;
    sync_dir(parent(dir))
}

/// `create_dir` for every missing ancestor and `dir` itself.
pub(crate) fn create_dir_all(dir: &Path, private: bool) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(p) = dir.parent() {
        create_dir_all(p, private)?;
    }
    create_dir(dir, private)
}

/// Delete plumber temp files for `name` (`.plumber-tmp-<name>-*`, any pid) in `dir`.
pub(crate) fn remove_tmp_files(dir: &Path, name: &str) -> Result<()> {
    let prefix = format!("{TMP_PREFIX}{name}-");
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir.display(), e)),
    };
    let mut removed = false;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir.display(), e))?;
        let fname = entry.file_name();
        let Some(fname) = fname.to_str() else {
            continue;
        };
        // The pid suffix is all digits: `.plumber-tmp-a-b-123` is not a temp file of `a`.
        if let Some(pid) = fname.strip_prefix(&prefix) {
            if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
                remove_if_exists(&entry.path())?;
                removed = true;
            }
        }
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_replace_swaps_the_whole_file_in_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("last-apply.json");
        atomic_replace(&target, b"{\"a\": 1}\n", 0o644).unwrap();
        atomic_replace(&target, b"{\"b\": 2}\n", 0o640).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"{\"b\": 2}\n");
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["last-apply.json"]);
        // A directory in the way: the error names the target, and the temp file is gone.
        let blocked = dir.path().join("blocked");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), "").unwrap();
        let e = atomic_replace(&blocked, b"y", 0o644).unwrap_err();
        assert!(e.to_string().contains("blocked"), "{e}");
        let left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(TMP_PREFIX))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
