// The commit a binary was built from, for `--version` (both crates' build.rs include this file).
//
// Sets PLUMBER_COMMIT to `<short hash>[-dirty] <commit date>` (`1c32d39 2026-12-06`), or `unknown`
// when the sources are not a git checkout (a crate tarball, the image's build context, which has no
// .git) or git is missing. The build script reruns when HEAD moves (checkout, commit) or a watched
// source changes (so `-dirty` follows edits), not on every build. Only `--version` and the man page
// show it: rendered files carry the crate version alone, so that they stay the same between builds.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs git in `dir`; its trimmed standard output when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

/// Emits PLUMBER_COMMIT and what to rerun on. `built_from`: the workspace directories and files this
/// crate's binary is built from (relative to the workspace root), which make it `-dirty` when edited.
fn emit_version(built_from: &[&str]) {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // The crate's own Cargo.toml must be tracked: a tarball unpacked inside some other repository is
    // not that repository's commit.
    let commit = git(&manifest, &["ls-files", "--error-unmatch", "Cargo.toml"])
        .and_then(|_| git(&manifest, &["show", "-s", "--format=%h %cs", "HEAD"]))
        .and_then(|line| {
            let (hash, date) = line.split_once(' ')?;
            let top = PathBuf::from(git(&manifest, &["rev-parse", "--show-toplevel"])?);
            // HEAD and the branch it points at (a loose ref, or packed-refs): a checkout or a
            // commit reruns the script. Not the index, which `git status` alone may rewrite.
            let mut watch = vec!["HEAD".to_string(), "packed-refs".into()];
            if let Some(r) = git(&manifest, &["symbolic-ref", "-q", "HEAD"]) {
                watch.push(r);
            }
            for w in &watch {
                if let Some(p) = git(&manifest, &["rev-parse", "--git-path", w]) {
                    // Relative to the directory git ran in (absolute in a worktree).
                    let p = manifest.join(p);
                    if p.exists() {
                        println!("cargo:rerun-if-changed={}", p.display());
                    }
                }
            }
            let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--"];
            for b in built_from {
                let p = top.join(b);
                if p.exists() {
                    println!("cargo:rerun-if-changed={}", p.display());
                    status.push(b);
                }
            }
            let dirty = !git(&top, &status)?.is_empty();
            Some(format!(
                "{hash}{} {date}",
                if dirty { "-dirty" } else { "" }
            ))
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=PLUMBER_COMMIT={commit}");
}
