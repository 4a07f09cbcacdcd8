//! `ovsConfig`: Open vSwitch bridges and their uplink (a port, or a bond of several).

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::de::yaml11_bool;
use super::{IfName, Mtu, PciAddr};
use crate::escape::printable;

/// An OVS bridge with its uplink. `nodeInterface` is one interface, or a comma-separated list that
/// becomes an OVS bond (port `bond-<bridgeName>`). With `dpdk: true` the bridge uses the userspace
/// datapath and each interface becomes a DPDK interface (`dpdk-<bridgeName>`, or in a bond
/// `dpdkbond-<bridgeName>` over `<bridgeName>-dpdk0`, `-dpdk1`, ...: HostPlumber's names); give its PCI
/// address, or its name and let the node inventory resolve it.
///
/// ```yaml
/// ovsConfig:
///   - bridgeName: ovs-br01
///     nodeInterface: eno2.1000
///   - bridgeName: ovs-bond01
///     nodeInterface: eno1,eno2
///     params:
///       mtuRequest: 9000
///       bondMode: balance-tcp
///       lacp: active
///   - bridgeName: dpdk-br01
///     nodeInterface: 0000:03:00.1
///     dpdk: true
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OvsConfig {
    pub bridge_name: IfName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_interface: Option<NodeInterfaces>,
    #[serde(
        default,
        deserialize_with = "yaml11_bool",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub dpdk: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<OvsParams>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OvsParams {
    /// `mtu_request` of the uplink interfaces and of the bridge's own interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu_request: Option<Mtu>,
    /// Bonds only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond_mode: Option<OvsBondMode>,
    /// Bonds only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lacp: Option<Lacp>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum OvsBondMode {
    ActiveBackup,
    BalanceSlb,
    BalanceTcp,
}

impl OvsBondMode {
    pub fn as_str(self) -> &'static str {
        match self {
            OvsBondMode::ActiveBackup => "active-backup",
            OvsBondMode::BalanceSlb => "balance-slb",
            OvsBondMode::BalanceTcp => "balance-tcp",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Lacp {
    Active,
    Passive,
    Off,
}

impl Lacp {
    pub fn as_str(self) -> &'static str {
        match self {
            Lacp::Active => "active",
            Lacp::Passive => "passive",
            Lacp::Off => "off",
        }
    }
}

/// One uplink: an interface name, or (DPDK) a PCI address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Uplink {
    Name(IfName),
    Pci(PciAddr),
}

impl std::fmt::Display for Uplink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Uplink::Name(n) => n.fmt(f),
            Uplink::Pci(p) => p.fmt(f),
        }
    }
}

/// `nodeInterface`: the comma-separated list as written, parsed. Entries are trimmed; empty entries (a
/// trailing comma) are an error, so `eno1,` is not silently a one-member bond.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInterfaces(pub Vec<Uplink>);

impl NodeInterfaces {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',') {
            let p = part.trim();
            if p.is_empty() {
                return Err(format!(
                    "{} has an empty entry; list interfaces separated by commas, like eno1,eno2",
                    printable(s)
                ));
            }
            if let Ok(pci) = PciAddr::parse(p) {
                if p.contains(':') {
                    out.push(Uplink::Pci(pci));
                    continue;
                }
            }
            out.push(Uplink::Name(IfName::parse(p)?));
        }
        Ok(NodeInterfaces(out))
    }
}

impl<'de> Deserialize<'de> for NodeInterfaces {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NodeInterfaces::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for NodeInterfaces {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v: Vec<String> = self.0.iter().map(|u| u.to_string()).collect();
        s.serialize_str(&v.join(","))
    }
}
