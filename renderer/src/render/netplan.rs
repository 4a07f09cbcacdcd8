//! Ubuntu: one netplan file, `/etc/netplan/60-plumber.yaml` (mode 0600, as netplan asks of files that may
//! hold secrets).
//!
//! Netplan merges files by interface id, later files winning key by key. plumber writes only what the
//! templates state: a NIC named for its MTU or VLANs gets `mtu:` (or `{}`), and its addresses, DHCP and
//! routes stay those of the host's own file (`50-cloud-init.yaml`). A family the templates state is
//! written with every key it owns (`dhcp4: false`, `accept-ra: false` when IPv6 is static) so that the
//! distro's file cannot add DHCP or SLAAC addresses behind plumber's back. (Caveat: a host file that
//! defines the NIC under another id, with `match:` and `set-name:`, is a second definition, not merged.) Default routes are written as `0.0.0.0/0` / `::/0`,
//! which every netplan since Ubuntu 20.04 accepts (`to: default` came later).
//!
//! SR-IOV and OVS are *not* expressed in netplan syntax: netplan cannot bind VF drivers, match a PF by
//! vendor/device for `virtual-function-count`, or build DPDK ports, so plumber uses the same udev rules and
//! ovs-vsctl script on every distro instead of a netplan-only variant that behaves differently.

use serde::Serialize;

use crate::distro::Distro;
use crate::error::Result;
use crate::node::{Addressing, ControllerKind, Link, LinkKind, NodeConfig};

use super::{header, render_template, Artifact};

#[derive(Serialize)]
struct Ctx {
    ethernets: Vec<Entry>,
    vlans: Vec<Entry>,
    bonds: Vec<Entry>,
    bridges: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    /// `id`/`link` for VLANs.
    id: Option<u16>,
    link: Option<String>,
    interfaces: Vec<String>,
    parameters: Vec<(String, ParamValue)>,
    mtu: Option<u32>,
    /// Members of a bond or bridge carry no addressing of their own.
    member: bool,
    /// `None`: the family is not stated, its keys are left to the host's files.
    dhcp4: Option<bool>,
    dhcp6: Option<bool>,
    accept_ra: Option<bool>,
    addresses: Vec<String>,
    routes: Vec<RouteCtx>,
    /// Nothing to write but the interface's existence (`eno2: {}`).
    empty: bool,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ParamValue {
    Str(String),
    Num(u32),
    Bool(bool),
}

#[derive(Serialize)]
struct RouteCtx {
    to: String,
    via: Option<String>,
    metric: Option<u32>,
    table: Option<u32>,
}

fn routes(a: &Addressing, v6: bool) -> Vec<RouteCtx> {
    a.routes
        .iter()
        .map(|r| RouteCtx {
            to: r.to.cidr(v6).to_string(),
            via: r.via.map(|v| v.to_string()),
            metric: r.metric.map(|m| m.get()),
            table: r.table.map(|t| t.get()),
        })
        .collect()
}

fn entry(node: &NodeConfig, l: &Link) -> Entry {
    let members = |kind: ControllerKind| -> Vec<String> {
        node.links
            .values()
            .filter(|m| {
                m.controller
                    .as_ref()
                    .is_some_and(|c| c.name == l.name && c.kind == kind)
            })
            .map(|m| m.name.clone())
            .collect()
    };
    let (v4, v6) = (l.written_family(false), l.written_family(true));
    let mut e = Entry {
        name: l.name.clone(),
        id: None,
        link: None,
        interfaces: Vec::new(),
        parameters: Vec::new(),
        mtu: l.mtu,
        member: l.controller.is_some(),
        dhcp4: v4.map(|a| a.dhcp),
        dhcp6: v6.map(|a| a.dhcp),
        accept_ra: v6.map(|a| a.dhcp),
        addresses: v4
            .into_iter()
            .chain(v6)
            .flat_map(|a| a.addresses.iter())
            .map(|a| a.to_string())
            .collect(),
        routes: v4
            .map(|a| routes(a, false))
            .into_iter()
            .chain(v6.map(|a| routes(a, true)))
            .flatten()
            .collect(),
        empty: false,
    };
    match &l.kind {
        LinkKind::Device => {}
        LinkKind::Vlan { parent, id } => {
            e.id = Some(*id);
            e.link = Some(parent.clone());
        }
        LinkKind::Bond { mode, options } => {
            e.interfaces = members(ControllerKind::Bond);
            let p = &mut e.parameters;
            p.push(("mode".into(), ParamValue::Str(mode.as_str().into())));
            if let Some(v) = options.miimon {
                p.push(("mii-monitor-interval".into(), ParamValue::Num(v.get())));
            }
            if let Some(v) = options.updelay {
                p.push(("up-delay".into(), ParamValue::Num(v.get())));
            }
            if let Some(v) = options.downdelay {
                p.push(("down-delay".into(), ParamValue::Num(v.get())));
            }
            if let Some(v) = options.lacp_rate {
                p.push(("lacp-rate".into(), ParamValue::Str(v.as_str().into())));
            }
            if let Some(v) = options.xmit_hash_policy {
                p.push((
                    "transmit-hash-policy".into(),
                    ParamValue::Str(v.as_str().into()),
                ));
            }
            if let Some(v) = &options.primary {
                p.push(("primary".into(), ParamValue::Str(v.to_string())));
            }
        }
        LinkKind::Bridge { stp, forward_delay } => {
            e.interfaces = members(ControllerKind::Bridge);
            // netplan turns STP on when it is not mentioned; the kernel, networkd and ifcfg default to
            // off. Always say it, so every distro gets the same bridge.
            e.parameters
                .push(("stp".into(), ParamValue::Bool(stp.unwrap_or(false))));
            if let Some(d) = forward_delay {
                e.parameters
                    .push(("forward-delay".into(), ParamValue::Num(*d)));
            }
        }
    }
    e.empty = e.id.is_none()
        && e.interfaces.is_empty()
        && e.parameters.is_empty()
        && e.mtu.is_none()
        && !e.member
        && e.dhcp4.is_none()
        && e.dhcp6.is_none();
    e
}

pub fn render(node: &NodeConfig, distro: &Distro) -> Result<Vec<Artifact>> {
    if node.links.is_empty() {
        return Ok(Vec::new());
    }
    let mut ctx = Ctx {
        ethernets: vec![],
        vlans: vec![],
        bonds: vec![],
        bridges: vec![],
    };
    for l in node.links.values() {
        let e = entry(node, l);
        match l.kind {
            LinkKind::Device => ctx.ethernets.push(e),
            LinkKind::Vlan { .. } => ctx.vlans.push(e),
            LinkKind::Bond { .. } => ctx.bonds.push(e),
            LinkKind::Bridge { .. } => ctx.bridges.push(e),
        }
    }
    let path = format!("{}/60-plumber.yaml", distro.paths.network);
    let owners = node.template_names();
    let content = render_template("netplan.yaml.j2", &path, &header(owners), &ctx)?;
    Ok(vec![Artifact::file(path, 0o600, content)])
}
