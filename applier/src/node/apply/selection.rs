//! The guard against a selection mistake: what an apply lets go of is shown in its plan ([`LetGo`]),
//! and from the command line letting go of a template must be asked for ([`Prune`]).
//!
//! The agent prunes: in a cluster the selected templates are the whole truth. A person at a shell can
//! mistype a label or give the wrong file, and the apply would then let go of everything earlier applies
//! made. So, unless pruning is allowed, an apply is refused before any change when it drops a template
//! the last successful apply applied, or when it selects no template at all while it would let go of
//! something. An entry removed from a template that is still selected is desired state and goes through.
//!
//! The templates applied are kept in the state directory (`templates.json`), for each half, since
//! `--files-only` and `--runtime-only` apply one:
//!
//! ```json
//! {"files": ["net"], "runtime": ["net"]}
//! ```
//!
//! A state directory from before this record has the templates of `last-apply.json` when it records a
//! success.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use plumber_render::parse::Loaded;
use plumber_render::select::{selects, Labels};
use serde::{Deserialize, Serialize};

use super::record::{self, Outcome};
use super::{NodePlan, Scope};
use crate::node::install::fsutil;
use crate::node::ovs::OvsOp;
use crate::node::plan::Op;
use crate::node::{Error, Result};

const FILE: &str = "templates.json";

/// Whether an apply may let go of templates it no longer selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prune {
    /// Let go of whatever no selected template names (the agent; `plumber apply --prune`).
    Allowed,
    /// Refuse an apply that drops a template applied before, or that selects nothing while it would
    /// let go of something (`plumber apply` without `--prune`).
    Guarded,
}

/// The templates the last successful apply applied, for the files and for the runtime.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AppliedTemplates {
    #[serde(default)]
    files: BTreeSet<String>,
    #[serde(default)]
    runtime: BTreeSet<String>,
}

impl AppliedTemplates {
    /// The templates applied to the halves `scope` changes.
    pub(crate) fn in_scope(&self, scope: Scope) -> BTreeSet<&str> {
        let files = self.files.iter().filter(|_| scope.files());
        let runtime = self.runtime.iter().filter(|_| scope.runtime());
        files.chain(runtime).map(String::as_str).collect()
    }

    /// The record after `names` were applied to the halves `scope` changes.
    pub(crate) fn after(&self, scope: Scope, names: &[String]) -> AppliedTemplates {
        let names: BTreeSet<String> = names.iter().cloned().collect();
        AppliedTemplates {
            files: if scope.files() {
                names.clone()
            } else {
                self.files.clone()
            },
            runtime: if scope.runtime() {
                names
            } else {
                self.runtime.clone()
            },
        }
    }
}

/// The record in `state_dir`: `templates.json`, else the templates of a successful `last-apply.json`,
/// else none. A damaged record is reported and read as none.
pub(crate) fn read(state_dir: &Path) -> AppliedTemplates {
    let path = state_dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            eprintln!(
                "plumber: {}: {e}; ignoring it (the templates applied before are not known)",
                path.display()
            );
            AppliedTemplates::default()
        }),
        Err(_) => match record::read(state_dir) {
            Some(r) if matches!(r.result, Outcome::Applied | Outcome::Unchanged) => {
                let names: BTreeSet<String> = r.templates.into_iter().map(|t| t.name).collect();
                AppliedTemplates {
                    files: names.clone(),
                    runtime: names,
                }
            }
            _ => AppliedTemplates::default(),
        },
    }
}

/// Writes `applied` to `state_dir` atomically, unless it is there already.
pub(crate) fn write(state_dir: &Path, applied: &AppliedTemplates) -> Result<()> {
    let path = state_dir.join(FILE);
    if path.exists() && read(state_dir) == *applied {
        return Ok(());
    }
    fsutil::create_dir_all(state_dir, true)?;
    let mut text = serde_json::to_string(applied).expect("templates serialize");
    text.push('\n');
    fsutil::atomic_write(&path, text.as_bytes(), 0o644)
}

/// Gives the templates applied before, as [`read`] found them, their own `templates.json` when they
/// came from `last-apply.json` (a state directory from before `templates.json`), before this apply's
/// record replaces it. Nothing to write when `templates.json` is there (that is what `applied` was read
/// from) or when nothing was applied before (an absent file reads as none).
pub(crate) fn keep(state_dir: &Path, applied: &AppliedTemplates) -> Result<()> {
    if state_dir.join(FILE).exists() || *applied == AppliedTemplates::default() {
        return Ok(());
    }
    write(state_dir, applied)
}

/// What an apply lets go of: templates it no longer selects, and what plumber made earlier that no
/// selected template names any more (whether a template was dropped or an entry of one).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LetGo {
    /// Templates the last successful apply applied that are not selected now.
    pub(crate) templates: Vec<String>,
    /// Files plumber installed that are no longer rendered (removals among the plan's `files`).
    pub(crate) files: Vec<String>,
    /// The link, address and route ops that let go: the last ones of the plan's `links`.
    pub(crate) links: Vec<Op>,
    /// The OVS ops that let go: the last ones of the plan's `ovs`.
    pub(crate) ovs: Vec<OvsOp>,
    /// The steps that give NICs plumber bound to vfio-pci back to their old driver: the last ones of
    /// the plan's SR-IOV stage.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) nics: Vec<String>,
}

impl LetGo {
    /// Whether anything on the node would be let go (files or runtime).
    fn changes_node(&self) -> bool {
        !self.files.is_empty()
            || !self.links.is_empty()
            || !self.ovs.is_empty()
            || !self.nics.is_empty()
    }

    /// One line per thing let go, templates first.
    fn lines(&self) -> Vec<String> {
        let templates = self
            .templates
            .iter()
            .map(|t| format!("template {t} (applied before, not selected now)"));
        let files = self.files.iter().map(|p| format!("file: remove {p}"));
        let links = self.links.iter().map(|o| format!("link: {o}"));
        let ovs = self.ovs.iter().map(|o| format!("ovs: {o}"));
        let nics = self.nics.iter().map(|s| format!("sriov: {s}"));
        templates
            .chain(files)
            .chain(nics)
            .chain(links)
            .chain(ovs)
            .collect()
    }
}

/// Whether `plan` may go ahead: always with [`Prune::Allowed`]; otherwise not when it drops a template
/// applied before or selects none while it lets go of something. The refusal says which templates did
/// not select the node and why (their `nodeSelector` against `labels`), what would be let go, and how
/// to go on.
pub fn check(
    prune: Prune,
    plan: &NodePlan,
    templates: &[Loaded],
    labels: Option<&Labels>,
) -> Result<()> {
    let let_go = &plan.let_go;
    let none_selected = plan.templates.is_empty();
    if prune == Prune::Allowed
        || (let_go.templates.is_empty() && !(none_selected && let_go.changes_node()))
    {
        return Ok(());
    }
    let mut m = String::from("refusing to let go of what earlier applies made without --prune: ");
    if none_selected {
        m += "no template selects this node";
        match labels {
            Some(l) => {
                let _ = write!(m, " (labels {})", pairs(l.iter()));
            }
            None => m += " (no --node-labels: every template given is used)",
        }
        if templates.is_empty() {
            m += "; the files given hold no templates";
        }
        for t in templates {
            m += "\n  ";
            m += &unselected(t, labels);
        }
    } else {
        let _ = write!(
            m,
            "{} {} applied before and not selected now (selected: {})",
            if let_go.templates.len() == 1 {
                "template"
            } else {
                "templates"
            },
            let_go.templates.join(", "),
            plan.templates.join(", ")
        );
        for name in &let_go.templates {
            m += "\n  ";
            match templates.iter().find(|t| t.name() == name) {
                Some(t) => m += &unselected(t, labels),
                None => {
                    let _ = write!(m, "template {name}: not in the files given");
                }
            }
        }
    }
    m += "\nthis apply would let go of:";
    for l in let_go.lines() {
        m += "\n  ";
        m += &l;
    }
    m += "\nnothing was changed: pass --prune to let go of these, or give the --node-labels or template \
          files that select this node";
    Err(Error::LetGo(m))
}

/// Why template `t` does not select a node with `labels`: its `nodeSelector` and the pairs that differ.
fn unselected(t: &Loaded, labels: Option<&Labels>) -> String {
    let selector = &t.template.spec.node_selector;
    let name = t.name();
    let Some(labels) = labels.filter(|l| !selects(t, l)) else {
        // Selected by the labels, so dropped for another reason (not given, or no --node-labels).
        return format!("template {name}: nodeSelector {}", pairs(selector.iter()));
    };
    let why: Vec<String> = selector
        .iter()
        .filter(|(k, v)| labels.get(*k) != Some(v))
        .map(|(k, v)| match labels.get(k) {
            Some(have) => format!("{k} is {have:?}, not {v:?}"),
            None => format!("no label {k}"),
        })
        .collect();
    format!(
        "template {name}: nodeSelector {} does not match ({})",
        pairs(selector.iter()),
        why.join(", ")
    )
}

/// `k=v, k2=v2`, or `(none)`.
fn pairs<'a>(it: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let v: Vec<String> = it.map(|(k, v)| format!("{k}={v}")).collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumber_render::parse::parse_templates;
    use plumber_render::select::parse_labels;

    fn loaded(specs: &[(&str, &str)]) -> Vec<Loaded> {
        let mut text = String::new();
        for (name, selector) in specs {
            let _ = write!(
                text,
                "---\napiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: {name}}}\nspec:\n  nodeSelector: {selector}\n"
            );
        }
        parse_templates(&text, "t.yaml").unwrap()
    }

    fn plan(selected: &[&str], dropped: &[&str], let_go: LetGo) -> NodePlan {
        NodePlan {
            distro: "ubuntu".into(),
            templates: selected.iter().map(|s| s.to_string()).collect(),
            files: vec![],
            sriov: vec![],
            links: let_go.links.clone(),
            ovs: let_go.ovs.clone(),
            let_go: LetGo {
                templates: dropped.iter().map(|s| s.to_string()).collect(),
                ..let_go
            },
            guard: vec![],
            skipped: vec![],
        }
    }

    fn bridge_gone() -> LetGo {
        LetGo {
            files: vec!["/etc/netplan/60-plumber.yaml".into()],
            links: vec![Op::DelAddress {
                link: "a0".into(),
                cidr: plumber_render::model::IpCidr::parse("10.9.0.2/24").unwrap(),
                flushed: vec![],
            }],
            ..LetGo::default()
        }
    }

    fn refusal(r: Result<()>) -> String {
        match r {
            Err(Error::LetGo(m)) => m,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_typo_in_the_labels_is_refused_naming_the_selectors_and_what_would_go() {
        let ts = loaded(&[
            ("net", "{node-role.kubernetes.io/worker: \"\"}"),
            ("rack", "{rack: r1, zone: a}"),
        ]);
        let labels = parse_labels("node-role.kubernetes.io/wroker=,rack=r2").unwrap();
        let p = plan(&[], &["net"], bridge_gone());
        let m = refusal(check(Prune::Guarded, &p, &ts, Some(&labels)));
        assert_eq!(
            m,
            "refusing to let go of what earlier applies made without --prune: no template selects this node (labels node-role.kubernetes.io/wroker=, rack=r2)
  template net: nodeSelector node-role.kubernetes.io/worker= does not match (no label node-role.kubernetes.io/worker)
  template rack: nodeSelector rack=r1, zone=a does not match (rack is \"r2\", not \"r1\", no label zone)
this apply would let go of:
  template net (applied before, not selected now)
  file: remove /etc/netplan/60-plumber.yaml
  link: remove address 10.9.0.2/24 from a0
nothing was changed: pass --prune to let go of these, or give the --node-labels or template files that select this node"
        );
        // --prune (and the agent) let go.
        assert!(check(Prune::Allowed, &p, &ts, Some(&labels)).is_ok());
    }

    #[test]
    fn an_empty_file_or_another_file_is_refused() {
        // No templates at all.
        let p = plan(&[], &["net"], bridge_gone());
        let m = refusal(check(Prune::Guarded, &p, &[], None));
        assert!(
            m.contains("no template selects this node (no --node-labels: every template given is used); the files given hold no templates"),
            "{m}"
        );
        // Another template: `net` is not among those given.
        let ts = loaded(&[("other", "{}")]);
        let p = plan(&["other"], &["net"], bridge_gone());
        let m = refusal(check(Prune::Guarded, &p, &ts, None));
        assert!(
            m.starts_with("refusing to let go of what earlier applies made without --prune: template net applied before and not selected now (selected: other)\n  template net: not in the files given\n"),
            "{m}"
        );
        assert!(
            m.contains("  link: remove address 10.9.0.2/24 from a0\n"),
            "{m}"
        );
    }

    #[test]
    fn edits_inside_a_selected_template_and_first_applies_go_through() {
        let ts = loaded(&[("net", "{}")]);
        // `net` still selected, an entry of it dropped: desired state.
        assert!(check(
            Prune::Guarded,
            &plan(&["net"], &[], bridge_gone()),
            &ts,
            None
        )
        .is_ok());
        // Nothing selected and nothing to let go (a first apply with a typo): nothing happens anyway.
        assert!(check(Prune::Guarded, &plan(&[], &[], LetGo::default()), &[], None).is_ok());
        // Nothing selected, no record of the templates (an older state directory), but plumber's
        // objects would go: refused.
        let m = refusal(check(
            Prune::Guarded,
            &plan(&[], &[], bridge_gone()),
            &ts,
            Some(&parse_labels("").unwrap()),
        ));
        assert!(
            m.contains("no template selects this node (labels (none))"),
            "{m}"
        );
        // A template dropped with nothing else to let go is still a dropped template.
        let m = refusal(check(
            Prune::Guarded,
            &plan(&["net"], &["old"], LetGo::default()),
            &ts,
            None,
        ));
        assert!(
            m.contains("this apply would let go of:\n  template old (applied before, not selected now)\nnothing was changed"),
            "{m}"
        );
    }

    #[test]
    fn the_record_keeps_each_half_and_reads_an_older_state_directory() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        assert_eq!(read(state), AppliedTemplates::default());
        // Before templates.json: a successful last-apply.json names them; a refused one does not.
        let mut r = applied_net();
        record::write(state, &r).unwrap();
        let old = read(state);
        assert_eq!(old.in_scope(Scope::All), BTreeSet::from(["net"]));
        r.result = Outcome::Refused;
        record::write(state, &r).unwrap();
        assert_eq!(read(state), AppliedTemplates::default());

        write(state, &old).unwrap();
        let files_only = read(state).after(Scope::Files, &["image".to_string()]);
        write(state, &files_only).unwrap();
        assert_eq!(read(state), files_only);
        assert_eq!(files_only.in_scope(Scope::Files), BTreeSet::from(["image"]));
        assert_eq!(files_only.in_scope(Scope::Runtime), BTreeSet::from(["net"]));
        assert_eq!(
            files_only.in_scope(Scope::All),
            BTreeSet::from(["image", "net"])
        );
        std::fs::write(state.join(FILE), "{").unwrap();
        assert_eq!(read(state), AppliedTemplates::default());
    }

    /// The record of an apply that applied the template `net`.
    fn applied_net() -> record::Record {
        record::Record {
            templates: vec![plumber_render::node::TemplateRef {
                name: "net".into(),
                priority: 0,
                generation: None,
            }],
            ..record::Record::new(Outcome::Applied, 1)
        }
    }

    #[test]
    fn keep_writes_only_what_last_apply_json_alone_holds() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        // A fresh state directory: nothing applied before, nothing to write.
        keep(state, &read(state)).unwrap();
        assert!(!state.join(FILE).exists());
        // A state directory from before templates.json: the successful record's templates get theirs.
        let r = applied_net();
        record::write(state, &r).unwrap();
        let before = read(state);
        keep(state, &before).unwrap();
        assert!(state.join(FILE).exists());
        std::fs::remove_file(state.join(record::RECORD)).unwrap();
        assert_eq!(read(state), before);
        // templates.json there: it is what was read, and it is left as it is.
        let other = before.after(Scope::All, &["other".to_string()]);
        keep(state, &other).unwrap();
        assert_eq!(read(state), before);
    }
}
