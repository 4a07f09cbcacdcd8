//! The file half of an apply's plan: rendered files compared with what is installed under the root and
//! with the manifest (files plumber owns that are no longer rendered), both read at discovery
//! ([`InstalledFiles`]), and the distro of the installed system.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use plumber_render::distro::Distro;
use plumber_render::render::Artifact;

use crate::node::install::Installer;

/// One file an apply would touch (serialised as a [`Change`](super::Change), modes as octal strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    Create {
        path: String,
        mode: u32,
    },
    /// A symlink created or pointed elsewhere (systemd's `wants/` links).
    Symlink {
        path: String,
        target: String,
    },
    Update {
        path: String,
    },
    Chmod {
        path: String,
        from: u32,
        to: u32,
    },
    Remove {
        path: String,
    },
}

impl fmt::Display for FileChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileChange::Create { path, mode } => write!(f, "create {path} (mode {mode:04o})"),
            FileChange::Symlink { path, target } => write!(f, "link {path} -> {target}"),
            FileChange::Update { path } => write!(f, "update {path}"),
            FileChange::Chmod { path, from, to } => {
                write!(f, "chmod {path} {from:04o} -> {to:04o}")
            }
            FileChange::Remove { path } => write!(f, "remove {path}"),
        }
    }
}

/// The distro of the installed system under `root`, from its `/etc/os-release`.
pub fn distro_of(root: &Path) -> crate::node::Result<Distro> {
    let p = root.join("etc/os-release");
    let text = std::fs::read_to_string(&p).map_err(|e| crate::node::Error::io(p.display(), e))?;
    Distro::from_os_release(&text).ok_or_else(|| {
        crate::node::Error::Distro(format!(
            "{}: not a distro plumber knows (see plumber-render --list-distros); pass --distro",
            p.display()
        ))
    })
}

/// The files a rendering writes as they are under the root, and which files plumber owns (its
/// manifest): what [`file_changes`] compares the rendering with. Read at discovery
/// ([`discover_for`](super::discover_for)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstalledFiles {
    /// The paths plumber's manifest lists (the files it installed).
    pub(crate) owned: BTreeSet<String>,
    /// Each artifact's path, with what is there (`None`: nothing).
    pub(crate) current: BTreeMap<String, Option<InstalledFile>>,
}

/// What is at an artifact's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledFile {
    /// Its permission bits (of the symlink itself for a symlink, `lstat`).
    pub(crate) mode: u32,
    /// For a symlink artifact: where the path points (`None`: not a symlink).
    pub(crate) link: Option<PathBuf>,
    /// For a file artifact: its content (`None`: unreadable, a directory, ...).
    pub(crate) content: Option<Vec<u8>>,
}

impl InstalledFiles {
    /// Reads plumber's manifest with `installer` and, for each of `artifacts`, what is at its path
    /// under `root`: the link target for a symlink artifact, the content for a file.
    pub(crate) fn read(
        installer: &Installer,
        root: &Path,
        artifacts: &[Artifact],
    ) -> crate::node::Result<InstalledFiles> {
        let owned = installer.manifest()?.files.into_keys().collect();
        let current = artifacts
            .iter()
            .map(|a| {
                let p = root.join(a.path.trim_start_matches('/'));
                let found = std::fs::symlink_metadata(&p).ok().map(|m| InstalledFile {
                    mode: m.permissions().mode() & 0o7777,
                    link: a.symlink.as_ref().and_then(|_| std::fs::read_link(&p).ok()),
                    content: a
                        .symlink
                        .is_none()
                        .then(|| std::fs::read(&p).ok())
                        .flatten(),
                });
                (a.path.clone(), found)
            })
            .collect();
        Ok(InstalledFiles { owned, current })
    }
}

/// File changes from installing `artifacts` over the files `found` (whose manifest says which files
/// plumber owns). A file plumber does not own that differs from its artifact is refused as
/// [`Foreign`](crate::node::Error::Foreign), as the install would.
pub fn file_changes(
    found: &InstalledFiles,
    artifacts: &[Artifact],
) -> crate::node::Result<Vec<FileChange>> {
    let mut out = Vec::new();
    for a in artifacts {
        match found.current.get(&a.path).and_then(Option::as_ref) {
            None => out.push(match &a.symlink {
                Some(target) => FileChange::Symlink {
                    path: a.path.clone(),
                    target: target.clone(),
                },
                None => FileChange::Create {
                    path: a.path.clone(),
                    mode: a.mode,
                },
            }),
            Some(m) => {
                let same = match &a.symlink {
                    Some(t) => m.link.as_deref() == Some(Path::new(t)),
                    None => m.content.as_deref() == Some(a.content.as_bytes()),
                };
                let is_owned = found.owned.contains(&a.path);
                let same_mode = a.symlink.is_some() || m.mode == a.mode;
                // A file plumber did not install is only adopted when it is already exactly right,
                // or is a VLAN file HostPlumber left (replaced).
                let adoptable = (same && same_mode)
                    || m.content.as_deref().is_some_and(|c| {
                        crate::node::install::hostplumber::is_hostplumber_vlan_file(&a.path, c)
                    });
                if !is_owned && !adoptable {
                    return Err(crate::node::Error::Foreign(a.path.clone()));
                }
                if !same {
                    out.push(match &a.symlink {
                        Some(target) => FileChange::Symlink {
                            path: a.path.clone(),
                            target: target.clone(),
                        },
                        None => FileChange::Update {
                            path: a.path.clone(),
                        },
                    });
                } else if a.symlink.is_none() && m.mode != a.mode {
                    out.push(FileChange::Chmod {
                        path: a.path.clone(),
                        from: m.mode,
                        to: a.mode,
                    });
                }
            }
        }
    }
    for path in &found.owned {
        if !artifacts.iter().any(|a| &a.path == path) {
            out.push(FileChange::Remove { path: path.clone() });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn art(path: &str, mode: u32, content: &str) -> Artifact {
        Artifact::file(path.into(), mode, content.into())
    }

    #[test]
    fn every_kind_of_file_change_is_reported_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Installed by plumber earlier: same, changed, chmodded, and no longer rendered.
        let before = [
            art("/etc/a", 0o644, "same\n"),
            art("/etc/b", 0o644, "old\n"),
            art("/etc/c", 0o644, "x\n"),
            art("/etc/gone", 0o644, "bye\n"),
        ];
        Installer::with_default_state(root)
            .install(&before)
            .unwrap()
            .commit()
            .unwrap();
        let now = [
            art("/etc/a", 0o644, "same\n"),
            art("/etc/b", 0o644, "new\n"),
            art("/etc/c", 0o600, "x\n"),
            art("/etc/new/d", 0o755, "d\n"),
        ];
        // A file plumber does not own that differs is refused, as the install would.
        std::fs::write(root.join("etc/foreign"), "theirs\n").unwrap();
        let foreign = [art("/etc/foreign", 0o644, "ours\n")];
        let found = InstalledFiles::read(&Installer::with_default_state(root), root, &foreign);
        let e = file_changes(&found.unwrap(), &foreign).unwrap_err();
        assert!(
            matches!(e, crate::node::Error::Foreign(ref p) if p == "/etc/foreign"),
            "{e}"
        );
        std::fs::remove_file(root.join("etc/foreign")).unwrap();
        let listing = |p: &Path| {
            let mut v: Vec<_> = walk(p);
            v.sort();
            v
        };
        let was = listing(root);
        let found = InstalledFiles::read(&Installer::with_default_state(root), root, &now).unwrap();
        let changes = file_changes(&found, &now).unwrap();
        assert_eq!(
            changes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            [
                "update /etc/b",
                "chmod /etc/c 0644 -> 0600",
                "create /etc/new/d (mode 0755)",
                "remove /etc/gone",
            ]
        );
        assert_eq!(listing(root), was);
    }

    #[test]
    fn the_distro_comes_from_os_release_or_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = distro_of(dir.path()).unwrap_err().to_string();
        assert!(e.contains("etc/os-release"), "{e}");
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/os-release"), "ID=gentoo\n").unwrap();
        let e = distro_of(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("not a distro plumber knows") && e.contains("--distro"),
            "{e}"
        );
        std::fs::write(
            dir.path().join("etc/os-release"),
            "ID=\"rocky\"\nVERSION_ID=\"8.9\"\n",
        )
        .unwrap();
        assert_eq!(distro_of(dir.path()).unwrap().name, "rhel8");
    }

    fn walk(p: &Path) -> Vec<(String, u32, Vec<u8>)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push((
                    e.path().display().to_string(),
                    m.permissions().mode(),
                    std::fs::read(e.path()).unwrap(),
                ));
            }
        }
        out
    }
}
