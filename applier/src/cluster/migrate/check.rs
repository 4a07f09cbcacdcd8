//! The checks made before anything changes: a cluster must not lose a template in the switch.
//!
//! * Two namespaces holding a template of one name would be one cluster-scoped object: refused,
//!   naming the namespaces.
//! * Every template must be one plumber accepts (its parser and validation, as the agent reads it):
//!   refused, naming the template and the YAML path, so that none is re-created only to be refused on
//!   every node (a HostPlumber template with `mtu: 67`, which HostPlumber ignored, is one).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::error::MigrateError;
use super::export::Exported;
use crate::cluster::crd::TemplateObject;

/// Refuses when a name is in two namespaces or a template is not one plumber accepts.
pub(super) fn templates(all: &[Exported]) -> Result<(), MigrateError> {
    same_names(all)?;
    accepted(all)
}

/// Names held by more than one namespace, each with its namespaces.
fn same_names(all: &[Exported]) -> Result<(), MigrateError> {
    let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in all {
        by_name
            .entry(&t.metadata.name)
            .or_default()
            .push(&t.metadata.namespace);
    }
    let clashes: Vec<String> = by_name
        .into_iter()
        .filter(|(_, ns)| ns.len() > 1)
        .map(|(name, mut ns)| {
            ns.sort_unstable();
            format!("{name} (in namespaces {})", ns.join(", "))
        })
        .collect();
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(MigrateError::SameName(clashes))
    }
}

/// Every template through plumber's parser and validation.
fn accepted(all: &[Exported]) -> Result<(), MigrateError> {
    let mut refused = Vec::new();
    for t in all {
        let object = TemplateObject {
            metadata: ObjectMeta {
                name: Some(t.metadata.name.clone()),
                ..ObjectMeta::default()
            },
            spec: t.spec.clone(),
            status: None,
        };
        match object.to_loaded() {
            Err(message) => refused.push(format!("{}: {message}", t.id())),
            Ok(loaded) => refused.extend(
                plumber_render::validate::validate(&loaded)
                    .into_iter()
                    .map(|e| format!("{}: {e}", t.id())),
            ),
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(MigrateError::NotAccepted(refused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::migrate::export::Meta;
    use serde_json::{json, Value};

    fn t(namespace: &str, name: &str, spec: Value) -> Exported {
        Exported {
            api_version: "plumber.k8s.pf9.io/v1".into(),
            kind: "HostNetworkTemplate".into(),
            metadata: Meta {
                name: name.into(),
                namespace: namespace.into(),
                ..Meta::default()
            },
            spec,
        }
    }

    #[test]
    fn one_name_in_two_namespaces_is_refused_naming_them() {
        let spec = json!({"interfaceConfig": [{"name": "eno2", "mtu": 9000}]});
        let all = [
            t("b", "storage", spec.clone()),
            t("a", "storage", spec.clone()),
            t("a", "fleet", spec),
        ];
        let e = templates(&all).unwrap_err().to_string();
        assert!(
            e.contains("storage (in namespaces a, b)") && !e.contains("fleet"),
            "{e}"
        );
    }

    #[test]
    fn a_template_plumber_refuses_is_named_with_its_path() {
        let all = [
            t(
                "a",
                "fine",
                json!({"interfaceConfig": [{"name": "eno2", "mtu": 9000}]}),
            ),
            t(
                "a",
                "low",
                json!({"interfaceConfig": [{"name": "eno2", "mtu": 67}]}),
            ),
        ];
        let e = templates(&all).unwrap_err().to_string();
        assert!(
            e.contains("a/low: ") && e.contains("spec.interfaceConfig[0].mtu"),
            "{e}"
        );
        assert!(!e.contains("a/fine"), "{e}");
        templates(&all[..1]).unwrap();
    }
}
