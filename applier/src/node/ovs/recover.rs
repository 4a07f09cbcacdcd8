//! Undoing the OVS transaction of an apply that a crash interrupted: given the ops it meant to carry
//! out (its journal) and OVSDB as it is now, the ops that put OVSDB back as it was. The transaction is
//! atomic, so it either happened or did not; each op is undone only when its effect is there (walking
//! the journal last first, on a model that takes in each undo), which gives all of the inverses after
//! a commit and none before it, and nothing on OVSDB as it was (how a recovery is verified).

use super::{OvsOp, OvsState};

/// The ops that undo what is there of `journal` on `current`, to run as one transaction. Pure.
pub(crate) fn recovery(journal: &[OvsOp], current: &OvsState) -> Vec<OvsOp> {
    let mut m = current.clone();
    let mut undo = Vec::new();
    for op in journal.iter().rev() {
        if done(op, &m) {
            let inverse = op.inverse();
            m.apply(&inverse);
            undo.push(inverse);
        }
    }
    undo
}

/// Whether the effect of `op` is on `s`.
fn done(op: &OvsOp, s: &OvsState) -> bool {
    match op {
        OvsOp::SetDpdkInit { value, previous } => value != previous && s.dpdk_init == *value,
        OvsOp::AddBridge { name, .. } => s.bridge(name).is_some(),
        OvsOp::DelBridge { name, .. } => s.bridge(name).is_none(),
        OvsOp::SetDatapath {
            bridge,
            datapath_type,
            previous,
        } => {
            datapath_type != previous
                && s.bridge(bridge)
                    .is_some_and(|b| b.datapath_type == *datapath_type)
        }
        // A port re-created with other interfaces has the same name: it is the new one only with
        // the new interfaces.
        OvsOp::AddPort { bridge, port } => s.bridge(bridge).is_some_and(|b| {
            b.ports
                .iter()
                .any(|p| p.name == port.name && p.interface_names() == port.interface_names())
        }),
        OvsOp::DelPort { bridge, port } => {
            s.bridge(bridge).is_some() && s.port(&port.name).is_none()
        }
        OvsOp::SetBondMode {
            port,
            value,
            previous,
        } => value != previous && s.port(port).is_some_and(|(_, p)| p.bond_mode == *value),
        OvsOp::SetLacp {
            port,
            value,
            previous,
        } => value != previous && s.port(port).is_some_and(|(_, p)| p.lacp == *value),
        OvsOp::SetIfaceType {
            iface,
            kind,
            previous,
        } => kind != previous && s.interface(iface).is_some_and(|i| i.kind == *kind),
        OvsOp::SetDevargs {
            iface,
            value,
            previous,
        } => {
            value != previous
                && s.interface(iface)
                    .is_some_and(|i| i.dpdk_devargs() == value.as_deref())
        }
        OvsOp::SetMtuRequest {
            iface,
            value,
            previous,
        } => value != previous && s.interface(iface).is_some_and(|i| i.mtu_request == *value),
    }
}
