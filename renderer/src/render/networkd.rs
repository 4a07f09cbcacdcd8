//! Debian and Flatcar: systemd-networkd files in `/etc/systemd/network`, one `.network` per link and one
//! `.netdev` per link plumber creates (VLAN, bond, bridge). Files are prefixed `60-plumber-` so they sort
//! before distro catch-alls (networkd uses the first `.network` file that matches a link).
//!
//! A link plumber names is plumber's: `DHCP=` and `IPv6AcceptRA=` are always written, and link-local
//! addressing is IPv6 only (the kernel's `fe80::` address stays, no IPv4LL). Members of a bond or bridge
//! get no addressing at all.

use serde::Serialize;

use crate::distro::Distro;
use crate::error::Result;
use crate::node::{Addressing, ControllerKind, LinkKind, NodeConfig};

use super::{header, render_template, Artifact};

#[derive(Serialize)]
struct NetdevCtx {
    name: String,
    kind: &'static str,
    mtu: Option<u32>,
    section: &'static str,
    settings: Vec<(&'static str, String)>,
}

#[derive(Serialize)]
struct NetworkCtx {
    name: String,
    mtu: Option<u32>,
    member: bool,
    dhcp: &'static str,
    accept_ra: bool,
    /// `VLAN=`, `Bond=`, `Bridge=`, `PrimarySlave=` lines of `[Network]`.
    network: Vec<(&'static str, String)>,
    addresses: Vec<String>,
    routes: Vec<RouteCtx>,
}

#[derive(Serialize)]
struct RouteCtx {
    destination: String,
    gateway: Option<String>,
    metric: Option<u32>,
    table: Option<u32>,
}

fn routes(a: &Addressing, v6: bool) -> impl Iterator<Item = RouteCtx> + '_ {
    a.routes.iter().map(move |r| RouteCtx {
        destination: r.to.cidr(v6).to_string(),
        gateway: r.via.map(|g| g.to_string()),
        metric: r.metric.map(|m| m.get()),
        table: r.table.map(|t| t.get()),
    })
}

fn ms(v: u32) -> String {
    format!("{v}ms")
}

pub fn render(node: &NodeConfig, distro: &Distro) -> Result<Vec<Artifact>> {
    let dir = &distro.paths.network;
    let mut out = Vec::new();
    for l in node.links.values() {
        let owners = l.owners.iter().map(String::as_str);
        let head = header(owners);
        let netdev = match &l.kind {
            LinkKind::Device => None,
            LinkKind::Vlan { id, .. } => Some(("vlan", "VLAN", vec![("Id", id.to_string())])),
            LinkKind::Bond { mode, options } => {
                let mut s = vec![("Mode", mode.as_str().to_string())];
                if let Some(v) = options.miimon {
                    s.push(("MIIMonitorSec", ms(v.get())));
                }
                if let Some(v) = options.updelay {
                    s.push(("UpDelaySec", ms(v.get())));
                }
                if let Some(v) = options.downdelay {
                    s.push(("DownDelaySec", ms(v.get())));
                }
                if let Some(v) = options.lacp_rate {
                    s.push(("LACPTransmitRate", v.as_str().to_string()));
                }
                if let Some(v) = options.xmit_hash_policy {
                    s.push(("TransmitHashPolicy", v.as_str().to_string()));
                }
                Some(("bond", "Bond", s))
            }
            LinkKind::Bridge { stp, forward_delay } => {
                // Explicit even when unset (off), as in the netplan renderer.
                let mut s = vec![(
                    "STP",
                    if stp.unwrap_or(false) { "yes" } else { "no" }.to_string(),
                )];
                if let Some(v) = forward_delay {
                    s.push(("ForwardDelaySec", v.to_string()));
                }
                Some(("bridge", "Bridge", s))
            }
        };
        if let Some((kind, section, settings)) = netdev {
            let path = format!("{dir}/60-plumber-{}.netdev", l.name);
            let ctx = NetdevCtx {
                name: l.name.clone(),
                kind,
                mtu: l.mtu,
                section,
                settings,
            };
            let content = render_template("networkd.netdev.j2", &path, &head, &ctx)?;
            out.push(Artifact::file(path, 0o644, content));
        }

        let mut network = Vec::new();
        for child in node.links.values() {
            if let LinkKind::Vlan { parent, .. } = &child.kind {
                if parent == &l.name {
                    network.push(("VLAN", child.name.clone()));
                }
            }
        }
        if let Some(c) = &l.controller {
            let key = match c.kind {
                ControllerKind::Bond => "Bond",
                ControllerKind::Bridge => "Bridge",
            };
            network.push((key, c.name.clone()));
            if let Some(LinkKind::Bond { options, .. }) = node.links.get(&c.name).map(|b| &b.kind) {
                if options
                    .primary
                    .as_ref()
                    .is_some_and(|p| p.as_str() == l.name)
                {
                    network.push(("PrimarySlave", "yes".to_string()));
                }
            }
        }
        let dhcp = match (l.ipv4.dhcp, l.ipv6.dhcp) {
            (true, true) => "yes",
            (true, false) => "ipv4",
            (false, true) => "ipv6",
            (false, false) => "no",
        };
        let ctx = NetworkCtx {
            name: l.name.clone(),
            mtu: l.mtu,
            member: l.controller.is_some(),
            dhcp,
            accept_ra: l.ipv6.dhcp,
            network,
            addresses: l
                .ipv4
                .addresses
                .iter()
                .chain(&l.ipv6.addresses)
                .map(|a| a.to_string())
                .collect(),
            routes: routes(&l.ipv4, false)
                .chain(routes(&l.ipv6, true))
                .collect(),
        };
        let path = format!("{dir}/60-plumber-{}.network", l.name);
        let content = render_template("networkd.network.j2", &path, &head, &ctx)?;
        out.push(Artifact::file(path, 0o644, content));
    }
    Ok(out)
}
