//! `nodeSelector`: which templates apply to a node.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::parse::Loaded;

/// Node labels, as `kubectl get node -o yaml` shows them.
pub type Labels = BTreeMap<String, String>;

/// A template applies when every `nodeSelector` pair is among the node's labels; an empty selector
/// applies everywhere (as in HostPlumber).
pub fn selects(t: &Loaded, labels: &Labels) -> bool {
    matches(&t.template.spec.node_selector, labels)
}

/// The rule itself, on a selector alone (the agent and the rollup read selectors without the rest of
/// a template): every pair among `labels`; empty matches every node.
pub fn matches(selector: &Labels, labels: &Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Which templates select a node, without testing every template against every node: each template is
/// filed under one of its selector pairs (or as "selects everything"), so a node only tests the templates
/// filed under its own labels. Fleet mode with one template per node stays linear instead of quadratic.
pub struct SelectorIndex {
    everywhere: Vec<usize>,
    by_pair: BTreeMap<(String, String), Vec<usize>>,
}

impl SelectorIndex {
    pub fn new(templates: &[Loaded]) -> Self {
        let mut everywhere = Vec::new();
        let mut by_pair: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, t) in templates.iter().enumerate() {
            match t.template.spec.node_selector.iter().next() {
                None => everywhere.push(i),
                Some((k, v)) => by_pair.entry((k.clone(), v.clone())).or_default().push(i),
            }
        }
        SelectorIndex {
            everywhere,
            by_pair,
        }
    }

    /// Indices of the templates that select a node with `labels`, ascending.
    pub fn matching(&self, templates: &[Loaded], labels: &Labels) -> Vec<usize> {
        let mut out = self.everywhere.clone();
        for (k, v) in labels {
            if let Some(ts) = self.by_pair.get(&(k.clone(), v.clone())) {
                out.extend(
                    ts.iter()
                        .copied()
                        .filter(|i| selects(&templates[*i], labels)),
                );
            }
        }
        out.sort_unstable();
        out
    }
}

/// `k=v,k2=v2` as given to `--node-labels`. A value may be empty (`k=`); commas cannot occur in label
/// values, so splitting on them is exact.
pub fn parse_labels(s: &str) -> Result<Labels> {
    label_list(s).map_err(|e| Error::Usage(format!("--node-labels: {e}")))
}

/// `--node-labels`' value parser (clap): the labels, or what is wrong with them, so that a bad value
/// is a bad command line (clap's message and usage, its exit code), not an error of the run.
pub fn label_list(s: &str) -> std::result::Result<Labels, String> {
    let mut out = Labels::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not key=value"))?;
        crate::model::check_label_key(k)?;
        crate::model::check_label_value(v)?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_lists() {
        let l = parse_labels("a=1, kubernetes.io/hostname=10.0.0.1,empty=").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l["empty"], "");
        assert!(parse_labels("novalue").is_err());
        assert!(parse_labels("a b=1").is_err());
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use crate::parse::parse_templates;

    #[test]
    fn the_index_agrees_with_testing_every_template() {
        let mut text = String::new();
        for (i, sel) in [
            "{}",
            "{a: \"1\"}",
            "{a: \"1\", b: \"2\"}",
            "{b: \"2\"}",
            "{c: \"\"}",
            "{a: \"2\"}",
        ]
        .iter()
        .enumerate()
        {
            text.push_str(&format!(
                "---\napiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: t{i}}}\nspec:\n  nodeSelector: {sel}\n"
            ));
        }
        let ts = parse_templates(&text, "x").unwrap();
        let idx = SelectorIndex::new(&ts);
        for labels in [
            "",
            "a=1",
            "a=1,b=2",
            "b=2",
            "c=",
            "a=2,c=",
            "a=1,b=2,c=",
            "z=9",
        ] {
            let l = parse_labels(labels).unwrap();
            let brute: Vec<usize> = (0..ts.len()).filter(|i| selects(&ts[*i], &l)).collect();
            assert_eq!(idx.matching(&ts, &l), brute, "labels {labels}");
        }
    }
}
