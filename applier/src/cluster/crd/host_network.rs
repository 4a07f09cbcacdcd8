//! `HostNetwork`: one per node, named after it, written by the node's agent. Its status is what
//! `plumber show` prints (the renderer's inventory format, which `plumber-render --inventory` reads
//! unchanged: the fields added here are ones that reader skips) plus how the agent is doing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use plumber_render::inventory;
use plumber_render::node::Skipped;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A `HostNetwork` has no spec (HostPlumber's objects carry `spec: {}`): the node is described, not
/// configured, here.
#[derive(CustomResource, Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "plumber.k8s.pf9.io",
    version = "v1",
    kind = "HostNetwork",
    plural = "hostnetworks",
    shortname = "hn",
    status = "HostNetworkStatus",
    doc = "A node's network state as its plumber agent discovered it, and how applying the templates \
           went. One per node, named after the node.",
    printcolumn = r#"{"name": "Interfaces", "type": "string", "jsonPath": ".status.interfaceStatus[*].pfName"}"#,
    printcolumn = r#"{"name": "VFs", "type": "string", "jsonPath": ".status.interfaceStatus[*].sriovStatus.numVfs"}"#,
    printcolumn = r#"{"name": "Last Apply", "type": "string", "jsonPath": ".status.lastApply.result"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(deny_unknown_fields)]
pub struct HostNetworkSpec {}

/// The node's discovered state (flattened: the same fields as `plumber show`) and the agent's own.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostNetworkStatus {
    #[serde(flatten)]
    pub discovered: inventory::HostNetworkStatus,
    /// The templates the last apply used, by name, with the `metadata.generation` applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub applied_templates: Vec<AppliedTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_apply: Option<LastApply>,
    /// Template entries the last apply left out because they select a device this node does not have
    /// (an SR-IOV PF by pfName, pciAddr or vendorId/deviceId): best effort, the rest was applied. A
    /// template annotated plumber.k8s.pf9.io/strict: "true" (or the agent's --strict) refuses instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) skipped: Vec<Skipped>,
    /// `Available` (the node matches its templates), `Progressing` (an apply is under way), `Degraded`
    /// (the last apply failed or the node drifted and could not be repaired).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Why the agent could not read templates or publish this status, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_sync_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppliedTemplate {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

/// The last apply, from the applier's record (`last-apply.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastApply {
    pub result: ApplyResult,
    pub time: Time,
    /// sha256 of the desired state: the same digest on two nodes means the same configuration.
    pub digest: String,
}

/// [`crate::node::apply::Outcome`] as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyResult {
    Unchanged,
    Applied,
    Refused,
    RolledBack,
    RollbackFailed,
}

impl From<crate::node::apply::Outcome> for ApplyResult {
    fn from(o: crate::node::apply::Outcome) -> Self {
        use crate::node::apply::Outcome as O;
        match o {
            O::Unchanged => ApplyResult::Unchanged,
            O::Applied => ApplyResult::Applied,
            O::Refused => ApplyResult::Refused,
            O::RolledBack => ApplyResult::RolledBack,
            O::RollbackFailed => ApplyResult::RollbackFailed,
        }
    }
}
