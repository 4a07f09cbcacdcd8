//! `plan`: the boot script's semantics as a pure function. Each op is applied to a copy of the current
//! state as it is planned, so later decisions see earlier ones (a port deleted to free an interface is
//! not deleted twice) and planning again on the result is empty.

use std::collections::BTreeSet;

use plumber_render::node::{OvsBridge, OvsInterface, OvsPort};

use super::state::{IfaceState, OvsState, PortState};
use super::OvsOp;

fn datapath(b: &OvsBridge) -> &'static str {
    if b.dpdk {
        "netdev"
    } else {
        "system"
    }
}

/// A listed port as it is created: the interfaces with their settings; bond mode and lacp only on a
/// bond (the script sets them only there).
fn new_port(p: &OvsPort) -> PortState {
    PortState {
        name: p.name.clone(),
        interfaces: p.interfaces.iter().map(new_iface).collect(),
        bond_mode: p
            .bond_mode
            .filter(|_| p.is_bond())
            .map(|m| m.as_str().to_string()),
        lacp: p
            .lacp
            .filter(|_| p.is_bond())
            .map(|l| l.as_str().to_string()),
        ..Default::default()
    }
}

fn new_iface(i: &OvsInterface) -> IfaceState {
    let mut s = IfaceState {
        name: i.name.clone(),
        mtu_request: i.mtu_request,
        ..Default::default()
    };
    if let Some(a) = i.dpdk_devargs {
        s.kind = "dpdk".into();
        s.options.insert("dpdk-devargs".into(), a.to_string());
    }
    s
}

/// The ops that make `current` hold `desired` (see the module doc of [`crate::node::ovs`]).
pub fn plan(desired: &[OvsBridge], current: &OvsState) -> Vec<OvsOp> {
    let mut st = current.clone();
    let mut ops = Vec::new();
    let mut push = |st: &mut OvsState, op: OvsOp| {
        st.apply(&op);
        ops.push(op);
    };

    if desired.iter().any(|b| b.dpdk) && st.dpdk_init.as_deref() != Some("true") {
        let op = OvsOp::SetDpdkInit {
            value: Some("true".into()),
            previous: st.dpdk_init.clone(),
        };
        push(&mut st, op);
    }

    for b in desired {
        let dp = datapath(b);
        match st.bridge(&b.name) {
            None => push(
                &mut st,
                OvsOp::AddBridge {
                    name: b.name.clone(),
                    datapath_type: dp.into(),
                },
            ),
            Some(cur) if cur.datapath_type != dp => {
                let op = OvsOp::SetDatapath {
                    bridge: b.name.clone(),
                    datapath_type: dp.into(),
                    previous: cur.datapath_type.clone(),
                };
                push(&mut st, op);
            }
            Some(_) => {}
        }
        // The bridge's own interface: `mtu_request` when the template states one (HostPlumber's place
        // for it; a host address on the bridge uses this MTU), else left as it is.
        if let Some(m) = b.mtu_request {
            if let Some(have) = st.interface(&b.name).map(|i| i.mtu_request) {
                if have != Some(m) {
                    let op = OvsOp::SetMtuRequest {
                        iface: b.name.clone(),
                        value: Some(m),
                        previous: have,
                    };
                    push(&mut st, op);
                }
            }
        }

        for p in &b.ports {
            let want: BTreeSet<&str> = p.interfaces.iter().map(|i| i.name.as_str()).collect();
            // make_room: the port on another bridge or with other interfaces goes ...
            if let Some((on, cur)) = st.port(&p.name) {
                if on.name != b.name || cur.interface_names() != want {
                    let op = OvsOp::DelPort {
                        bridge: on.name.clone(),
                        port: cur.clone(),
                    };
                    push(&mut st, op);
                }
            }
            // ... and so does another port that holds one of its interfaces.
            for i in &p.interfaces {
                if let Some((on, owner)) = st.port_of(&i.name) {
                    if owner.name != p.name {
                        let op = OvsOp::DelPort {
                            bridge: on.name.clone(),
                            port: owner.clone(),
                        };
                        push(&mut st, op);
                    }
                }
            }

            let Some((_, cur)) = st.port(&p.name) else {
                push(
                    &mut st,
                    OvsOp::AddPort {
                        bridge: b.name.clone(),
                        port: new_port(p),
                    },
                );
                continue;
            };
            // The port is there as listed: converge its settings.
            let cur = cur.clone();
            if p.is_bond() {
                let mode = p.bond_mode.map(|m| m.as_str().to_string());
                if cur.bond_mode != mode {
                    push(
                        &mut st,
                        OvsOp::SetBondMode {
                            port: p.name.clone(),
                            value: mode,
                            previous: cur.bond_mode.clone(),
                        },
                    );
                }
                let lacp = p.lacp.map(|l| l.as_str().to_string());
                if cur.lacp != lacp {
                    push(
                        &mut st,
                        OvsOp::SetLacp {
                            port: p.name.clone(),
                            value: lacp,
                            previous: cur.lacp.clone(),
                        },
                    );
                }
            }
            for i in &p.interfaces {
                let Some(have) = cur.interface(&i.name) else {
                    continue;
                };
                if let Some(a) = i.dpdk_devargs {
                    if have.kind != "dpdk" {
                        push(
                            &mut st,
                            OvsOp::SetIfaceType {
                                iface: i.name.clone(),
                                kind: "dpdk".into(),
                                previous: have.kind.clone(),
                            },
                        );
                    }
                    let a = a.to_string();
                    if have.dpdk_devargs() != Some(a.as_str()) {
                        push(
                            &mut st,
                            OvsOp::SetDevargs {
                                iface: i.name.clone(),
                                value: Some(a),
                                previous: have.dpdk_devargs().map(str::to_string),
                            },
                        );
                    }
                }
                if have.mtu_request != i.mtu_request {
                    push(
                        &mut st,
                        OvsOp::SetMtuRequest {
                            iface: i.name.clone(),
                            value: i.mtu_request,
                            previous: have.mtu_request,
                        },
                    );
                }
            }
        }
    }
    ops
}
