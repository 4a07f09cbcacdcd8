//! Letting go of OVS bridges and ports plumber created for templates that no longer ask for them (see
//! [`crate::node::plan::release()`] for the links). A port is deleted when no desired bridge lists it;
//! a bridge only when no desired template lists it and every port left on it was plumber's (deleting a
//! bridge deletes its ports, and other software adds its own to the same bridges).
//!
//! It runs on OVSDB as the plan leaves it: a port the plan already deletes (one plumber made under an
//! older name, which holds an interface of a listed port) is not deleted twice (ovs-vsctl would fail
//! the transaction), and is still no longer plumber's.

use plumber_render::node::OvsBridge;

use super::{OvsOp, OvsState};

/// The ops that remove the `owned` bridges and `[bridge, port]`s that `desired` no longer lists, from
/// `current` once the `planned` ops are carried out.
pub(crate) fn release(
    owned_bridges: &[String],
    owned_ports: &[(String, String)],
    desired: &[OvsBridge],
    current: &OvsState,
    planned: &[OvsOp],
) -> Vec<OvsOp> {
    let mut after = current.clone();
    for op in planned {
        after.apply(op);
    }
    let current = &after;
    let wanted_port = |name: &str| {
        desired
            .iter()
            .any(|b| b.ports.iter().any(|p| p.name == name))
    };
    let mut ops = Vec::new();
    let mut gone: Vec<(&str, &str)> = Vec::new();
    for (bridge, port) in owned_ports {
        if wanted_port(port) {
            continue;
        }
        if let Some((on, state)) = current.port(port) {
            if &on.name == bridge {
                ops.push(OvsOp::DelPort {
                    bridge: bridge.clone(),
                    port: state.clone(),
                });
                gone.push((bridge, port));
            }
        }
    }
    for name in owned_bridges {
        if desired.iter().any(|b| &b.name == name) {
            continue;
        }
        let Some(b) = current.bridge(name) else {
            continue;
        };
        // ovs-vsctl's add-br makes a port named after the bridge (its internal interface).
        let foreign = b
            .ports
            .iter()
            .any(|p| p.name != b.name && !gone.contains(&(name.as_str(), p.name.as_str())));
        if !foreign {
            ops.push(OvsOp::DelBridge {
                name: b.name.clone(),
                datapath_type: b.datapath_type.clone(),
            });
        }
    }
    ops
}
