//! `nodeSelector`: which templates apply to a node.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::parse::Loaded;

/// Node labels, as `kubectl get node -o yaml` shows them.
pub type Labels = BTreeMap<String, String>;

/// A template applies when every `nodeSelector` pair is among the node's labels; an empty selector
/// applies everywhere (as in HostPlumber).
pub fn selects(t: &Loaded, labels: &Labels) -> bool {
    t.template
        .spec
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
}

/// `k=v,k2=v2` as given to `--node-labels`. A value may be empty (`k=`); commas cannot occur in label
/// values, so splitting on them is exact.
pub fn parse_labels(s: &str) -> Result<Labels> {
    let mut out = Labels::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            Error::Usage(format!("--node-labels: {part:?} is not key=value"))
        })?;
        crate::model::check_label_key(k).map_err(|e| Error::Usage(format!("--node-labels: {e}")))?;
        crate::model::check_label_value(v).map_err(|e| Error::Usage(format!("--node-labels: {e}")))?;
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
