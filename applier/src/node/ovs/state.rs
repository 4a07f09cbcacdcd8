//! `OvsState`: what OVSDB holds of bridges, ports and interfaces, as far as plumber plans on it, plus
//! each port's and interface's row identity and other columns, so that a deleted port can be re-created
//! exactly as it was.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::OvsOp;

/// OVSDB's bridges (sorted by name) and `Open_vSwitch . other_config:dpdk-init`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OvsState {
    pub bridges: Vec<BridgeState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpdk_init: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BridgeState {
    pub name: String,
    /// `datapath_type`: `system`, `netdev`, or empty (OVS's default, the kernel datapath).
    pub datapath_type: String,
    /// Sorted by name; includes the bridge's own internal port.
    pub ports: Vec<PortState>,
}

/// One Port row. `uuid` and `extra` are not compared by [`plan`](fn@super::plan): they let the inverse of
/// a deletion re-create the row as it was (same UUIDs, same `external_ids`, `tag`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PortState {
    pub(crate) name: String,
    /// Sorted by name when discovered; in the templates' order when planned.
    pub interfaces: Vec<IfaceState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lacp: Option<String>,
    /// The row's `_uuid`, when discovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Other configuration columns with a non-default value, as OVSDB JSON (`["map",[["k","v"]]]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) extra: BTreeMap<String, serde_json::Value>,
}

/// One Interface row (see [`PortState`] for `uuid` and `extra`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IfaceState {
    pub name: String,
    /// `type`: empty for a system interface, `dpdk`, `internal`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// All of `options` (`dpdk-devargs` is the one plumber sets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu_request: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) extra: BTreeMap<String, serde_json::Value>,
}

impl IfaceState {
    pub fn dpdk_devargs(&self) -> Option<&str> {
        self.options.get("dpdk-devargs").map(String::as_str)
    }
}

impl PortState {
    /// The names of the port's interfaces, as a set.
    pub(crate) fn interface_names(&self) -> BTreeSet<&str> {
        self.interfaces.iter().map(|i| i.name.as_str()).collect()
    }

    pub(crate) fn interface(&self, name: &str) -> Option<&IfaceState> {
        self.interfaces.iter().find(|i| i.name == name)
    }
}

impl OvsState {
    pub fn bridge(&self, name: &str) -> Option<&BridgeState> {
        self.bridges.iter().find(|b| b.name == name)
    }

    /// The port named `name` and the bridge it is on.
    pub fn port(&self, name: &str) -> Option<(&BridgeState, &PortState)> {
        self.bridges
            .iter()
            .find_map(|b| b.ports.iter().find(|p| p.name == name).map(|p| (b, p)))
    }

    /// The port that holds interface `iface`, and its bridge.
    pub(crate) fn port_of(&self, iface: &str) -> Option<(&BridgeState, &PortState)> {
        self.bridges.iter().find_map(|b| {
            b.ports
                .iter()
                .find(|p| p.interfaces.iter().any(|i| i.name == iface))
                .map(|p| (b, p))
        })
    }

    pub fn interface(&self, name: &str) -> Option<&IfaceState> {
        self.port_of(name).and_then(|(_, p)| p.interface(name))
    }

    fn bridge_mut(&mut self, name: &str) -> Option<&mut BridgeState> {
        self.bridges.iter_mut().find(|b| b.name == name)
    }

    fn port_mut(&mut self, name: &str) -> Option<&mut PortState> {
        self.bridges
            .iter_mut()
            .flat_map(|b| b.ports.iter_mut())
            .find(|p| p.name == name)
    }

    fn interface_mut(&mut self, name: &str) -> Option<&mut IfaceState> {
        self.bridges
            .iter_mut()
            .flat_map(|b| b.ports.iter_mut())
            .flat_map(|p| p.interfaces.iter_mut())
            .find(|i| i.name == name)
    }

    /// What OVSDB holds after `op` succeeds, as far as this model goes (the planner's simulation; a
    /// new bridge gets its internal port like `add-br` makes it). An op that does not apply (a port on
    /// no bridge) changes nothing: ovs-vsctl would fail it.
    pub(crate) fn apply(&mut self, op: &OvsOp) {
        match op {
            OvsOp::SetDpdkInit { value, .. } => self.dpdk_init = value.clone(),
            OvsOp::AddBridge {
                name,
                datapath_type,
            } => {
                if self.bridge(name).is_none() {
                    self.bridges.push(BridgeState {
                        name: name.clone(),
                        datapath_type: datapath_type.clone(),
                        ports: vec![PortState {
                            name: name.clone(),
                            interfaces: vec![IfaceState {
                                name: name.clone(),
                                kind: "internal".into(),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                    });
                    self.bridges.sort_by(|a, b| a.name.cmp(&b.name));
                }
            }
            OvsOp::DelBridge { name, .. } => self.bridges.retain(|b| &b.name != name),
            OvsOp::SetDatapath {
                bridge,
                datapath_type,
                ..
            } => {
                if let Some(b) = self.bridge_mut(bridge) {
                    b.datapath_type = datapath_type.clone();
                }
            }
            OvsOp::AddPort { bridge, port } => {
                if let Some(b) = self.bridge_mut(bridge) {
                    b.ports.push(port.clone());
                    b.ports.sort_by(|a, b| a.name.cmp(&b.name));
                }
            }
            OvsOp::DelPort { bridge, port } => {
                if let Some(b) = self.bridge_mut(bridge) {
                    b.ports.retain(|p| p.name != port.name);
                }
            }
            OvsOp::SetBondMode { port, value, .. } => {
                if let Some(p) = self.port_mut(port) {
                    p.bond_mode = value.clone();
                }
            }
            OvsOp::SetLacp { port, value, .. } => {
                if let Some(p) = self.port_mut(port) {
                    p.lacp = value.clone();
                }
            }
            OvsOp::SetIfaceType { iface, kind, .. } => {
                if let Some(i) = self.interface_mut(iface) {
                    i.kind = kind.clone();
                }
            }
            OvsOp::SetDevargs { iface, value, .. } => {
                if let Some(i) = self.interface_mut(iface) {
                    match value {
                        Some(v) => i.options.insert("dpdk-devargs".into(), v.clone()),
                        None => i.options.remove("dpdk-devargs"),
                    };
                }
            }
            OvsOp::SetMtuRequest { iface, value, .. } => {
                if let Some(i) = self.interface_mut(iface) {
                    i.mtu_request = *value;
                }
            }
        }
    }
}
