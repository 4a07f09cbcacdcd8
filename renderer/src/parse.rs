//! Reading templates from YAML text: multi-document files, `kind: List` (what `kubectl get -o yaml`
//! prints) and single objects. Errors carry the file, the document number and the YAML path.
//!
//! Objects of other kinds (a ConfigMap, a `Kustomization`, a node's `HostNetwork`) are left out and
//! listed ([`Skipped`]), so a directory of manifests can be given as it is. An object that claims to be
//! a template (`kind: HostNetworkTemplate`), one of plumber's API group whose kind plumber does not
//! know (a misspelt kind), or one with no `kind` at all stays an error: it is most likely a broken
//! template.

use serde::de::DeserializeOwned;

use crate::error::{Error, Origin, Result};
use crate::model::{HostNetworkTemplate, API_VERSION, KIND};

/// plumber's API group, as the start of an `apiVersion`.
const GROUP: &str = "plumber.k8s.pf9.io/";
/// The kinds of plumber's API group besides [`KIND`]: skipped like any other kind.
const OTHER_KINDS: &[&str] = &["HostNetwork"];

/// A template with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub origin: Origin,
    pub template: HostNetworkTemplate,
}

impl Loaded {
    pub fn name(&self) -> &str {
        &self.template.metadata.name
    }
}

/// An object of another kind than `HostNetworkTemplate`, left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: String,
    pub document: usize,
    /// `items[3]` for an item of a `List`, else empty.
    pub item: String,
    pub kind: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.file, self.document)?;
        if !self.item.is_empty() {
            write!(f, " {}", self.item)?;
        }
        write!(
            f,
            ": kind {} is not a {KIND}; skipped",
            crate::escape::printable(&self.kind)
        )
    }
}

/// The templates of a text, and the objects of other kinds in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub templates: Vec<Loaded>,
    pub skipped: Vec<Skipped>,
}

/// Every template in `text` (objects of other kinds are left out; [`parse`] lists them). `file` names
/// the source in messages (`-` for standard input).
pub fn parse_templates(text: &str, file: &str) -> Result<Vec<Loaded>> {
    Ok(parse(text, file)?.templates)
}

/// Every template in `text`, and every object of another kind, in order. `file` names the source in
/// messages (`-` for standard input).
///
/// The text is cut into documents at `---` and `...` lines first (YAML forbids those at the start of a
/// line inside content, block scalars included, so the cut is exact), and the documents are parsed in
/// parallel: a fleet's template repository can hold thousands. Document numbers count the documents
/// that hold something other than comments and blank lines, from 1.
pub fn parse(text: &str, file: &str) -> Result<Parsed> {
    use rayon::prelude::*;
    let docs = split_documents(text);
    let parsed: Vec<Result<Parsed>> = if docs.len() > 16 {
        docs.par_iter()
            .map(|(n, d)| parse_document(d, file, *n))
            .collect()
    } else {
        docs.iter()
            .map(|(n, d)| parse_document(d, file, *n))
            .collect()
    };
    let mut out = Parsed::default();
    for p in parsed {
        let p = p?;
        out.templates.extend(p.templates);
        out.skipped.extend(p.skipped);
    }
    Ok(out)
}

/// `(document number, text)` for each YAML document of a stream.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    fn push<'t>(docs: &mut Vec<(usize, &'t str)>, chunk: &'t str) {
        let blank = chunk.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        });
        if !blank {
            let n = docs.len() + 1;
            docs.push((n, chunk));
        }
    }
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        let marker = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let end = bare == "...";
        if marker || end {
            push(&mut docs, &text[start..pos]);
            // `--- {content}` keeps its content for the next document.
            start = if marker { pos + 3 } else { pos + line.len() };
        }
        pos += line.len();
    }
    push(&mut docs, &text[start..]);
    docs
}

fn parse_document(text: &str, file: &str, n: usize) -> Result<Parsed> {
    let origin = Origin {
        file: file.to_string(),
        document: n,
        template: None,
    };
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| parse_error(&origin, "", e.to_string()))?;
    value
        .apply_merge()
        .map_err(|e| parse_error(&origin, "", e.to_string()))?;
    let mut out = Parsed::default();
    if value.is_null() {
        return Ok(out);
    }
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if kind == "List" || kind == "HostNetworkTemplateList" {
        let items = match value.get("items") {
            Some(serde_yaml::Value::Sequence(s)) => s.clone(),
            Some(serde_yaml::Value::Null) | None => Vec::new(),
            Some(_) => return Err(parse_error(&origin, "items", "is not a list".into())),
        };
        for (j, item) in items.into_iter().enumerate() {
            let prefix = format!("items[{j}]");
            match other_kind(&item) {
                Some(kind) => out.skipped.push(skipped(&origin, prefix, kind)),
                None => out.templates.push(one_template(item, &origin, &prefix)?),
            }
        }
    } else {
        match other_kind(&value) {
            Some(kind) => out.skipped.push(skipped(&origin, String::new(), kind)),
            None => out.templates.push(one_template(value, &origin, "")?),
        }
    }
    Ok(out)
}

/// The kind of an object that is not a template and does not claim to be one: its `kind` is a string
/// other than [`KIND`], and its `apiVersion` is not plumber's group unless the kind is one of the
/// group's [`OTHER_KINDS`]. `None` for everything else, which is then read as a template (and refused
/// when it is not one).
fn other_kind(value: &serde_yaml::Value) -> Option<&str> {
    let kind = value.get("kind")?.as_str()?;
    let api = value
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let ours = api.starts_with(GROUP);
    (kind != KIND && (!ours || OTHER_KINDS.contains(&kind))).then_some(kind)
}

fn skipped(origin: &Origin, item: String, kind: &str) -> Skipped {
    Skipped {
        file: origin.file.clone(),
        document: origin.document,
        item,
        kind: kind.to_string(),
    }
}

fn one_template(value: serde_yaml::Value, origin: &Origin, prefix: &str) -> Result<Loaded> {
    let mut origin = origin.clone();
    origin.template = value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string);
    let join = |p: &str| -> String {
        match (prefix.is_empty(), p.is_empty()) {
            (true, _) => p.to_string(),
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{p}"),
        }
    };
    match value.get("apiVersion").and_then(|v| v.as_str()) {
        Some(API_VERSION) => {}
        Some(other) => {
            return Err(parse_error(
                &origin,
                &join("apiVersion"),
                format!("{} is not {API_VERSION}", crate::escape::printable(other)),
            ))
        }
        None => {
            return Err(parse_error(
                &origin,
                &join("apiVersion"),
                "is missing".into(),
            ))
        }
    }
    match value.get("kind").and_then(|v| v.as_str()) {
        Some(KIND) => {}
        Some(other) => {
            return Err(parse_error(
                &origin,
                &join("kind"),
                format!(
                    "{} is not {KIND} nor another kind of {GROUP}; write kind: {KIND}",
                    crate::escape::printable(other)
                ),
            ))
        }
        None => return Err(parse_error(&origin, &join("kind"), "is missing".into())),
    }
    let template: HostNetworkTemplate = from_value(value, &origin, prefix)?;
    Ok(Loaded { origin, template })
}

/// Deserialize with the YAML path of the first bad value in the error.
pub fn from_value<T: DeserializeOwned>(
    value: serde_yaml::Value,
    origin: &Origin,
    prefix: &str,
) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let full = match (prefix.is_empty(), path.is_empty()) {
            (true, _) => path,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{path}"),
        };
        parse_error(origin, &full, e.into_inner().to_string())
    })
}

fn parse_error(origin: &Origin, path: &str, message: String) -> Error {
    Error::Parse {
        origin: origin.clone(),
        path: if path.is_empty() {
            String::new()
        } else {
            format!("{path}: ")
        },
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata:\n  name: a\nspec:\n  interfaceConfig:\n    - name: eno2\n      vlan:\n        - id: 1\n        - id: 2\n        - id: 5000\n";

    #[test]
    fn path_and_value_in_errors() {
        let e = parse_templates(ONE, "x.yaml").unwrap_err().to_string();
        assert_eq!(
            e,
            "x.yaml#1 (a): spec.interfaceConfig[0].vlan[2].id: 5000 is not in 1..=4094"
        );
    }

    #[test]
    fn unknown_fields_are_errors() {
        let e = parse_templates(&ONE.replace("vlan:", "vlans:"), "x.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("spec.interfaceConfig[0].vlans: unknown field `vlans`, expected one of"),
            "{e}"
        );
    }

    #[test]
    fn lists_and_multi_documents() {
        let ok = ONE.replace("5000", "3");
        let two = format!("{ok}---\n{}", ok.replace("name: a", "name: b"));
        assert_eq!(parse_templates(&two, "x").unwrap().len(), 2);
        let list = format!(
            "apiVersion: v1\nkind: List\nitems:\n{}",
            ok.lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
                .replacen("  apiVersion", "- apiVersion", 1)
        );
        let got = parse_templates(&list, "x").unwrap();
        assert_eq!(got.len(), 1);
        let bad = list.replace("id: 3", "id: 0");
        let e = parse_templates(&bad, "x").unwrap_err().to_string();
        assert!(
            e.contains("items[0].spec.interfaceConfig[0].vlan[2].id: 0 is not in"),
            "{e}"
        );
    }

    #[test]
    fn wrong_kind_or_version() {
        let e = parse_templates(
            &ONE.replace("kind: HostNetworkTemplate", "kind: HostNetworkTemplates"),
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("kind: HostNetworkTemplates is not HostNetworkTemplate nor another kind of plumber.k8s.pf9.io/; write kind: HostNetworkTemplate"),
            "{e}"
        );
        let e = parse_templates(&ONE.replace("/v1", "/v2"), "x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("apiVersion: plumber.k8s.pf9.io/v2 is not"),
            "{e}"
        );
    }

    #[test]
    fn other_kinds_are_skipped_and_listed() {
        let ok = ONE.replace("5000", "3");
        let text = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n---\n{ok}---\napiVersion: v1\nkind: List\nitems:\n  - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c}}}}\n---\napiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetwork\nmetadata: {{name: node-1}}\n"
        );
        let p = parse(&text, "d/x.yaml").unwrap();
        assert_eq!(p.templates.len(), 1);
        assert_eq!(p.templates[0].origin.document, 2);
        let lines: Vec<String> = p.skipped.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            lines,
            [
                "d/x.yaml#1: kind Kustomization is not a HostNetworkTemplate; skipped",
                "d/x.yaml#3 items[0]: kind ConfigMap is not a HostNetworkTemplate; skipped",
                "d/x.yaml#4: kind HostNetwork is not a HostNetworkTemplate; skipped",
            ]
        );
    }

    #[test]
    fn what_claims_to_be_a_template_or_has_no_kind_stays_an_error() {
        let cases = [
            // our kind, another group
            (
                ONE.replace("/v1", "/v2"),
                "apiVersion: plumber.k8s.pf9.io/v2 is not",
            ),
            (
                ONE.replace("plumber.k8s.pf9.io/v1", "v1"),
                "apiVersion: v1 is not",
            ),
            // our group, a kind it does not have
            (
                ONE.replace("kind: HostNetworkTemplate", "kind: hostnetworktemplate"),
                "kind: hostnetworktemplate is not",
            ),
            // no kind, no apiVersion
            (
                ONE.replace("kind: HostNetworkTemplate\n", ""),
                "kind: is missing",
            ),
            (
                "metadata: {name: a}\nspec: {}\n".to_string(),
                "apiVersion: is missing",
            ),
            // a kind that is not a string
            (
                ONE.replace("kind: HostNetworkTemplate", "kind: [a]"),
                "kind: is missing",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text, "x").unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn documents_are_cut_at_markers_only() {
        let d = |t: &str| {
            split_documents(t)
                .into_iter()
                .map(|(n, s)| (n, s.trim().to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            d("a: 1\n---\nb: 2\n"),
            vec![(1, "a: 1".into()), (2, "b: 2".into())]
        );
        assert_eq!(d("# c\n---\na: 1\n"), vec![(1, "a: 1".into())]);
        assert_eq!(
            d("--- {a: 1}\n--- {b: 2}\n"),
            vec![(1, "{a: 1}".into()), (2, "{b: 2}".into())]
        );
        assert_eq!(
            d("a: |\n  ---x\n  --- y\nb: 1\n"),
            vec![(1, "a: |\n  ---x\n  --- y\nb: 1".into())]
        );
        assert_eq!(d("a: 1\n...\n---\nb: 2\n").len(), 2);
        assert_eq!(d("").len(), 0);
        assert_eq!(d("a: 1\n----\n").len(), 1);
    }

    #[test]
    fn garbage_does_not_panic() {
        for s in [
            "",
            "---",
            "[",
            "{a: [}",
            "- 1\n- 2",
            "apiVersion: 3",
            "\u{0}",
            "a: &x [*x]",
            "!!binary x",
        ] {
            let _ = parse_templates(s, "x");
        }
    }
}
