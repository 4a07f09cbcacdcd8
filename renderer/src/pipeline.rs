//! The whole pure pipeline, for the CLI, the applier and tests:
//! `load` (parse + validate every template) → `node_config` (select + merge) → [`crate::render::render`].
//! [`read_input`] is `load` for the command lines: files and directories in, templates out, with notes
//! on the objects of other kinds it left out and warnings about what Kubernetes would refuse.

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

use crate::error::{Error, FieldError, Result};
use crate::inventory::HostNetwork;
use crate::merge::merge;
use crate::model::check_object_name;
use crate::node::NodeConfig;
use crate::parse::{parse, parse_templates, Loaded};
use crate::select::{selects, Labels};
use crate::validate::validate;

/// Input text and the name to use for it in messages.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

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
    /// What plumber renders but Kubernetes would refuse (a `metadata.name` that is not a Kubernetes
    /// name), one line each.
    pub warnings: Vec<String>,
}

/// [`read_sources`] and [`load`] for the command lines. In a directory, objects of other kinds and
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
    input.warnings = name_warnings(&input.templates);
    Ok(input)
}

/// A warning for every template whose name Kubernetes would refuse.
pub fn name_warnings(templates: &[Loaded]) -> Vec<String> {
    templates
        .iter()
        .filter_map(|t| {
            check_object_name(t.name()).err().map(|message| {
                FieldError {
                    origin: t.origin.clone(),
                    path: "metadata.name".into(),
                    message,
                }
                .to_string()
            })
        })
        .collect()
}

/// Parse and validate every template of every source (objects of other kinds are left out, silently:
/// [`read_input`] says so). Two templates with the same name are an error
/// (they would be the same Kubernetes object). All validation problems are reported together.
pub fn load(sources: &[Source]) -> Result<Vec<Loaded>> {
    let mut all = Vec::new();
    for s in sources {
        all.extend(parse_templates(&s.text, &s.name)?);
    }
    validate_all(all)
}

/// Validates every template, and that their names are unique.
fn validate_all(all: Vec<Loaded>) -> Result<Vec<Loaded>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut seen: BTreeMap<&str, &Loaded> = BTreeMap::new();
    for t in &all {
        if let Some(prev) = seen.insert(t.name(), t) {
            errors.push(FieldError {
                origin: t.origin.clone(),
                path: "metadata.name".into(),
                message: format!(
                    "{} is already the name of the template at {}#{}; a cluster holds one template per name: rename one, or render the files one at a time",
                    crate::escape::printable(t.name()),
                    prev.origin.file,
                    prev.origin.document
                ),
            });
        }
        errors.extend(validate(t));
    }
    if errors.is_empty() {
        Ok(all)
    } else {
        Err(Error::Invalid(errors))
    }
}

/// Select the templates for a node (all of them when `labels` is `None`) and merge them.
pub fn node_config(
    templates: &[Loaded],
    labels: Option<&Labels>,
    inventory: Option<&HostNetwork>,
) -> Result<NodeConfig> {
    let chosen: Vec<&Loaded> = templates
        .iter()
        .filter(|t| labels.is_none_or(|l| selects(t, l)))
        .collect();
    merge(&chosen, inventory)
}

/// Parse, validate, merge and render in one call.
pub fn render_sources(
    sources: &[Source],
    distro: &crate::distro::Distro,
    labels: Option<&Labels>,
    inventory: Option<&HostNetwork>,
) -> Result<Vec<crate::render::Artifact>> {
    let templates = load(sources)?;
    let node = node_config(&templates, labels, inventory)?;
    crate::render::render(&node, distro)
}

/// The `NodeConfig` of one template named `t` whose `spec` is `spec` (YAML indented by two spaces), for
/// tests and examples:
///
/// ```
/// let node = plumber_render::node_config_of_spec("  interfaceConfig:\n    - name: eno1\n      mtu: 9000\n")
///     .unwrap();
/// assert_eq!(node.links["eno1"].mtu, Some(9000));
/// ```
pub fn node_config_of_spec(spec: &str) -> Result<NodeConfig> {
    let text = format!(
        "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: t}}\nspec:\n{spec}"
    );
    let t = load(&[Source {
        name: "t".into(),
        text,
    }])?;
    node_config(&t, None, None)
}
