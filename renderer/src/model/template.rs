//! The `HostNetworkTemplate` object and its metadata.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::de::null_as_default;
use super::{
    BondConfig, BridgeConfig, InterfaceConfig, MaxUnavailable, OvsConfig, Priority, SriovConfig,
};

pub const API_VERSION: &str = "plumber.k8s.pf9.io/v1";
pub const KIND: &str = "HostNetworkTemplate";

/// A `HostNetworkTemplate` (API group `plumber.k8s.pf9.io/v1`): the host network configuration for the
/// nodes its `nodeSelector` picks.
///
/// ```yaml
/// apiVersion: plumber.k8s.pf9.io/v1
/// kind: HostNetworkTemplate
/// metadata:
///   name: hostconfig-kernel-eno2
/// spec:
///   nodeSelector:
///     feature.node.kubernetes.io/network-sriov.capable: "true"
///   sriovConfig:
///     - pfName: eno2
///       numVfs: 4
///       vfDriver: i40evf
///   interfaceConfig:
///     - name: eno2
///       mtu: 9000
///       vlan:
///         - id: 1000
///   ovsConfig:
///     - bridgeName: ovs-br01
///       nodeInterface: eno2.1000
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostNetworkTemplate {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: TemplateSpec,
    /// Written by the agent; read and ignored here so `kubectl get -o yaml` output can be rendered.
    #[serde(default, skip_serializing)]
    pub status: Option<serde_yaml::Value>,
}

/// The part of Kubernetes `ObjectMeta` a template may carry. Everything `kubectl get -o yaml` prints is
/// accepted; only `name` is used (plus `generation` by the agent). Unknown fields are still an error.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectMeta {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    /// plumber reads [`SWITCHES`] here (`"true"` or `"false"`); others are the user's.
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing)]
    pub uid: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing)]
    pub resource_version: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing)]
    pub creation_timestamp: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing)]
    pub deletion_timestamp: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing)]
    pub deletion_grace_period_seconds: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing)]
    pub managed_fields: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing)]
    pub finalizers: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing)]
    pub owner_references: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing)]
    pub generate_name: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing)]
    pub self_link: Option<serde_yaml::Value>,
}

/// What a template configures. Every list may be omitted.
///
/// ```yaml
/// spec:
///   priority: 10          # plumber: wins disagreements with lower-priority templates
///   nodeSelector: {kubernetes.io/hostname: node-1}
///   maxUnavailable: 25%   # plumber: nodes taking a new version at once (agent only)
///   sriovConfig: []
///   interfaceConfig: []
///   bondConfig: []        # plumber: Linux bonds
///   bridgeConfig: []      # plumber: Linux bridges
///   ovsConfig: []
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TemplateSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[schemars(schema_with = "super::schema::label_map")]
    pub node_selector: BTreeMap<String, String>,
    /// How many selected nodes may take a new version of this template at once (see
    /// [`MaxUnavailable`]); absent: all at once, as HostPlumber did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<MaxUnavailable>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub sriov_config: Vec<SriovConfig>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub interface_config: Vec<InterfaceConfig>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub bond_config: Vec<BondConfig>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub bridge_config: Vec<BridgeConfig>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["bridgeName"]))]
    pub ovs_config: Vec<OvsConfig>,
}

impl TemplateSpec {
    pub fn priority(&self) -> i32 {
        self.priority.map(|p| p.get()).unwrap_or(0)
    }
}

/// The template annotation that says a plan is meant to cut a connectivity probe's path.
pub const ALLOW_DISCONNECT: &str = "plumber.k8s.pf9.io/allow-disconnect";
/// The template annotation that makes a template's entries all or nothing on every node.
pub const STRICT: &str = "plumber.k8s.pf9.io/strict";
/// The annotations plumber reads, each `"true"` or `"false"`.
pub const SWITCHES: &[&str] = &[ALLOW_DISCONNECT, STRICT];
