//! Reading templates from YAML text: multi-document files, `kind: List` (what `kubectl get -o yaml`
//! prints) and single objects. Errors carry the file, the document number and the YAML path.

use serde::de::DeserializeOwned;

use crate::error::{Error, Origin, Result};
use crate::model::{HostNetworkTemplate, API_VERSION, KIND};

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

/// Every template in `text`. `file` names the source in messages (`-` for standard input).
///
/// The text is cut into documents at `---` and `...` lines first (YAML forbids those at the start of a
/// line inside content, block scalars included, so the cut is exact), and the documents are parsed in
/// parallel: a fleet's template repository can hold thousands. Document numbers count the documents
/// that hold something other than comments and blank lines, from 1.
pub fn parse_templates(text: &str, file: &str) -> Result<Vec<Loaded>> {
    use rayon::prelude::*;
    let docs = split_documents(text);
    let parsed: Vec<Result<Vec<Loaded>>> = if docs.len() > 16 {
        docs.par_iter()
            .map(|(n, d)| parse_document(d, file, *n))
            .collect()
    } else {
        docs.iter()
            .map(|(n, d)| parse_document(d, file, *n))
            .collect()
    };
    let mut out = Vec::new();
    for p in parsed {
        out.extend(p?);
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

fn parse_document(text: &str, file: &str, n: usize) -> Result<Vec<Loaded>> {
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
    if value.is_null() {
        return Ok(Vec::new());
    }
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if kind == "List" || kind == "HostNetworkTemplateList" {
        let items = match value.get("items") {
            Some(serde_yaml::Value::Sequence(s)) => s.clone(),
            Some(serde_yaml::Value::Null) | None => Vec::new(),
            Some(_) => return Err(parse_error(&origin, "items", "is not a list".into())),
        };
        items
            .into_iter()
            .enumerate()
            .map(|(j, item)| one_template(item, &origin, &format!("items[{j}]")))
            .collect()
    } else {
        Ok(vec![one_template(value, &origin, "")?])
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
                format!("{} is not {KIND}", crate::escape::printable(other)),
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
            &ONE.replace("kind: HostNetworkTemplate", "kind: HostNetwork"),
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("kind: HostNetwork is not HostNetworkTemplate"),
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
