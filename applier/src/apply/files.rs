//! The file half of an apply's plan: rendered files compared with what is installed under the root and
//! with the manifest (files plumber owns that are no longer rendered), and the distro of the installed
//! system.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use plumber_render::distro::Distro;
use plumber_render::render::Artifact;

use crate::install::Installer;

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
pub fn distro_of(root: &Path) -> crate::Result<Distro> {
    let p = root.join("etc/os-release");
    let text = std::fs::read_to_string(&p).map_err(|e| crate::Error::io(p.display(), e))?;
    Distro::from_os_release(&text).ok_or_else(|| {
        crate::Error::Distro(format!(
            "{}: not a distro plumber knows (see plumber-render --list-distros); pass --distro",
            p.display()
        ))
    })
}

/// File changes from installing `artifacts` under `root` with `installer` (whose manifest says which
/// files plumber owns). A file plumber does not own that differs from its artifact is refused as
/// [`Foreign`](crate::Error::Foreign), as the install would.
pub fn file_changes(
    installer: &Installer,
    root: &Path,
    artifacts: &[Artifact],
) -> crate::Result<Vec<FileChange>> {
    let owned = installer.manifest()?;
    let mut out = Vec::new();
    for a in artifacts {
        let p = root.join(a.path.trim_start_matches('/'));
        match std::fs::symlink_metadata(&p) {
            Err(_) => out.push(match &a.symlink {
                Some(target) => FileChange::Symlink {
                    path: a.path.clone(),
                    target: target.clone(),
                },
                None => FileChange::Create {
                    path: a.path.clone(),
                    mode: a.mode,
                },
            }),
            Ok(m) => {
                let same = match &a.symlink {
                    Some(t) => std::fs::read_link(&p).is_ok_and(|l| l == Path::new(t)),
                    None => std::fs::read(&p).is_ok_and(|b| b == a.content.as_bytes()),
                };
                let is_owned = owned.files.contains_key(&a.path);
                let same_mode = a.symlink.is_some() || m.permissions().mode() & 0o7777 == a.mode;
                // A file plumber did not install is only adopted when it is already exactly right.
                let adoptable = same && same_mode;
                if !is_owned && !adoptable {
                    return Err(crate::Error::Foreign(a.path.clone()));
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
                } else if a.symlink.is_none() && m.permissions().mode() & 0o7777 != a.mode {
                    out.push(FileChange::Chmod {
                        path: a.path.clone(),
                        from: m.permissions().mode() & 0o7777,
                        to: a.mode,
                    });
                }
            }
        }
    }
    for path in owned.files.keys() {
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
        let e = file_changes(
            &Installer::with_default_state(root),
            root,
            &[art("/etc/foreign", 0o644, "ours\n")],
        )
        .unwrap_err();
        assert!(
            matches!(e, crate::Error::Foreign(ref p) if p == "/etc/foreign"),
            "{e}"
        );
        std::fs::remove_file(root.join("etc/foreign")).unwrap();
        let listing = |p: &Path| {
            let mut v: Vec<_> = walk(p);
            v.sort();
            v
        };
        let was = listing(root);
        let changes = file_changes(&Installer::with_default_state(root), root, &now).unwrap();
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
