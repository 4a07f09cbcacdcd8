//! `bridgeConfig`: Linux bridges.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::de::{null_as_default, yaml11_bool_opt};
use super::{ForwardDelay, IfName};

/// A Linux bridge and its member links. MTU and addresses go on an `interfaceConfig` entry with the
/// bridge's name.
///
/// ```yaml
/// bridgeConfig:
///   - name: br-mgmt
///     members: [eno3]
///     stp: false
///     forwardDelay: 15
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BridgeConfig {
    pub name: IfName,
    #[serde(default, deserialize_with = "null_as_default")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub members: Vec<IfName>,
    #[serde(
        default,
        deserialize_with = "yaml11_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub stp: Option<bool>,
    /// Seconds, only meaningful with STP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_delay: Option<ForwardDelay>,
}
