//! The whole pure pipeline, for the CLI, the applier and tests:
//! `load` (parse + validate every template) → `node_config` (select + merge) → [`crate::render::render`].
//! Nothing here reads a file: the command lines' reading of files, directories and standard input is
//! [`crate::sources`].

use std::collections::BTreeMap;

use crate::error::{Error, FieldError, Result};
use crate::inventory::HostNetwork;
use crate::merge::merge;
use crate::model::check_object_name;
use crate::node::NodeConfig;
use crate::parse::{parse_templates, Loaded};
use crate::select::{selects, Labels};
use crate::validate::validate;

/// Input text and the name to use for it in messages.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// What plumber renders but would rather not, one line each: a template name Kubernetes would refuse,
/// an SR-IOV entry that names its PF in more than one way ([`crate::validate::ignored_selectors`]).
pub fn warnings(templates: &[Loaded]) -> Vec<String> {
    let mut out = Vec::new();
    for t in templates {
        if let Err(message) = check_object_name(t.name()) {
            out.push(
                FieldError {
                    origin: t.origin.clone(),
                    path: "metadata.name".into(),
                    message,
                }
                .to_string(),
            );
        }
        out.extend(
            crate::validate::ignored_selectors(t)
                .iter()
                .map(ToString::to_string),
        );
    }
    out
}

/// Parse and validate every template of every source (objects of other kinds are left out, silently:
/// [`crate::sources::read_input`] says so). Two templates with the same name are an error
/// (they would be the same Kubernetes object). All validation problems are reported together.
pub fn load(sources: &[Source]) -> Result<Vec<Loaded>> {
    let mut all = Vec::new();
    for s in sources {
        all.extend(parse_templates(&s.text, &s.name)?);
    }
    validate_all(all)
}

/// Validates every template, and that their names are unique.
pub(crate) fn validate_all(all: Vec<Loaded>) -> Result<Vec<Loaded>> {
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
