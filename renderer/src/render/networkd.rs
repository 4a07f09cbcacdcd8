//! Debian and Flatcar: systemd-networkd files in `/etc/systemd/network`, one `.network` per link and one
//! `.netdev` per link plumber creates (VLAN, bond, bridge). Files are prefixed `60-plumber-` so they sort
//! before distro catch-alls (networkd uses the first `.network` file that matches a link).
//!
//! A link whose addresses a template states is plumber's: `DHCP=` is always written, `IPv6AcceptRA=`
//! when IPv6 is stated (otherwise networkd's default, as the kernel's), and link-local addressing is
//! IPv6 only (the kernel's `fe80::` address stays, no IPv4LL). Members of a bond or bridge get no
//! addressing at all.
//!
//! A NIC whose addresses no template states gets no `.network` at all: networkd applies only the first
//! matching one, which would replace the host's. Its MTU and the VLANs on it come from
//! `81-plumber-links.rules` (see `host_links`), so those VLANs get their `.network` here but no
//! `.netdev` (networkd creates a VLAN only from its parent's `.network`). A NIC whose IPv6 is stated but
//! not its IPv4 is refused, naming the fix.

use serde::Serialize;

use crate::distro::{Distro, NetworkFormat};
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
    /// `None`: IPv6 not stated, networkd's default.
    accept_ra: Option<bool>,
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
        let path = format!("{dir}/60-plumber-{}.network", l.name);
        if l.host_keeps_l3() {
            continue;
        }
        super::refuse_unstated_ipv4(l, &path, "systemd-networkd")?;
        let by_rule = super::host_links::vlan_made_by_rule(node, l, NetworkFormat::Networkd);
        let netdev = match &l.kind {
            LinkKind::Device => None,
            LinkKind::Vlan { .. } if by_rule => None,
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
        let (v4, v6) = (l.written_family(false), l.written_family(true));
        let dhcp = match (v4.is_some_and(|a| a.dhcp), v6.is_some_and(|a| a.dhcp)) {
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
            accept_ra: v6.map(|a| a.dhcp),
            network,
            addresses: l.addresses().map(|a| a.to_string()).collect(),
            routes: v4
                .into_iter()
                .flat_map(|a| routes(a, false))
                .chain(v6.into_iter().flat_map(|a| routes(a, true)))
                .collect(),
        };
        let content = render_template("networkd.network.j2", &path, &head, &ctx)?;
        out.push(Artifact::file(path, 0o644, content));
    }
    Ok(out)
}
