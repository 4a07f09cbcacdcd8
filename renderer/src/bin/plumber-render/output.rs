//! Where artifacts go: standard output for review, a directory tree, a tar archive, or a comparison
//! with an installed root. Trees are written and read through [`Root`]: every path resolved inside the
//! directory as if it were `/`, so nothing outside it is written or read. Plumber's files in a tree that
//! the rendering no longer contains are differences for `--check` and `--diff`, and `--out` removes
//! them (stale.rs).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Component, Path};

use plumber_render::distro::Distro;
use plumber_render::owned::stale_files;
use plumber_render::render::Artifact;
use plumber_render::Error;

use crate::args::Args;
use crate::rooted::{Dir, Entry, Root};
use crate::stale;

/// The artifacts rendered for `distro` where `args` say.
pub fn emit(args: &Args, distro: &Distro, artifacts: &[Artifact]) -> anyhow::Result<u8> {
    if artifacts.is_empty() {
        eprintln!(
            "plumber-render: nothing to render (no template selected, or they configure nothing)"
        );
    }
    if let Some(dir) = &args.out {
        let root = Root::create(dir)?;
        let written = write_tree(&root, artifacts)?;
        for path in stale::remove(&root, distro, artifacts, &written)? {
            eprintln!("plumber-render: removed stale {path}");
        }
        eprintln!(
            "plumber-render: wrote {} files under {}",
            artifacts.len(),
            dir.display()
        );
        return Ok(0);
    }
    if let Some(t) = &args.tar {
        if t.as_os_str() == "-" {
            write_tar(std::io::stdout().lock(), artifacts)?;
        } else {
            let f = std::fs::File::create(t).map_err(|e| Error::io(t.display(), e))?;
            write_tar(std::io::BufWriter::new(f), artifacts)?;
        }
        return Ok(0);
    }
    if let Some(root) = &args.diff {
        let root = Root::open(root)?;
        let mut diff = diff_against(&root, artifacts)?;
        let stale = stale_files(&root, distro, artifacts)?;
        for f in &stale {
            diff.push_str(&stale::deletion(f));
        }
        if crate::colour::wanted(args.color) {
            print!("{}", crate::colour::diff(&diff));
        } else {
            print!("{diff}");
        }
        if !stale.is_empty() {
            eprintln!("{}", stale::HINT);
        }
        return Ok(if diff.is_empty() { 0 } else { 2 });
    }
    if let Some(root) = &args.check {
        let root = Root::open(root)?;
        let mut differs = false;
        for a in artifacts {
            if !same_as_installed(&root, a)? {
                println!("differs: {}", a.path);
                differs = true;
            }
        }
        let stale = stale_files(&root, distro, artifacts)?;
        for f in &stale {
            println!("stale: {}", f.path);
        }
        if !stale.is_empty() {
            eprintln!("{}", stale::HINT);
        }
        return Ok(if differs || !stale.is_empty() { 2 } else { 0 });
    }
    print_review(&mut std::io::stdout().lock(), artifacts)?;
    Ok(0)
}

/// Every file with a path header, for a person to read.
pub fn print_review(out: &mut impl Write, artifacts: &[Artifact]) -> std::io::Result<()> {
    for (i, a) in artifacts.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        match &a.symlink {
            Some(t) => writeln!(out, "==> {} -> {} <==", a.path, t)?,
            None => {
                writeln!(out, "==> {} (mode {:04o}) <==", a.path, a.mode)?;
                out.write_all(a.content.as_bytes())?;
            }
        }
    }
    Ok(())
}

/// An artifact's absolute path made relative (to a root), refusing anything that could leave it: only
/// normal components, no `.` or `..`.
pub fn relative(path: &str) -> anyhow::Result<&Path> {
    let p = Path::new(path);
    let ok = p.is_absolute()
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    match p.strip_prefix("/") {
        Ok(rel) if ok && rel.file_name().is_some() => Ok(rel),
        _ => Err(Error::Render {
            artifact: path.to_string(),
            message: "unsafe artifact path".into(),
        }
        .into()),
    }
}

/// An artifact's directory relative to a root, and its file name.
fn split(path: &str) -> anyhow::Result<(&Path, &OsStr)> {
    let rel = relative(path)?;
    let name = rel.file_name().expect("checked by relative");
    Ok((rel.parent().unwrap_or(Path::new("")), name))
}

/// Every artifact written under `root`, its directories created where missing; each file or symlink
/// replaces what is there (see [`Dir::write_file`]). Each directory is resolved once; returns them, by
/// their path relative to the root.
pub fn write_tree<'a>(
    root: &Root,
    artifacts: &'a [Artifact],
) -> anyhow::Result<HashMap<&'a Path, Dir>> {
    let mut dirs: HashMap<&Path, Dir> = HashMap::new();
    for a in artifacts {
        let (parent, name) = split(&a.path)?;
        let dir = match dirs.entry(parent) {
            std::collections::hash_map::Entry::Occupied(d) => d.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(root.dir(parent, true)?.expect("created when missing"))
            }
        };
        match &a.symlink {
            Some(t) => dir.write_symlink(name, t)?,
            None => dir.write_file(name, a.content.as_bytes(), a.mode)?,
        }
    }
    Ok(dirs)
}

/// A reproducible archive: sorted, with parent directories, owner root, mtime 0.
pub fn write_tar(w: impl Write, artifacts: &[Artifact]) -> anyhow::Result<()> {
    let mut b = tar::Builder::new(w);
    let mut dirs = std::collections::BTreeSet::new();
    for a in artifacts {
        let mut p = Path::new(&a.path).parent();
        while let Some(d) = p {
            if d != Path::new("/") {
                dirs.insert(d.to_path_buf());
            }
            p = d.parent();
        }
    }
    let header = |mode: u32, size: u64, kind: tar::EntryType| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        let _ = h.set_username("root");
        let _ = h.set_groupname("root");
        h.set_entry_type(kind);
        h
    };
    for d in &dirs {
        let mut h = header(0o755, 0, tar::EntryType::Directory);
        b.append_data(
            &mut h,
            d.strip_prefix("/").expect("absolute"),
            std::io::empty(),
        )?;
    }
    for a in artifacts {
        let rel = relative(&a.path)?;
        match &a.symlink {
            Some(t) => {
                let mut h = header(0o777, 0, tar::EntryType::Symlink);
                b.append_link(&mut h, rel, t)?;
            }
            None => {
                let mut h = header(a.mode, a.content.len() as u64, tar::EntryType::Regular);
                b.append_data(&mut h, rel, a.content.as_bytes())?;
            }
        }
    }
    b.into_inner()?.flush()?;
    Ok(())
}

/// What is installed at an artifact's path under `root` (its directories resolved inside the root, the
/// file itself not followed): content, mode and symlink target.
fn installed(root: &Root, a: &Artifact) -> anyhow::Result<Option<(String, u32, Option<String>)>> {
    let (parent, name) = split(&a.path)?;
    let Some(dir) = root.dir(parent, false)? else {
        return Ok(None);
    };
    Ok(match dir.read(name)? {
        Entry::Absent => None,
        Entry::Symlink { target } => Some((String::new(), 0o777, Some(target))),
        Entry::File { content, mode } => {
            Some((String::from_utf8_lossy(&content).into_owned(), mode, None))
        }
    })
}

pub fn same_as_installed(root: &Root, a: &Artifact) -> anyhow::Result<bool> {
    Ok(match installed(root, a)? {
        None => false,
        Some((content, mode, link)) => match &a.symlink {
            Some(t) => link.as_deref() == Some(t.as_str()),
            None => link.is_none() && content == a.content && mode == a.mode,
        },
    })
}

/// Unified diff, `a/` = installed, `b/` = rendered; empty when identical.
pub fn diff_against(root: &Root, artifacts: &[Artifact]) -> anyhow::Result<String> {
    let mut out = String::new();
    for a in artifacts {
        let rel = a.path.trim_start_matches('/');
        let (old, old_mode, old_link) = match installed(root, a)? {
            None => (String::new(), None, None),
            Some((c, m, l)) => (c, Some(m), l),
        };
        if let Some(t) = &a.symlink {
            if old_link.as_deref() != Some(t.as_str()) {
                out.push_str(&format!(
                    "symlink {}: {} -> {}\n",
                    a.path,
                    old_link.as_deref().unwrap_or("(none)"),
                    t
                ));
            }
            continue;
        }
        if old_mode.is_some() && old_mode != Some(a.mode) {
            out.push_str(&format!(
                "mode {}: {:04o} -> {:04o}\n",
                a.path,
                old_mode.unwrap_or(0),
                a.mode
            ));
        }
        if old != a.content || old_mode.is_none() {
            let from = if old_mode.is_none() {
                "/dev/null".to_string()
            } else {
                format!("a/{rel}")
            };
            let d = similar::TextDiff::from_lines(&old, &a.content);
            out.push_str(
                &d.unified_diff()
                    .context_radius(3)
                    .header(&from, &format!("b/{rel}"))
                    .to_string(),
            );
        }
    }
    Ok(out)
}
