//! Plumber's files under a tree that the rendering no longer contains ([`plumber_render::owned`]): what
//! `--check` names, `--diff` shows as deletions, and `--out` (and fleet mode, per node) removes.

use std::collections::HashMap;
use std::path::Path;

use plumber_render::distro::Distro;
use plumber_render::owned::{self, OwnedFile};
use plumber_render::render::Artifact;
use plumber_render::rooted::{Dir, Entry, Root};

/// Removes the stale files under `root` (symlinks themselves, never what they point to; the host's
/// files are never plumber's, see [`owned`]); returns their paths, sorted.
/// `written`: the directories [`crate::output::write_tree`] resolved, not resolved again.
pub fn remove(
    root: &Root,
    distro: &Distro,
    artifacts: &[Artifact],
    written: &HashMap<&Path, Dir>,
) -> anyhow::Result<Vec<String>> {
    let mut removed = Vec::new();
    for f in owned::stale_files_in(root, distro, artifacts, written)? {
        if owned::remove(root, &f)? {
            removed.push(f.path);
        }
    }
    Ok(removed)
}

/// A stale file as `--diff` shows it: a unified diff to `/dev/null` (a symlink: `symlink PATH: TARGET ->
/// (none)`, as a changed one is shown).
pub fn deletion(f: &OwnedFile) -> String {
    let rel = f.path.trim_start_matches('/');
    match &f.entry {
        Entry::File { content, .. } => {
            let old = String::from_utf8_lossy(content);
            let d = similar::TextDiff::from_lines(old.as_ref(), "");
            let mut text = d
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{rel}"), "/dev/null")
                .to_string();
            if content.is_empty() {
                // No line to delete, so no hunk: say it.
                text = format!("--- a/{rel}\n+++ /dev/null\n(empty file)\n");
            }
            text
        }
        Entry::Symlink { target } => format!("symlink {}: {target} -> (none)\n", f.path),
        Entry::Absent => String::new(),
    }
}

/// The hint after `--check`'s or `--diff`'s stale files: what they are and what removes them.
pub const HINT: &str = "plumber-render: stale: plumber's files (plumber's file name and header, or \
listed in its manifest) that the rendering no longer contains; they would still configure the host at \
boot. Delete them, or render with --out ROOT, which removes them";
