//! The export file: HostPlumber's templates as they were before the switch, written before anything
//! is changed, and read back by `--from-export` to finish an interrupted run.
//!
//! One YAML document per template, in the namespace it came from, which `kubectl apply -f` also takes
//! (plumber's CRD is cluster-scoped: the namespace is ignored):
//!
//! ```yaml
//! # plumber migrate: ...
//! apiVersion: plumber.k8s.pf9.io/v1
//! kind: HostNetworkTemplate
//! metadata: {name: storage, namespace: default, labels: {...}, annotations: {...}}
//! spec: {...}
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::MigrateError;

/// One template as exported: what the switch keeps of it (no status, no finalizers, no server fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Exported {
    #[serde(rename = "apiVersion")]
    pub(super) api_version: String,
    pub(super) kind: String,
    pub(super) metadata: Meta,
    #[serde(default)]
    pub(super) spec: Value,
}

/// The metadata a template keeps across the switch, and the namespace it came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(super) struct Meta {
    pub(super) name: String,
    #[serde(default)]
    pub(super) namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) annotations: BTreeMap<String, String>,
}

impl Exported {
    /// `namespace/name`, as messages name a HostPlumber template.
    pub(super) fn id(&self) -> String {
        format!("{}/{}", self.metadata.namespace, self.metadata.name)
    }
}

const HEADER: &str = "# plumber migrate: HostPlumber's HostNetworkTemplates as they were before the switch.\n\
# `plumber migrate --from-export FILE` re-creates them cluster-scoped (so does `kubectl apply -f FILE`).\n";

/// The file's text: the templates in the order given, as YAML documents.
pub(super) fn to_text(templates: &[Exported]) -> String {
    let mut out = String::from(HEADER);
    for t in templates {
        out.push_str("---\n");
        out.push_str(&plumber_render::yaml::to_string(t).expect("a template serializes"));
    }
    out
}

/// Writes the file atomically (the installer's `atomic_write`: a temporary file beside it, synced,
/// renamed over it, removed on a failure), readable by its owner only.
pub(super) fn write(path: &Path, templates: &[Exported]) -> Result<(), MigrateError> {
    crate::node::install::fsutil::atomic_write(path, to_text(templates).as_bytes(), 0o600).map_err(
        |e| MigrateError::ExportWrite {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        },
    )
}

/// Reads the file back: every document that is a `HostNetworkTemplate`.
pub(super) fn read(path: &Path) -> Result<Vec<Exported>, MigrateError> {
    let text = std::fs::read_to_string(path).map_err(|source| MigrateError::ExportRead {
        path: path.to_path_buf(),
        message: source.to_string(),
    })?;
    from_text(&text).map_err(|message| MigrateError::ExportRead {
        path: path.to_path_buf(),
        message,
    })
}

fn from_text(text: &str) -> Result<Vec<Exported>, String> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let v: serde_yaml::Value =
            Deserialize::deserialize(doc).map_err(|e| format!("document {}: {e}", i + 1))?;
        if v.is_null() {
            continue;
        }
        let kind = v.get("kind").and_then(serde_yaml::Value::as_str);
        if kind != Some("HostNetworkTemplate") {
            return Err(format!(
                "document {}: kind {} is not a HostNetworkTemplate",
                i + 1,
                kind.unwrap_or("(none)")
            ));
        }
        let t: Exported =
            serde_yaml::from_value(v).map_err(|e| format!("document {}: {e}", i + 1))?;
        out.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_export_reads_back_as_written() {
        let t = Exported {
            api_version: "plumber.k8s.pf9.io/v1".into(),
            kind: "HostNetworkTemplate".into(),
            metadata: Meta {
                name: "ovs".into(),
                namespace: "tenant-a".into(),
                labels: [("team".to_string(), "net".to_string())].into(),
                annotations: [("note".to_string(), "off".to_string())].into(),
            },
            spec: json!({"ovsConfig": [{"bridgeName": "br0", "nodeInterface": "eno2",
                "params": {"lacp": "off", "mtuRequest": 9000}}],
                "sriovConfig": [{"pciAddr": "0000:03:00.0", "numVfs": 4}]}),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.yaml");
        write(&path, &[t.clone(), t.clone()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // Strings a YAML 1.1 reader (kubectl) would mistype are quoted.
        assert!(text.contains("lacp: \"off\""), "{text}");
        assert!(text.contains("pciAddr: \"0000:03:00.0\""), "{text}");
        assert_eq!(read(&path).unwrap(), vec![t.clone(), t]);
        let other = "kind: ConfigMap\nmetadata: {name: x}\n";
        assert!(from_text(other)
            .unwrap_err()
            .contains("not a HostNetworkTemplate"));
    }
}
