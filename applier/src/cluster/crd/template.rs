//! `HostNetworkTemplate`: the renderer's `TemplateSpec` as the spec, and the per-template rollup of the
//! nodes it selected as the status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use plumber_render::model::TemplateSpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the template configures on the nodes its nodeSelector picks; every list may be omitted. The same
/// document `plumber-render` and `plumber apply -f` read from files (in Rust: the renderer's
/// `TemplateSpec`, unchanged, so the API server stores exactly what the renderer parses).
#[derive(CustomResource, Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "plumber.k8s.pf9.io",
    version = "v1",
    kind = "HostNetworkTemplate",
    plural = "hostnetworktemplates",
    shortname = "hnt",
    status = "HostNetworkTemplateStatus",
    doc = "The host network configuration for the nodes its nodeSelector picks (SR-IOV, VLANs, bonds, \
           bridges, MTUs, addresses, routes, OVS).",
    printcolumn = r#"{"name": "Priority", "type": "integer", "jsonPath": ".spec.priority", "priority": 1}"#,
    printcolumn = r#"{"name": "Matched", "type": "integer", "jsonPath": ".status.nodesMatched"}"#,
    printcolumn = r#"{"name": "Applied", "type": "integer", "jsonPath": ".status.nodesApplied"}"#,
    printcolumn = r#"{"name": "Failed", "type": "integer", "jsonPath": ".status.nodesFailed"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(transparent)]
pub struct HostNetworkTemplateSpec(pub TemplateSpec);

impl std::ops::Deref for HostNetworkTemplateSpec {
    type Target = TemplateSpec;
    fn deref(&self) -> &TemplateSpec {
        &self.0
    }
}

/// How the template fares across the nodes it selects: counts, the failing nodes by name, and
/// conditions (`Available`: every selected node applied it; `Degraded`: some failed).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostNetworkTemplateStatus {
    /// The `metadata.generation` the counts refer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Nodes whose labels match the nodeSelector.
    #[serde(default)]
    pub nodes_matched: i32,
    /// Of those, nodes whose last apply included this generation and succeeded.
    #[serde(default)]
    pub nodes_applied: i32,
    /// Of those, nodes whose last apply of this template failed or was refused.
    #[serde(default)]
    pub nodes_failed: i32,
    /// The failed nodes by name, sorted, at most 64 (`nodesFailed` counts them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set", "maxItems" = 64))]
    pub failed_nodes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// The most failed node names the status lists.
pub const MAX_FAILED_NODES: usize = 64;
