//! Which files under a root are plumber's: the one answer behind `--check`, `--diff` and `--out`'s
//! stale files (those plumber would have written that the rendering no longer contains).
//!
//! A file is plumber's when either
//!
//! * it is in one of the directories plumber writes to for the distro, its name is one plumber gives
//!   files there ([`places`]), and it starts with plumber's header ([`render::has_header`]): both, so a
//!   host's own `ifcfg-eth0` is never claimed, nor a file that merely borrows plumber's naming; the
//!   `systemctl enable` symlink has no header and counts when it points at plumber's unit of the same
//!   name; or
//! * the applier's manifest under the root (`/var/lib/plumber/manifest.json`, [`crate::manifest`])
//!   lists it: the installer wrote it, whatever its name.
//!
//! Everything is read through [`Root`]: directories resolved inside the root, nothing followed out of
//! it, a symlink in plumber's place reported as a symlink (and, lacking a header, not claimed).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::path::Path;

use rustix::fs::FileType;

use crate::distro::{Distro, NetworkFormat};
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest};
use crate::render::{self, Artifact};
use crate::rooted::{Dir, Entry, Root};

/// A file (or symlink) of plumber's found under a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFile {
    /// Absolute path on the host (as artifacts name it), without the root.
    pub path: String,
    /// What is there (a symlink not followed).
    pub entry: Entry,
}

/// A file name plumber gives: exactly this, or this prefix and suffix around a non-empty middle.
#[derive(Debug, Clone, Copy)]
enum Name {
    Exact(&'static str),
    Around(&'static str, &'static str),
}

impl Name {
    fn matches(self, name: &str) -> bool {
        match self {
            Name::Exact(n) => name == n,
            Name::Around(pre, suf) => {
                name.len() > pre.len() + suf.len() && name.starts_with(pre) && name.ends_with(suf)
            }
        }
    }
}

/// One directory plumber writes to, and the names it gives files there.
struct Place {
    dir: String,
    names: &'static [Name],
    /// Holds `systemctl enable` symlinks (no header) rather than files.
    enable_links: bool,
}

/// Where plumber writes for `distro`, with its file names (see `render/*.rs`).
fn places(distro: &Distro) -> Vec<Place> {
    let p = &distro.paths;
    let network: &'static [Name] = match distro.network {
        NetworkFormat::Keyfile => &[Name::Around("plumber-", ".nmconnection")],
        NetworkFormat::Ifcfg => &[
            Name::Around("ifcfg-", ""),
            Name::Around("route-", ""),
            Name::Around("route6-", ""),
        ],
        NetworkFormat::Netplan => &[Name::Exact("60-plumber.yaml")],
        NetworkFormat::Networkd => &[
            Name::Around("60-plumber-", ".network"),
            Name::Around("60-plumber-", ".netdev"),
        ],
    };
    let place = |dir: &str, names, enable_links| Place {
        dir: dir.to_string(),
        names,
        enable_links,
    };
    vec![
        place(&p.network, network, false),
        place(
            &p.udev_rules,
            &[Name::Around("81-plumber-", ".rules")],
            false,
        ),
        place(&p.helpers, &[Name::Around("plumber-", "")], false),
        place(&p.units, &[Name::Around("plumber-", ".service")], false),
        place(
            &format!("{}/multi-user.target.wants", p.units),
            &[Name::Around("plumber-", ".service")],
            true,
        ),
        // The device plugin's configuration: the device plugin's name, so only its `_comment` header
        // (`render::has_header`) tells plumber's from a hand-written one.
        place(
            render::pcidp::PATH.rsplit_once('/').map_or("", |(d, _)| d),
            &[Name::Exact("config.json")],
            false,
        ),
    ]
}

/// Every file of plumber's present under `root` for `distro` (see the module doc), sorted by path.
pub fn owned_files(root: &Root, distro: &Distro) -> Result<Vec<OwnedFile>> {
    scan(root, distro, &HashSet::new(), &HashMap::new())
}

/// The files of plumber's under `root` that `artifacts` (the rendering for `distro`) do not contain:
/// left from an earlier rendering, they would still configure the host at boot.
pub fn stale_files(root: &Root, distro: &Distro, artifacts: &[Artifact]) -> Result<Vec<OwnedFile>> {
    stale_files_in(root, distro, artifacts, &HashMap::new())
}

/// [`stale_files`], with directories already resolved inside `root` by their path relative to it (as
/// writing the artifacts left them): fleet mode saves resolving them again for every node.
pub fn stale_files_in(
    root: &Root,
    distro: &Distro,
    artifacts: &[Artifact],
    resolved: &HashMap<&Path, Dir>,
) -> Result<Vec<OwnedFile>> {
    let rendered = artifacts.iter().map(|a| a.path.as_str()).collect();
    scan(root, distro, &rendered, resolved)
}

/// Removes a file found by [`owned_files`] (a symlink itself, not its target); `false` when it was
/// already gone.
pub fn remove(root: &Root, file: &OwnedFile) -> Result<bool> {
    let (parent, name) = split(&file.path).ok_or_else(|| {
        Error::Usage(format!(
            "{}: not an absolute path of normal components",
            crate::escape::printable(&file.path)
        ))
    })?;
    match root.dir(Path::new(parent), false)? {
        Some(dir) => dir.remove(OsStr::new(name)),
        None => Ok(false),
    }
}

/// [`owned_files`] without the paths in `skip` (which are not read at all).
fn scan(
    root: &Root,
    distro: &Distro,
    skip: &HashSet<&str>,
    resolved: &HashMap<&Path, Dir>,
) -> Result<Vec<OwnedFile>> {
    let mut found = BTreeMap::new();
    for place in places(distro) {
        let rel = Path::new(place.dir.trim_start_matches('/'));
        let opened;
        let dir = match resolved.get(rel) {
            Some(d) => d,
            None => match root.dir(rel, false)? {
                Some(d) => {
                    opened = d;
                    &opened
                }
                None => continue,
            },
        };
        for (name, kind) in dir.entries()? {
            let Some(n) = name.to_str() else { continue };
            let path = format!("{}/{n}", place.dir);
            if skip.contains(path.as_str()) || !place.names.iter().any(|p| p.matches(n)) {
                continue;
            }
            let ours = match (kind, place.enable_links) {
                (FileType::RegularFile, false) | (FileType::Symlink, true) => dir.read(&name)?,
                _ => continue,
            };
            let claimed = match &ours {
                Entry::File { content, .. } => render::has_header(content),
                Entry::Symlink { target } => {
                    *target == format!("../{n}") || *target == format!("{}/{n}", distro.paths.units)
                }
                Entry::Absent => false,
            };
            if claimed {
                found.insert(path.clone(), OwnedFile { path, entry: ours });
            }
        }
    }
    for path in listed(root)?.files.into_keys() {
        if skip.contains(path.as_str()) || found.contains_key(&path) {
            continue;
        }
        let (parent, name) = split(&path).ok_or_else(|| bad_listed_path(&path))?;
        let Some(dir) = root.dir(Path::new(parent), false)? else {
            continue;
        };
        let name = OsStr::new(name);
        if matches!(
            dir.file_type(name)?,
            Some(FileType::RegularFile | FileType::Symlink)
        ) {
            let entry = dir.read(name)?;
            found.insert(path.clone(), OwnedFile { path, entry });
        }
    }
    Ok(found.into_values().collect())
}

/// The applier's manifest under `root`; empty when there is none.
fn listed(root: &Root) -> Result<Manifest> {
    let state = manifest::DEFAULT_STATE_DIR.trim_start_matches('/');
    let Some(dir) = root.dir(Path::new(state), false)? else {
        return Ok(Manifest::default());
    };
    let name = OsStr::new(manifest::FILE);
    let content = match dir.read(name)? {
        Entry::Absent => return Ok(Manifest::default()),
        Entry::File { content, .. } => content,
        Entry::Symlink { target } => {
            return Err(Error::io(
                dir.host_path(name).display(),
                std::io::Error::other(format!(
                    "a symlink (to {target}), not the manifest plumber writes; remove it"
                )),
            ))
        }
    };
    Manifest::parse(&content).map_err(|m| {
        Error::io(
            dir.host_path(name).display(),
            std::io::Error::other(format!(
                "{m}; fix or remove the manifest (plumber apply writes it again)"
            )),
        )
    })
}

/// An absolute path of normal components split into its directory (relative to the root) and name.
fn split(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let ok = rest
        .split('/')
        .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'));
    if !ok {
        return None;
    }
    Some(match rest.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", rest),
    })
}

fn bad_listed_path(path: &str) -> Error {
    Error::Usage(format!(
        "{}/{}: files: {} is not an absolute path of normal components (no `.`, `..` or `//`); fix or \
         remove the manifest (plumber apply writes it again)",
        manifest::DEFAULT_STATE_DIR,
        manifest::FILE,
        crate::escape::printable(path)
    ))
}

#[cfg(test)]
mod tests;
