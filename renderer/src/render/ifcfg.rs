//! RHEL 8: initscripts-style files in `/etc/sysconfig/network-scripts`, one set per link:
//! `ifcfg-<name>` (always), `route-<name>` (IPv4 routes, key-value form) and `route6-<name>` (IPv6
//! routes, one `ip -6 route` argument line each). NetworkManager's ifcfg-rh plugin reads them (the
//! default on RHEL 8), and so does the deprecated `network-scripts` package where installed.
//!
//! Both readers treat `ifcfg-*` and `route-*` as shell variable assignments (network-scripts sources
//! them, ifcfg-rh parses shell quoting), so every value goes through the shell-word escaping of the
//! template environment. `route6-*` files are not sourced: each line is split on blanks and handed to
//! `ip -6 route add` (network-scripts) or NetworkManager's route-line parser, so they carry no quoting
//! at all; they only hold addresses, prefixes, numbers and the keywords `via`, `metric`, `table`, and
//! are merely checked to be well-formed shell (`bash -n`).
//!
//! Decisions:
//!
//! * **Default routes use `GATEWAY=` / `IPV6_DEFAULTGW=` in the ifcfg file, not the route files.** The
//!   first default route of a family that has a gateway and no table, on a link with static addresses of
//!   that family, becomes the link's gateway. Both readers have always understood these keys, while a
//!   default route in a route file is not portable across RHEL 8: the ifcfg-rh reader of older
//!   NetworkManager releases (the 1.2x ones of early RHEL 8 minors) rejects the *whole* connection when a
//!   key-value route file says `NETMASKn=0.0.0.0` ("Invalid IP4 netmask") and drops `default`/`::/0`
//!   lines of route files with a warning.
//!   network-scripts only installs `GATEWAY=` when it lies in the subnet of the first address, which
//!   plumber does not reorder. Its metric goes to `IPV4_ROUTE_METRIC=`/`IPV6_ROUTE_METRIC=`
//!   (NetworkManager, which also gives it to the link's prefix routes and to routes without a metric of
//!   their own) and `METRIC=` (network-scripts, IPv4 only). Other default routes (in a table, without a
//!   gateway, a second one, or on a DHCP-only link) stay in the route files as `0.0.0.0`/`::/0` routes,
//!   which need a NetworkManager that accepts them (the 1.30+ of later RHEL 8 minors does).
//! * **`DEFROUTE=yes` exactly when the link has a default route of that family or takes one from
//!   DHCP/RA**, `no` otherwise: a link plumber configures then never becomes the default route through
//!   `/etc/sysconfig/network`'s `GATEWAY`/`GATEWAYDEV`, and a DHCP link keeps the DHCP router, as with
//!   the netplan and networkd renderers. Same for `IPV6_DEFROUTE=`.
//! * **`IPV6INIT=yes` on every link that is not a member**, with `IPV6_AUTOCONF=no DHCPV6C=no` unless
//!   IPv6 DHCP is on. With `IPV6INIT=no` NetworkManager uses method `ignore` and hands the link back to
//!   the kernel, which keeps accepting router advertisements and would add SLAAC addresses and default
//!   routes behind plumber's back; `IPV6_AUTOCONF=no` without addresses is method `link-local` instead:
//!   the `fe80::` address only, like `LinkLocalAddressing=ipv6` + `IPv6AcceptRA=no` in the networkd
//!   files. IPv6 DHCP is `IPV6_AUTOCONF=yes DHCPV6C=yes`: NetworkManager method `auto` (SLAAC, and
//!   DHCPv6 when the router asks for it); network-scripts run `dhclient -6` as well, and give up on
//!   the link when no DHCPv6 server answers and it has no IPv4 (their ifup-eth only forgives that
//!   with IPv4 DHCP or a bare `IPADDR=`).
//! * **A NIC whose addresses no template states gets no `ifcfg-` file**: its own file (the installer's)
//!   stays in charge; `ifcfg-<vlan>` names the parent with `PHYSDEV=` and needs none, and the NIC's MTU
//!   comes from `81-plumber-links.rules`. Stated IPv4 with unstated IPv6 writes `IPV6INIT=no` (method
//!   `ignore`: the kernel's own behaviour); stated IPv6 with unstated IPv4 is refused.
//! * **Members of a bond or bridge get no addressing keys** but `BOOTPROTO=none`: both readers ignore IP
//!   settings on ports (validation already refuses addresses on members; a member with addressing here
//!   is a bug and an error).
//! * `STP=`/`DELAY=` only when the template sets them: both readers default to STP off and the kernel's
//!   15 s forward delay. `NM_CONTROLLED`, `NAME`, `UUID` and `HWADDR` are not written.
//! * NetworkManager ignores routes on a link whose IPv4 method is `disabled` (no address, no DHCP);
//!   ifcfg files cannot express such routes for it.

use serde::Serialize;
use std::net::IpAddr;

use crate::distro::Distro;
use crate::error::{Error, Result};
use crate::model::{Route, RouteDest};
use crate::node::{Addressing, ControllerKind, Link, LinkKind, NodeConfig, NO_ADDRESSING};

use super::{header, render_template, Artifact};

/// Context of `ifcfg.sh.j2`. Every string is printed through shell escaping.
#[derive(Debug, Serialize)]
struct IfcfgCtx {
    device: String,
    /// `TYPE=`: Ethernet, Vlan, Bond or Bridge.
    kind: &'static str,
    vlan: Option<VlanCtx>,
    /// `BONDING_OPTS=`, one value with the options separated by spaces.
    bonding_opts: Option<String>,
    stp: Option<bool>,
    delay: Option<u32>,
    mtu: Option<u32>,
    /// `MASTER=` (bond members).
    master: Option<String>,
    /// `BRIDGE=` (bridge members).
    bridge: Option<String>,
    bootproto: &'static str,
    /// Addressing keys; `None` for members of a bond or bridge.
    ip: Option<IpCtx>,
}

#[derive(Debug, Serialize)]
struct VlanCtx {
    parent: String,
    id: u16,
}

#[derive(Debug, Serialize)]
struct IpCtx {
    /// `IPADDRn`/`PREFIXn`, n from 0.
    ipv4: Vec<AddrCtx>,
    gateway: Option<String>,
    gateway_metric: Option<u32>,
    defroute: bool,
    /// `IPV6INIT=yes` with the keys below, or `no` when IPv6 is not stated (the kernel's own behaviour).
    ipv6_init: bool,
    ipv6_dhcp: bool,
    ipv6addr: Option<String>,
    /// The other IPv6 addresses, space-separated (one shell word once quoted).
    ipv6addr_secondaries: Option<String>,
    ipv6_defaultgw: Option<String>,
    ipv6_gateway_metric: Option<u32>,
    ipv6_defroute: bool,
}

#[derive(Debug, Serialize)]
struct AddrCtx {
    address: String,
    prefix: u8,
}

/// One `ADDRESSn`/`NETMASKn`/`GATEWAYn`/`METRICn`/`OPTIONSn` group of `route.sh.j2`.
#[derive(Debug, Serialize)]
struct Route4Ctx {
    address: String,
    netmask: String,
    gateway: Option<String>,
    metric: Option<u32>,
    options: Option<String>,
}

/// One line of `route6.sh.j2`: the prefix, then keyword/value pairs.
#[derive(Debug, Serialize)]
struct Route6Ctx {
    to: String,
    args: Vec<(&'static str, String)>,
}

#[derive(Debug, Serialize)]
struct RoutesCtx<T> {
    routes: Vec<T>,
}

/// The index in `a.routes` of the default route written as `GATEWAY=`/`IPV6_DEFAULTGW=` (see the module
/// documentation): the first default route with a gateway of the family and no table, when the link has
/// static addresses of that family.
fn gateway_route(a: &Addressing, v6: bool) -> Option<usize> {
    if a.addresses.is_empty() {
        return None;
    }
    a.routes.iter().position(|r| {
        r.to == RouteDest::Default && r.table.is_none() && r.via.is_some_and(|g| g.is_ipv6() == v6)
    })
}

/// IPv6 link-local gateways need the interface (`fe80::1%eth0`) for network-scripts; NetworkManager
/// strips the suffix.
fn ipv6_gateway(via: IpAddr, dev: &str) -> String {
    match via {
        IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => format!("{a}%{dev}"),
        other => other.to_string(),
    }
}

fn has_default(a: &Addressing) -> bool {
    a.routes.iter().any(|r| r.to == RouteDest::Default)
}

/// `v4` is always written (see `refuse_unstated_ipv4`); `v6` is `None` when IPv6 is not stated.
fn ip_ctx(l: &Link, v4: &Addressing, v6: Option<&Addressing>) -> IpCtx {
    let v6a = v6.unwrap_or(&NO_ADDRESSING);
    let gw4 = gateway_route(v4, false).map(|i| &v4.routes[i]);
    let gw6 = gateway_route(v6a, true).map(|i| &v6a.routes[i]);
    let v6s: Vec<String> = v6a.addresses.iter().map(|a| a.to_string()).collect();
    IpCtx {
        ipv4: v4
            .addresses
            .iter()
            .map(|a| AddrCtx {
                address: a.addr.to_string(),
                prefix: a.prefix,
            })
            .collect(),
        gateway: gw4.and_then(|r| r.via).map(|g| g.to_string()),
        gateway_metric: gw4.and_then(|r| r.metric).map(|m| m.get()),
        defroute: v4.dhcp || has_default(v4),
        ipv6_init: v6.is_some(),
        ipv6_dhcp: v6a.dhcp,
        ipv6addr: v6s.first().cloned(),
        ipv6addr_secondaries: (v6s.len() > 1).then(|| v6s[1..].join(" ")),
        ipv6_defaultgw: gw6.and_then(|r| r.via).map(|g| ipv6_gateway(g, &l.name)),
        ipv6_gateway_metric: gw6.and_then(|r| r.metric).map(|m| m.get()),
        ipv6_defroute: v6a.dhcp || has_default(v6a),
    }
}

/// The routes of a family that go to the route file: all but the one written as the gateway.
fn file_routes(a: &Addressing, v6: bool) -> impl Iterator<Item = &Route> {
    let skip = gateway_route(a, v6);
    a.routes
        .iter()
        .enumerate()
        .filter(move |(i, _)| Some(*i) != skip)
        .map(|(_, r)| r)
}

fn route4(r: &Route, artifact: &str) -> Result<Route4Ctx> {
    let c = r.to.cidr(false);
    let netmask = c.netmask_v4().ok_or_else(|| Error::Render {
        artifact: artifact.to_string(),
        message: format!("{c} is not an IPv4 destination"),
    })?;
    Ok(Route4Ctx {
        address: c.addr.to_string(),
        netmask: netmask.to_string(),
        gateway: r.via.map(|g| g.to_string()),
        metric: r.metric.map(|m| m.get()),
        options: r.table.map(|t| format!("table {t}")),
    })
}

fn route6(r: &Route) -> Route6Ctx {
    let mut args = Vec::new();
    if let Some(g) = r.via {
        args.push(("via", g.to_string()));
    }
    if let Some(m) = r.metric {
        args.push(("metric", m.to_string()));
    }
    if let Some(t) = r.table {
        args.push(("table", t.to_string()));
    }
    Route6Ctx {
        to: r.to.cidr(true).to_string(),
        args,
    }
}

fn bonding_opts(l: &Link) -> Option<String> {
    let LinkKind::Bond { mode, options: o } = &l.kind else {
        return None;
    };
    let mut v = vec![format!("mode={}", mode.as_str())];
    if let Some(x) = o.miimon {
        v.push(format!("miimon={}", x.get()));
    }
    if let Some(x) = o.updelay {
        v.push(format!("updelay={}", x.get()));
    }
    if let Some(x) = o.downdelay {
        v.push(format!("downdelay={}", x.get()));
    }
    if let Some(x) = o.lacp_rate {
        v.push(format!("lacp_rate={}", x.as_str()));
    }
    if let Some(x) = o.xmit_hash_policy {
        v.push(format!("xmit_hash_policy={}", x.as_str()));
    }
    if let Some(x) = &o.primary {
        v.push(format!("primary={x}"));
    }
    Some(v.join(" "))
}

fn ifcfg_ctx(l: &Link, artifact: &str) -> Result<IfcfgCtx> {
    let (kind, vlan, stp, delay) = match &l.kind {
        LinkKind::Device => ("Ethernet", None, None, None),
        LinkKind::Vlan { parent, id } => (
            "Vlan",
            Some(VlanCtx {
                parent: parent.clone(),
                id: *id,
            }),
            None,
            None,
        ),
        LinkKind::Bond { .. } => ("Bond", None, None, None),
        LinkKind::Bridge { stp, forward_delay } => ("Bridge", None, *stp, *forward_delay),
    };
    let (master, bridge) = match &l.controller {
        Some(c) if c.kind == ControllerKind::Bond => (Some(c.name.clone()), None),
        Some(c) => (None, Some(c.name.clone())),
        None => (None, None),
    };
    let member = l.controller.is_some();
    if member
        && [false, true]
            .iter()
            .any(|&v6| l.family(v6).is_some_and(|a| !a.is_empty()))
    {
        return Err(Error::Render {
            artifact: artifact.to_string(),
            message: format!(
                "{} is a member of a bond or bridge and cannot have addressing",
                l.name
            ),
        });
    }
    Ok(IfcfgCtx {
        device: l.name.clone(),
        kind,
        vlan,
        bonding_opts: bonding_opts(l),
        stp,
        delay,
        mtu: l.mtu,
        master,
        bridge,
        bootproto: if l.written_family(false).is_some_and(|a| a.dhcp) {
            "dhcp"
        } else {
            "none"
        },
        ip: match (member, l.written_family(false)) {
            (false, Some(v4)) => Some(ip_ctx(l, v4, l.written_family(true))),
            _ => None,
        },
    })
}

pub fn render(node: &NodeConfig, distro: &Distro) -> Result<Vec<Artifact>> {
    let dir = &distro.paths.network;
    let mut out = Vec::new();
    for l in node.links.values() {
        if l.host_keeps_l3() {
            continue;
        }
        let head = header(l.owners.iter().map(String::as_str));

        let path = format!("{dir}/ifcfg-{}", l.name);
        super::refuse_unstated_ipv4(l, &path, "ifcfg")?;
        let ctx = ifcfg_ctx(l, &path)?;
        let content = render_template("ifcfg.sh.j2", &path, &head, &ctx)?;
        out.push(Artifact::file(path, 0o644, content));

        let path = format!("{dir}/route-{}", l.name);
        let routes = l
            .written_family(false)
            .into_iter()
            .flat_map(|a| file_routes(a, false))
            .map(|r| route4(r, &path))
            .collect::<Result<Vec<_>>>()?;
        if !routes.is_empty() {
            let content = render_template("route.sh.j2", &path, &head, &RoutesCtx { routes })?;
            out.push(Artifact::file(path, 0o644, content));
        }

        let path = format!("{dir}/route6-{}", l.name);
        let routes: Vec<Route6Ctx> = l
            .written_family(true)
            .into_iter()
            .flat_map(|a| file_routes(a, true))
            .map(route6)
            .collect();
        if !routes.is_empty() {
            let content = render_template("route6.sh.j2", &path, &head, &RoutesCtx { routes })?;
            out.push(Artifact::file(path, 0o644, content));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn bash() -> &'static str {
        ["/usr/bin/bash", "/bin/bash"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("bash is required for the ifcfg tests; run the README's test command, which installs it")
    }

    #[allow(dead_code)]
    mod shell_source {
        include!("../../../tests/support/shell_source.rs");
    }

    /// Source `file` in `dir` with an empty environment; the variables it defined.
    fn source(dir: &Path, file: &str) -> BTreeMap<String, String> {
        shell_source::source(Path::new(bash()), &dir.join(file))
    }

    #[test]
    fn hostile_values_stay_data_when_sourced() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let payloads = [
            format!("$(touch {d}/p1)"),
            format!("`touch {d}/p2`"),
            format!("x; touch {d}/p3"),
            format!("it's \"quoted\" \\ ' ; touch {d}/p4 ; '"),
            format!("first line\ntouch {d}/p5\n"),
            format!("${{IFS}}$HOME|touch {d}/p6&"),
            "~root:~".to_string(),
            "=a b".to_string(),
            String::new(),
        ];
        let p = |i: usize| payloads[i % payloads.len()].clone();
        let ctx = IfcfgCtx {
            device: p(0),
            kind: "Vlan",
            vlan: Some(VlanCtx {
                parent: p(1),
                id: 7,
            }),
            bonding_opts: Some(p(2)),
            stp: Some(false),
            delay: Some(4),
            mtu: Some(1500),
            master: Some(p(3)),
            bridge: Some(p(4)),
            bootproto: "none",
            ip: Some(IpCtx {
                ipv4: vec![
                    AddrCtx {
                        address: p(5),
                        prefix: 24,
                    },
                    AddrCtx {
                        address: p(6),
                        prefix: 8,
                    },
                ],
                gateway: Some(p(7)),
                gateway_metric: Some(5),
                defroute: true,
                ipv6_init: true,
                ipv6_dhcp: false,
                ipv6addr: Some(p(8)),
                ipv6addr_secondaries: Some(p(0)),
                ipv6_defaultgw: Some(p(4)),
                ipv6_gateway_metric: None,
                ipv6_defroute: false,
            }),
        };
        let head = header(["evil\n$(touch x)"]);
        let text = render_template("ifcfg.sh.j2", "ifcfg-x", &head, &ctx).unwrap();
        std::fs::write(dir.path().join("ifcfg-x"), &text).unwrap();
        let routes = RoutesCtx {
            routes: vec![Route4Ctx {
                address: p(1),
                netmask: p(2),
                gateway: Some(p(3)),
                metric: Some(9),
                options: Some(p(4)),
            }],
        };
        let rtext = render_template("route.sh.j2", "route-x", &head, &routes).unwrap();
        std::fs::write(dir.path().join("route-x"), &rtext).unwrap();

        let vars = source(dir.path(), "ifcfg-x");
        let want: BTreeMap<String, String> = [
            ("DEVICE", p(0)),
            ("TYPE", "Vlan".into()),
            ("ONBOOT", "yes".into()),
            ("VLAN", "yes".into()),
            ("PHYSDEV", p(1)),
            ("VLAN_ID", "7".into()),
            ("BONDING_MASTER", "yes".into()),
            ("BONDING_OPTS", p(2)),
            ("STP", "no".into()),
            ("DELAY", "4".into()),
            ("MASTER", p(3)),
            ("SLAVE", "yes".into()),
            ("BRIDGE", p(4)),
            ("MTU", "1500".into()),
            ("BOOTPROTO", "none".into()),
            ("IPADDR0", p(5)),
            ("PREFIX0", "24".into()),
            ("IPADDR1", p(6)),
            ("PREFIX1", "8".into()),
            ("GATEWAY", p(7)),
            ("METRIC", "5".into()),
            ("IPV4_ROUTE_METRIC", "5".into()),
            ("DEFROUTE", "yes".into()),
            ("IPV6INIT", "yes".into()),
            ("IPV6_AUTOCONF", "no".into()),
            ("DHCPV6C", "no".into()),
            ("IPV6ADDR", p(8)),
            ("IPV6ADDR_SECONDARIES", p(0)),
            ("IPV6_DEFAULTGW", p(4)),
            ("IPV6_DEFROUTE", "no".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(vars, want, "ifcfg file:\n{text}");

        let vars = source(dir.path(), "route-x");
        let want: BTreeMap<String, String> = [
            ("ADDRESS0", p(1)),
            ("NETMASK0", p(2)),
            ("GATEWAY0", p(3)),
            ("METRIC0", "9".into()),
            ("OPTIONS0", p(4)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(vars, want, "route file:\n{rtext}");

        // Nothing ran: the directory holds exactly the two files written above.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["ifcfg-x", "route-x"]);
    }

    #[test]
    fn gateway_is_the_first_plain_default_route() {
        let r = |to: &str, via: Option<&str>, table: Option<u32>| Route {
            to: RouteDest::parse(to).unwrap(),
            via: via.map(|v| v.parse().unwrap()),
            metric: None,
            table: table.map(|t| crate::model::TableId::new(t.into()).unwrap()),
        };
        let mut a = Addressing {
            addresses: vec![crate::model::IpCidr::parse("192.0.2.5/24").unwrap()],
            routes: vec![
                r("10.0.0.0/8", Some("192.0.2.1"), None),
                r("default", Some("192.0.2.2"), Some(100)),
                r("default", None, None),
                r("default", Some("192.0.2.3"), None),
                r("default", Some("192.0.2.4"), None),
            ],
            dhcp: false,
        };
        assert_eq!(gateway_route(&a, false), Some(3));
        assert_eq!(file_routes(&a, false).count(), 4);
        a.addresses.clear();
        assert_eq!(
            gateway_route(&a, false),
            None,
            "no static address: the route file keeps it"
        );
        assert_eq!(
            ipv6_gateway("fe80::1".parse().unwrap(), "eth0"),
            "fe80::1%eth0"
        );
        assert_eq!(
            ipv6_gateway("2001:db8::1".parse().unwrap(), "eth0"),
            "2001:db8::1"
        );
    }
}
