//! `status`: the OVS part of the `HostNetwork` status (`plumber show`).

use plumber_render::inventory::{OvsBridgeStatus, OvsPortStatus};

use super::OvsState;

/// Every bridge with its ports (the bridge's own internal port included), sorted by name.
pub fn status(state: &OvsState) -> Vec<OvsBridgeStatus> {
    state
        .bridges
        .iter()
        .map(|b| OvsBridgeStatus {
            name: b.name.clone(),
            datapath_type: (!b.datapath_type.is_empty()).then(|| b.datapath_type.clone()),
            ports: b
                .ports
                .iter()
                .map(|p| OvsPortStatus {
                    name: p.name.clone(),
                    interfaces: p.interfaces.iter().map(|i| i.name.clone()).collect(),
                    bond_mode: p.bond_mode.clone(),
                    lacp: p.lacp.clone(),
                })
                .collect(),
        })
        .collect()
}
