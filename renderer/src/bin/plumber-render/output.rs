//! Where artifacts go: standard output for review, a directory tree, a tar archive, or a comparison
//! with an installed root.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use plumber_render::render::Artifact;
use plumber_render::Error;

use crate::args::Args;

pub fn emit(args: &Args, artifacts: &[Artifact]) -> anyhow::Result<u8> {
    if let Some(dir) = &args.out {
        write_tree(dir, artifacts)?;
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
        let diff = diff_against(root, artifacts)?;
        print!("{diff}");
        return Ok(if diff.is_empty() { 0 } else { 2 });
    }
    if let Some(root) = &args.check {
        let mut differs = false;
        for a in artifacts {
            if !same_as_installed(root, a)? {
                println!("differs: {}", a.path);
                differs = true;
            }
        }
        return Ok(if differs { 2 } else { 0 });
    }
    print_review(&mut std::io::stdout().lock(), artifacts)?;
    Ok(0)
}

/// Every file with a path header, for a person to read.
pub fn print_review(out: &mut impl Write, artifacts: &[Artifact]) -> std::io::Result<()> {
    if artifacts.is_empty() {
        eprintln!(
            "plumber-render: nothing to render (no template selected, or they configure nothing)"
        );
    }
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

/// `root` + an absolute artifact path, refusing anything that could leave `root`.
pub fn under(root: &Path, path: &str) -> anyhow::Result<PathBuf> {
    let p = Path::new(path);
    let ok = p.is_absolute()
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !ok {
        return Err(Error::Render {
            artifact: path.to_string(),
            message: "unsafe artifact path".into(),
        }
        .into());
    }
    Ok(root.join(p.strip_prefix("/").expect("absolute")))
}

pub fn write_tree(root: &Path, artifacts: &[Artifact]) -> anyhow::Result<()> {
    for a in artifacts {
        let p = under(root, &a.path)?;
        let parent = p.parent().expect("artifact paths have a parent");
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent.display(), e))?;
        if std::fs::symlink_metadata(&p).is_ok() {
            std::fs::remove_file(&p).map_err(|e| Error::io(p.display(), e))?;
        }
        match &a.symlink {
            Some(t) => std::os::unix::fs::symlink(t, &p).map_err(|e| Error::io(p.display(), e))?,
            None => {
                std::fs::write(&p, &a.content).map_err(|e| Error::io(p.display(), e))?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(a.mode))
                    .map_err(|e| Error::io(p.display(), e))?;
            }
        }
    }
    Ok(())
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
        under(Path::new("/"), &a.path)?;
        let rel = Path::new(&a.path).strip_prefix("/").expect("absolute");
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

fn installed(root: &Path, a: &Artifact) -> anyhow::Result<Option<(String, u32, Option<String>)>> {
    let p = under(root, &a.path)?;
    match std::fs::symlink_metadata(&p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(p.display(), e).into()),
        Ok(m) if m.file_type().is_symlink() => {
            let t = std::fs::read_link(&p).map_err(|e| Error::io(p.display(), e))?;
            Ok(Some((String::new(), 0o777, Some(t.display().to_string()))))
        }
        Ok(m) => {
            let bytes = std::fs::read(&p).map_err(|e| Error::io(p.display(), e))?;
            Ok(Some((
                String::from_utf8_lossy(&bytes).into_owned(),
                m.permissions().mode() & 0o7777,
                None,
            )))
        }
    }
}

pub fn same_as_installed(root: &Path, a: &Artifact) -> anyhow::Result<bool> {
    Ok(match installed(root, a)? {
        None => false,
        Some((content, mode, link)) => match &a.symlink {
            Some(t) => link.as_deref() == Some(t.as_str()),
            None => link.is_none() && content == a.content && mode == a.mode,
        },
    })
}

/// Unified diff, `a/` = installed, `b/` = rendered; empty when identical.
pub fn diff_against(root: &Path, artifacts: &[Artifact]) -> anyhow::Result<String> {
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
