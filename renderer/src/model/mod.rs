//! The `HostNetworkTemplate` API (`plumber.k8s.pf9.io/v1`) as typed Rust, one file per concept.
//!
//! Parsing is strict: unknown fields are errors, and every value type checks its own range or syntax while
//! it is read, so the error names the YAML path and the value. Rules that span several fields (one PF
//! selector, unique VLAN ids, ...) live in [`crate::validate`].

/// `Deserialize` (through the type's own `parse`, so an error names the value), `Serialize` (the text)
/// and `Display` of a newtype around a checked `String`. Defined before the modules that use it.
macro_rules! string_serde {
    ($t:ty) => {
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

mod bond;
mod bridge;
pub(crate) mod de;
mod interface;
mod names;
mod net;
mod network;
mod numbers;
mod ovs;
mod pci;
mod pool;
mod rollout;
mod schema;
mod sriov;
mod template;

pub use bond::{BondConfig, BondMode, BondOptions, LacpRate, XmitHashPolicy};
pub use bridge::BridgeConfig;
pub use interface::{InterfaceConfig, IpConfig, Route, VlanConfig};
pub use names::{
    check_ifname, check_label_key, check_label_value, check_object_name, DriverName, IfName,
    IFNAMSIZ_MAX,
};
pub use net::{parse_ip, IpCidr, MacAddr, RouteDest};
pub use network::{DnsLabel, IpamJson, NetworkConfig};
pub use numbers::{
    ForwardDelay, Metric, Millis, Mtu, NumVfs, Priority, TableId, TxRate, VfQos, VfVlan, VlanId,
};
pub use ovs::{Lacp, NodeInterfaces, OvsBondMode, OvsConfig, OvsParams, Uplink};
pub use pci::{PciAddr, PciId};
pub use pool::{ResourceName, ResourcePrefix, DEFAULT_RESOURCE_PREFIX};
pub use rollout::MaxUnavailable;
pub use schema::{
    DNS_LABEL_PATTERN, DRIVER_PATTERN, IFNAME_PATTERN, LABEL_VALUE_PATTERN, MAC_PATTERN,
    PCI_ADDR_PATTERN, PCI_ID_PATTERN, RESOURCE_NAME_PATTERN, RESOURCE_PREFIX_PATTERN,
};
pub use sriov::{SriovConfig, VfConfig, VfIds};
pub use template::{
    HostNetworkTemplate, ObjectMeta, TemplateSpec, ALLOW_DISCONNECT, API_VERSION, KIND, STRICT,
    SWITCHES,
};
