//! Reading templates for the command lines (`plumber-render`, `plumber apply`): files, directories and
//! standard input in, [`Source`]s or checked templates out, with notes on what was left out. The only
//! part of the pipeline that reads anything; the rest ([`crate::pipeline`]) is pure.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::parse::{parse, Loaded};
use crate::pipeline::{validate_all, warnings, Source};

/// The files kustomize reads in a directory: never templates, and often without `kind`.
const KUSTOMIZE_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Read template sources: files, directories (every `*.yaml`/`*.yml` inside, sorted, but kustomize's
/// `kustomization.yaml`) or `-` for standard input. Used by `plumber-render` and `plumber apply`.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<Source>> {
    Ok(read_tagged(paths)?
        .into_iter()
        .filter_map(|(s, how)| (how != Found::Kustomize).then_some(s))
        .collect())
}

/// How a source was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// Named on the command line (or `-`): it must hold a template.
    Named,
    /// A `*.yaml` of a directory: it may hold other objects only.
    InDirectory,
    /// kustomize's file in a directory: left out, unread (its text is empty).
    Kustomize,
}

fn read_tagged(paths: &[PathBuf]) -> Result<Vec<(Source, Found)>> {
    use std::io::Read;
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|text| Source {
                name: p.display().to_string(),
                text,
            })
            .map_err(|e| Error::io(p.display(), e))
    };
    let mut out = Vec::new();
    for f in paths {
        if f.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::io("-", e))?;
            let name = "-".into();
            out.push((Source { name, text }, Found::Named));
        } else if f.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(f)
                .map_err(|e| Error::io(f.display(), e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            entries.sort();
            for p in entries {
                if p.file_name()
                    .is_some_and(|n| KUSTOMIZE_FILES.iter().any(|k| n == *k))
                {
                    let name = p.display().to_string();
                    let text = String::new();
                    out.push((Source { name, text }, Found::Kustomize));
                } else {
                    out.push((read(&p)?, Found::InDirectory));
                }
            }
        } else {
            out.push((read(f)?, Found::Named));
        }
    }
    Ok(out)
}

/// The templates of the command line's files and directories, and what to tell the user about them.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub templates: Vec<Loaded>,
    /// One line per object or file left out:
    /// `templates/cm.yaml#1: kind ConfigMap is not a HostNetworkTemplate; skipped`.
    pub notes: Vec<String>,
    /// What plumber renders but would rather not ([`crate::pipeline::warnings`]), one line each.
    pub warnings: Vec<String>,
}

/// [`read_sources`] and [`load`](crate::pipeline::load) for the command lines. In a directory, objects of other kinds and
/// kustomize's file are left out with a note; a file named on the command line that holds objects but
/// no template is an error (the wrong file, most likely); an empty one holds no template, and is fine. Template names that Kubernetes would refuse are
/// warnings, not errors: HostPlumber's own examples have such names.
pub fn read_input(paths: &[PathBuf]) -> Result<Input> {
    let mut input = Input::default();
    let mut all = Vec::new();
    for (s, found) in read_tagged(paths)? {
        if found == Found::Kustomize {
            input
                .notes
                .push(format!("{}: kustomize's file; skipped", s.name));
            continue;
        }
        let p = parse(&s.text, &s.name)?;
        // An empty file (or `kind: List` with no items) holds no template and nothing else: no
        // templates given, which `plumber apply --prune` uses to let go of everything.
        if found == Found::Named && p.templates.is_empty() && !p.skipped.is_empty() {
            let what: Vec<String> = p
                .skipped
                .iter()
                .map(|k| {
                    let item = if k.item.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", k.item)
                    };
                    let kind = crate::escape::printable(&k.kind);
                    format!("#{}{item} is a {kind}", k.document)
                })
                .collect();
            return Err(Error::Usage(format!(
                "{}: holds no {} ({}); name files of templates (in a directory, objects of other kinds are skipped)",
                s.name,
                crate::model::KIND,
                what.join(", ")
            )));
        }
        input.notes.extend(p.skipped.iter().map(|k| k.to_string()));
        all.extend(p.templates);
    }
    input.templates = validate_all(all)?;
    input.warnings = warnings(&input.templates);
    Ok(input)
}
