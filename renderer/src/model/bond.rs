//! `bondConfig`: Linux bonding interfaces.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::de::null_as_default;
use super::{IfName, Millis};

/// A Linux bond and its member links. MTU and addresses go on an `interfaceConfig` entry with the bond's
/// name; members must not have addresses of their own.
///
/// ```yaml
/// bondConfig:
///   - name: bond0
///     mode: 802.3ad
///     members: [eno1, eno2]
///     options:
///       miimon: 100
///       lacpRate: fast
///       xmitHashPolicy: layer3+4
///   - name: bond1
///     mode: active-backup
///     members: [eno3, eno4]
///     options: {primary: eno3, miimon: 100}
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BondConfig {
    pub name: IfName,
    pub mode: BondMode,
    #[serde(default, deserialize_with = "null_as_default")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub members: Vec<IfName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BondOptions>,
}

/// The kernel bonding modes by name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
pub enum BondMode {
    #[serde(rename = "balance-rr")]
    BalanceRr,
    #[serde(rename = "active-backup")]
    ActiveBackup,
    #[serde(rename = "balance-xor")]
    BalanceXor,
    #[serde(rename = "broadcast")]
    Broadcast,
    #[serde(rename = "802.3ad")]
    Lacp,
    #[serde(rename = "balance-tlb")]
    BalanceTlb,
    #[serde(rename = "balance-alb")]
    BalanceAlb,
}

impl BondMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BondMode::BalanceRr => "balance-rr",
            BondMode::ActiveBackup => "active-backup",
            BondMode::BalanceXor => "balance-xor",
            BondMode::Broadcast => "broadcast",
            BondMode::Lacp => "802.3ad",
            BondMode::BalanceTlb => "balance-tlb",
            BondMode::BalanceAlb => "balance-alb",
        }
    }
    /// The number the kernel uses in `IFLA_BOND_MODE`.
    pub fn kernel_number(self) -> u8 {
        self as u8
    }
}

/// Bond options, each optional; the kernel default applies when one is not set, except `miimon`, which
/// defaults to 100 ms (the kernel's 0 means no link monitoring; NetworkManager would use 100 anyway).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BondOptions {
    /// MII link monitoring interval, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miimon: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updelay: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downdelay: Option<Millis>,
    /// 802.3ad only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lacp_rate: Option<LacpRate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xmit_hash_policy: Option<XmitHashPolicy>,
    /// active-backup, balance-tlb, balance-alb only; must be a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<IfName>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LacpRate {
    Slow,
    Fast,
}

impl LacpRate {
    pub fn as_str(self) -> &'static str {
        match self {
            LacpRate::Slow => "slow",
            LacpRate::Fast => "fast",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
pub enum XmitHashPolicy {
    #[serde(rename = "layer2")]
    Layer2,
    #[serde(rename = "layer3+4")]
    Layer34,
    #[serde(rename = "layer2+3")]
    Layer23,
    #[serde(rename = "encap2+3")]
    Encap23,
    #[serde(rename = "encap3+4")]
    Encap34,
}

impl XmitHashPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            XmitHashPolicy::Layer2 => "layer2",
            XmitHashPolicy::Layer34 => "layer3+4",
            XmitHashPolicy::Layer23 => "layer2+3",
            XmitHashPolicy::Encap23 => "encap2+3",
            XmitHashPolicy::Encap34 => "encap3+4",
        }
    }
}
