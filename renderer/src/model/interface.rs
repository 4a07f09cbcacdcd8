//! `interfaceConfig`: MTU, VLANs, addresses, routes and DHCP of one link, by name.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::de::{null_as_default, yaml11_bool_opt};
use super::{IfName, IpCidr, Metric, Mtu, RouteDest, TableId, VlanId};

/// One link by name: a NIC, or a VLAN, bond or bridge defined in the same or another template. An entry
/// manages exactly what it states: without `ipv4` the link's IPv4 addresses, DHCP and routes stay as the
/// host configured them (at runtime and after a reboot), the same for `ipv6`; an MTU-only entry changes
/// the MTU and nothing else. With `ipv4.address` (or `ipv4.dhcp`) the family is desired state: unlisted
/// static addresses are removed (IPv6 link-local is kept), and `ipv4: {address: []}` removes them all.
///
/// ```yaml
/// interfaceConfig:
///   - name: enp3s0f1
///     mtu: 9000
///     vlan:
///       - id: 1000               # creates enp3s0f1.1000
///       - id: 1001
///         name: storage          # or a name of your own
///     ipv4:
///       address: [192.168.195.7/24, 192.168.196.8/24]
///       routes:                  # plumber
///         - to: 10.20.0.0/16
///           via: 192.168.195.1
///           metric: 100
///           table: 100
///     ipv6:
///       address: [fc00:1::3/112]
///       dhcp: false              # plumber: DHCPv6 / router advertisements
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InterfaceConfig {
    pub name: IfName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<Mtu>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["id"]))]
    pub vlan: Vec<VlanConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::ip_config_v4")]
    pub ipv4: Option<IpConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::ip_config_v6")]
    pub ipv6: Option<IpConfig>,
}

/// A VLAN interface on the enclosing link. Its name is `<parent>.<id>` unless given; either way it must
/// fit the kernel's 15 bytes. Configure its MTU and addresses with an `interfaceConfig` entry of that name.
///
/// ```yaml
/// vlan:
///   - id: 1000
///   - id: 1001
///     name: vlan1001
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VlanConfig {
    pub id: VlanId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<IfName>,
}

/// Addressing of one family. Stating `address` or `dhcp` makes the family plumber's: `address` is then the
/// desired state (addresses not listed are removed, `address: []` removes every static one). A section
/// that states neither (`ipv4: {}`) is refused: leave the section out to keep what the host configured.
///
/// ```yaml
/// ipv4:
///   address: [192.168.195.7/24]
///   routes:
///     - {to: 10.20.0.0/16, via: 192.168.195.1}
/// ipv6:
///   address: []                # no IPv6 addresses but link-local
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IpConfig {
    /// Not stated when absent (or null, as the API server reads it); `[]` states no addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub address: Option<Vec<IpCidr>>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub routes: Vec<Route>,
    #[serde(
        default,
        deserialize_with = "yaml11_bool_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub dhcp: Option<bool>,
}

/// A static route through this link.
///
/// ```yaml
/// routes:
///   - to: default
///     via: 192.0.2.1
///   - to: 10.0.0.0/8
///     via: 192.0.2.254
///     metric: 200
///     table: 100
///   - to: 198.51.100.0/24      # on-link, no gateway
/// ```
#[derive(
    Debug, Clone, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Route {
    pub to: RouteDest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::gateway")]
    pub via: Option<std::net::IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<TableId>,
}
