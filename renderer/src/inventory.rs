//! The `HostNetwork` object: a node's discovered state, in HostPlumber's status format plus plumber's
//! additions. The applier publishes it (`plumber show`); the renderer reads it (`--inventory`) to turn
//! vendor/device and PCI selectors into interface names and to check `numVfs` against `totalVfs`.
//!
//! Reading is lenient about fields it does not know (the object is machine-written and may be newer than
//! this reader); writing is the applier's job.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Origin, Result};
use crate::model::{PciAddr, PciId};

mod pools;
mod vf;
pub use pools::{pools, PoolStatus};
pub use vf::{VfField, VfStatus};

/// ```yaml
/// apiVersion: plumber.k8s.pf9.io/v1
/// kind: HostNetwork
/// metadata: {name: node-1}
/// status:
///   interfaceStatus:
///     - pfName: eno2
///       pciAddr: "0000:01:00.1"
///       vendorId: "8086"
///       deviceId: "1572"
///       sriovEnabled: true
///       sriovStatus: {totalVfs: 64, numVfs: 8}
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HostNetwork {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: InventoryMeta,
    #[serde(default)]
    pub status: HostNetworkStatus,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
pub struct InventoryMeta {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostNetworkStatus {
    #[serde(default)]
    pub interface_status: Vec<InterfaceStatus>,
    /// The routing table (main and others), as HostPlumber published it, less the `fe80::/64` route
    /// the kernel adds on every IPv6 interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<RoutesStatus>,
    /// plumber: every link of the node (VLANs, bonds, bridges, veths ... as well as NICs) with its
    /// kind, state and addresses (link-local IPv6 addresses only in `interfaceStatus`, for NICs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkStatus>,
    /// plumber: Open vSwitch bridges and their ports, when OVSDB is reachable (see OvsBridgeStatus).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ovs_bridges: Vec<OvsBridgeStatus>,
    /// HostPlumber's OVS summary, from `ovsBridges`: each bridge with its node interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ovs_status: Vec<OvsStatus>,
    /// plumber: the SR-IOV device plugin's pools on this node and the VFs each advertises (see
    /// [`PoolStatus`]), from the device plugin's configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<PoolStatus>,
}

impl HostNetworkStatus {
    /// Sets the OVS bridges as discovered, and HostPlumber's `ovsStatus` summary of them.
    pub fn set_ovs(&mut self, bridges: Vec<OvsBridgeStatus>) {
        self.ovs_status = bridges.iter().map(OvsStatus::of).collect();
        self.ovs_bridges = bridges;
    }
}

/// HostPlumber's `ovsStatus` entry: a bridge and its node interfaces as an `ovsConfig` entry names
/// them (`eno4,eno5` for a bond).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OvsStatus {
    pub bridge_name: String,
    /// The interfaces of the bridge's ports other than its own internal port, comma-separated in
    /// port order; absent when it has none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_interface: String,
}

impl OvsStatus {
    fn of(b: &OvsBridgeStatus) -> Self {
        let interfaces: Vec<&str> = b
            .ports
            .iter()
            .filter(|p| p.name != b.name)
            .flat_map(|p| p.interfaces.iter().map(String::as_str))
            .collect();
        OvsStatus {
            bridge_name: b.name.clone(),
            node_interface: interfaces.join(","),
        }
    }
}

/// Addresses of one family (`ipv4: {address: [...]}`), as in the templates.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressStatus {
    #[serde(default)]
    pub address: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoutesStatus {
    #[serde(default)]
    pub ipv4: Vec<RouteStatus>,
    #[serde(default)]
    pub ipv6: Vec<RouteStatus>,
}

/// One route: `dst` is absent for a default route, `gw` for an on-link one.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    pub dev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// plumber: metric and table, when not the defaults (main table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
}

/// plumber: one link.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkStatus {
    pub name: String,
    /// `device`, `vlan`, `bond`, `bridge`, or the kernel's kind name (`veth`, `openvswitch`, ...).
    pub kind: String,
    pub mtu: u32,
    pub up: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<AddressStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<AddressStatus>,
}

/// plumber: one Open vSwitch bridge as OVSDB holds it, with all its ports (the bridge's own internal
/// port and ports other software added included).
///
/// ```yaml
/// ovsBridges:
///   - name: ovs-bond01
///     datapathType: system
///     ports:
///       - name: ovs-bond01
///         interfaces: [ovs-bond01]
///       - name: bond-ovs-bond01
///         interfaces: [eno1, eno2]
///         bondMode: balance-tcp
///         lacp: active
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OvsBridgeStatus {
    pub name: String,
    /// `system` or `netdev` (DPDK); absent when OVSDB leaves it empty (the kernel datapath).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapath_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<OvsPortStatus>,
}

/// plumber: one port of an OVS bridge: its interfaces by name (several for a bond), and the bond's
/// settings when OVSDB has them.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OvsPortStatus {
    pub name: String,
    #[serde(default)]
    pub interfaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lacp: Option<String>,
}

/// One NIC (a netdev with a `device` that is not a VF) as discovered: PCI NICs, and virtio and other
/// non-PCI ones, as HostPlumber lists them.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pf_name: Option<String>,
    /// The PCI function (for a virtio NIC, the virtio device's PCI function). Reading takes a value that
    /// is no PCI address (HostPlumber wrote a virtio NIC's `virtio0` here) as absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "pci_or_none"
    )]
    pub pci_addr: Option<PciAddr>,
    /// plumber: the bus of the NIC's `device` (`pci`, `virtio`, `usb`, ...), when not PCI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<PciId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<PciId>,
    /// `sriov_totalvfs` above 0 (HostPlumber's meaning); plumber always writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sriov_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sriov_status: Option<SriovStatus>,
    /// The PF's MAC address as the kernel prints it (`address`), kept as text: informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The PF's kernel driver (`i40e`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pf_driver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<AddressStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<AddressStatus>,
}

/// A PCI address, or `None` for any other string.
fn pci_or_none<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<PciAddr>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.and_then(|s| PciAddr::parse(&s).ok()))
}

impl InterfaceStatus {
    /// Whether the NIC can have VFs: `totalVfs` above 0 when the inventory says, else unless
    /// `sriovEnabled: false` (plumber's discovery writes false when sysfs has no `sriov_totalvfs`).
    /// An inventory that says neither is trusted to list a PF.
    pub fn sriov_capable(&self) -> bool {
        match self.sriov_status.as_ref().and_then(|s| s.total_vfs) {
            Some(total) => total > 0,
            None => self.sriov_enabled != Some(false),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SriovStatus {
    #[serde(default)]
    pub num_vfs: Option<u32>,
    #[serde(default)]
    pub total_vfs: Option<u32>,
    /// The VFs that exist, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vfs: Vec<VfStatus>,
}

impl HostNetwork {
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let origin = Origin {
            file: file.to_string(),
            document: 1,
            template: None,
        };
        // Straight from the text (no intermediate Value): fleet mode parses one per node.
        serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|e| {
            let path = e.path().to_string();
            crate::Error::Parse {
                origin,
                path: if path == "." {
                    String::new()
                } else {
                    format!("{path}: ")
                },
                message: e.into_inner().to_string(),
            }
        })
    }

    pub fn by_name(&self, name: &str) -> Option<&InterfaceStatus> {
        self.status
            .interface_status
            .iter()
            .find(|i| i.pf_name.as_deref() == Some(name))
    }

    pub fn by_pci(&self, pci: &PciAddr) -> Option<&InterfaceStatus> {
        self.status
            .interface_status
            .iter()
            .find(|i| i.pci_addr.as_ref() == Some(pci))
    }

    /// Every NIC of that model, in the order discovered (SR-IOV-capable or not: see
    /// [`InterfaceStatus::sriov_capable`]).
    pub fn by_ids(&self, vendor: PciId, device: PciId) -> Vec<&InterfaceStatus> {
        self.status
            .interface_status
            .iter()
            .filter(|i| i.vendor_id == Some(vendor) && i.device_id == Some(device))
            .collect()
    }
}
