//! [`TemplateObject`]: a `HostNetworkTemplate` as the agent watches it, its spec read by the renderer's
//! parser only when the agent uses it.
//!
//! The API server checks a template against the CRD's OpenAPI schema, which cannot say everything the
//! renderer's types check while parsing (a route prefix with host bits, `10.1.2.3/8`, is a string of
//! the right pattern). A watch of the strict [`HostNetworkTemplate`] type would fail on such an object
//! and stop seeing every other template; this view keeps the spec as the API server stored it, and
//! [`TemplateObject::to_loaded`] says what is wrong with it, with its YAML path, as `plumber-render`
//! would.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use plumber_render::error::Origin;
use plumber_render::model::{self, TemplateSpec};
use plumber_render::parse::Loaded;
use plumber_render::select::Labels;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::HostNetworkTemplate;

/// A `HostNetworkTemplate` object with its spec unparsed:
///
/// ```yaml
/// apiVersion: plumber.k8s.pf9.io/v1
/// kind: HostNetworkTemplate
/// metadata: {name: storage, generation: 3}
/// spec:                       # kept as JSON until used
///   nodeSelector: {rack: r1}
///   interfaceConfig: [{name: eno2, mtu: 9000}]
/// status: {nodesMatched: 12}  # what the agent reads of the status
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct TemplateObject {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

/// The same URLs as the real kind's.
impl Resource for TemplateObject {
    type DynamicType = ();
    type Scope = k8s_openapi::ClusterResourceScope;
    fn kind(dt: &()) -> Cow<'_, str> {
        <HostNetworkTemplate as Resource>::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        <HostNetworkTemplate as Resource>::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        <HostNetworkTemplate as Resource>::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        <HostNetworkTemplate as Resource>::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The typed object, as the API server would store it (tests, and objects built in code).
impl From<&HostNetworkTemplate> for TemplateObject {
    fn from(t: &HostNetworkTemplate) -> TemplateObject {
        TemplateObject {
            metadata: t.metadata.clone(),
            spec: serde_json::to_value(&t.spec).expect("a spec serializes"),
            status: t
                .status
                .as_ref()
                .map(|s| serde_json::to_value(s).expect("a status serializes")),
        }
    }
}

impl TemplateObject {
    /// The object's name.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// The template as the renderer reads it (with its `metadata.generation`, which the applier
    /// records), or the renderer's message for what is wrong with its spec:
    /// `hostnetworktemplate/t#1 (t): spec.interfaceConfig[0].ipv4.routes[0].to: 10.1.2.3/8 has host
    /// bits set; the network is 10.0.0.0/8`.
    pub fn to_loaded(&self) -> Result<Loaded, String> {
        let name = self.name().to_string();
        let origin = Origin {
            file: format!("hostnetworktemplate/{name}"),
            document: 1,
            template: Some(name.clone()),
        };
        let spec = serde_yaml::to_value(&self.spec).map_err(|e| e.to_string())?;
        let spec: TemplateSpec =
            plumber_render::parse::from_value(spec, &origin, "spec").map_err(|e| e.to_string())?;
        Ok(Loaded {
            origin,
            template: model::HostNetworkTemplate {
                api_version: model::API_VERSION.to_string(),
                kind: model::KIND.to_string(),
                metadata: model::ObjectMeta {
                    name,
                    generation: self.metadata.generation,
                    // The connectivity guard's opt-in and all or nothing (best effort's opt-out); the
                    // other annotations are not the applier's.
                    annotations: self
                        .metadata
                        .annotations
                        .iter()
                        .flatten()
                        .filter(|(k, _)| {
                            k.as_str() == crate::node::guard::ALLOW_DISCONNECT
                                || k.as_str() == plumber_render::best_effort::STRICT
                        })
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    ..model::ObjectMeta::default()
                },
                spec,
                status: None,
            },
        })
    }

    /// `spec.nodeSelector` as labels; `None` when it is there but not a map of strings (the schema says
    /// it is one), an empty map when absent (every node).
    pub fn node_selector(&self) -> Option<Labels> {
        match self.spec.get("nodeSelector") {
            None | Some(Value::Null) => Some(Labels::new()),
            Some(s) => serde_json::from_value(s.clone()).ok(),
        }
    }

    /// Whether the template may select a node with `labels`, read from the raw spec: its
    /// `nodeSelector` matches, or cannot be read (then the node reports the template rather than
    /// ignore it).
    pub fn may_select(&self, labels: &Labels) -> bool {
        self.node_selector()
            .is_none_or(|s| plumber_render::select::matches(&s, labels))
    }

    /// `status.nodesMatched` (0 when the rollup has not counted yet).
    pub fn nodes_matched(&self) -> u32 {
        self.status
            .as_ref()
            .and_then(|s| s.get("nodesMatched"))
            .and_then(Value::as_i64)
            .map_or(0, |n| n.clamp(0, u32::MAX as i64) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(spec: Value) -> TemplateObject {
        TemplateObject {
            metadata: ObjectMeta {
                name: Some("t".into()),
                generation: Some(4),
                ..ObjectMeta::default()
            },
            spec,
            status: Some(json!({"nodesMatched": 7})),
        }
    }

    #[test]
    fn a_spec_the_model_refuses_is_a_message_with_its_path() {
        let o = object(json!({"interfaceConfig": [{"name": "eth1", "ipv4": {
            "address": ["10.0.0.2/8"], "routes": [{"to": "10.1.2.3/8", "via": "10.0.0.1"}]}}]}));
        let e = o.to_loaded().unwrap_err();
        assert_eq!(
            e,
            "hostnetworktemplate/t#1 (t): spec.interfaceConfig[0].ipv4.routes[0].to: 10.1.2.3/8 has \
             host bits set; the network is 10.0.0.0/8"
        );
        let ok = object(json!({"interfaceConfig": [{"name": "eth1", "mtu": 9000}]}));
        let l = ok.to_loaded().unwrap();
        assert_eq!((l.name(), l.template.metadata.generation), ("t", Some(4)));
        assert_eq!(ok.nodes_matched(), 7);
    }

    #[test]
    fn selection_from_the_raw_spec() {
        let labels = plumber_render::select::parse_labels("rack=r1").unwrap();
        assert!(object(json!({"nodeSelector": {"rack": "r1"}})).may_select(&labels));
        assert!(!object(json!({"nodeSelector": {"rack": "r2"}})).may_select(&labels));
        assert!(object(json!({})).may_select(&labels));
        // Unreadable: reported rather than ignored.
        assert!(object(json!({"nodeSelector": "rack=r2"})).may_select(&labels));
    }

    #[test]
    fn the_typed_object_converts_as_stored() {
        let spec: TemplateSpec =
            serde_yaml::from_str("interfaceConfig: [{name: eth1, mtu: 9000}]").unwrap();
        let t = HostNetworkTemplate::new("t", super::super::HostNetworkTemplateSpec(spec.clone()));
        let o = TemplateObject::from(&t);
        assert_eq!(o.to_loaded().unwrap().template.spec, spec);
    }
}
