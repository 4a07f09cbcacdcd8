//! RHEL 9 and RHEL 10: NetworkManager keyfiles in `/etc/NetworkManager/system-connections`, one
//! `plumber-<name>.nmconnection` profile per link (mode 0600: NetworkManager ignores keyfiles that anyone
//! but root can read or write). Every value goes through GLib key-file escaping (the template
//! environment picks it from the `.nmconnection` suffix), so a value cannot start a line, a key or a
//! section.
//!
//! Decisions:
//!
//! * **The UUID is a UUID v5 of the connection id** in a fixed namespace, [`PLUMBER_NS`] (itself the
//!   v5 of the DNS namespace and the API group `plumber.k8s.pf9.io`). Re-rendering gives the same UUID,
//!   so NetworkManager sees an update of the same profile instead of a new one, and no randomness gets
//!   into the bytes. The same link name gives the same UUID on every node; UUIDs only have to be unique
//!   on one host.
//! * **`autoconnect-priority=100`.** NetworkManager activates, among the profiles that fit a device,
//!   the one with the highest priority. Its own auto-created "Wired connection N" profiles have -999, and
//!   profiles from the installer, cloud-init or a plain `nmcli connection add` have the default 0, so
//!   plumber's profile wins over both; it stays well under the maximum 999, which leaves an
//!   administrator room to pin a profile of their own above plumber's.
//! * **Ports use `master=` and `slave-type=`**, not `controller=`/`port-type=`: the latter are only
//!   understood from NetworkManager 1.46 on, and a RHEL 9.0 host runs 1.36. Newer releases keep reading
//!   the old keys (they are the same properties under their former names), and 1.42's own keyfile writer
//!   still writes them. `master=` holds the controller's interface name.
//! * **The MTU of every kind goes to `[ethernet] mtu=`**: NetworkManager has no MTU property on its
//!   VLAN, bond or bridge settings; those devices take their configured MTU from the wired setting
//!   (`nm-device-vlan.c` uses `nm_device_get_configured_mtu_wired_parent`, bonds and bridges
//!   `nm_device_get_configured_mtu_for_wired`). `[ethernet]` is written for Ethernet profiles always,
//!   for the others only when there is an MTU.
//! * **`[vlan] flags=1`** (reorder headers) is written although it is NetworkManager's default: it is
//!   what `nmcli` itself writes, and it keeps the header behaviour independent of the NetworkManager
//!   release.
//! * **`[bridge] stp=` is always written**, `false` when the template does not say: NetworkManager
//!   turns STP on by default, while the kernel (and so the netplan, networkd and ifcfg renderers) leaves
//!   it off. `forward-delay=` only when set (15 s everywhere). Bond options are written when set; a bond
//!   without `miimon` gets NetworkManager's default of 100 ms, as with the ifcfg renderer on RHEL 8.
//! * **Every route, the default route included, is a `routeN=dest,gateway[,metric]` entry** (with
//!   `routeN_options=table=N` for a table), never `gateway=`. A route entry carries the route's own
//!   metric and table, so a default route in another table or with its own metric is no special case,
//!   and the kernel ends up with exactly the route the template names, as with the other renderers.
//!   `gateway=` takes neither a metric nor a table, exists once per family, and is subject to
//!   `never-default` and to NetworkManager's default-route metric juggling. A route without a gateway
//!   but with a metric is written with the unspecified gateway (`0.0.0.0`/`::`), as NetworkManager
//!   writes it.
//! * **IP methods.** DHCP is `method=auto` (for IPv6: router advertisements, and DHCPv6 when the
//!   router asks for it); static addresses are `method=manual` with `addressN=`; no configuration is
//!   `disabled` for IPv4 and `link-local` for IPv6 (the `fe80::` address only, no SLAAC: the same as
//!   `LinkLocalAddressing=ipv6` + `IPv6AcceptRA=no` in the networkd files). Static addresses on a DHCP
//!   link are kept as extra addresses next to the lease.
//! * **Routes on a family with neither addresses nor DHCP are refused.** `method=manual` needs an
//!   address and NetworkManager before 1.46 does not install the routes of a `disabled` or
//!   `link-local` family, so such a profile would silently lose them.
//! * **`[ipv6] addr-gen-mode=eui64`**: the link-local (and SLAAC) address is derived from the MAC, the
//!   kernel's default that every other renderer gets. Written out because a keyfile without the key
//!   does not mean the same to every release (1.40+ read it as `default-or-eui64`, which follows a
//!   global default in `NetworkManager.conf`).
//! * **A NIC whose addresses no template states gets no profile**: one profile is active per device,
//!   so a plumber profile would replace the host's (the installer's, cloud-init's) and its addresses.
//!   VLAN profiles name their parent by interface name and need none; the NIC's MTU comes from
//!   `81-plumber-links.rules`. A NIC with stated IPv4 and unstated IPv6 gets `[ipv6] method=ignore`
//!   (the kernel's own behaviour, as before NetworkManager); stated IPv6 with unstated IPv4 is refused,
//!   since IPv4 has no such method.
//! * **Members of a bond or bridge get no `[ipv4]`/`[ipv6]`**: NetworkManager disables IP on ports
//!   (validation already refuses addresses on members; one here is a bug and an error).

use serde::Serialize;
use uuid::Uuid;

use crate::distro::Distro;
use crate::error::{Error, Result};
use crate::model::Route;
use crate::node::{Addressing, ControllerKind, Link, LinkKind, NodeConfig};

use super::{header, render_template, Artifact};

const TEMPLATE: &str = "keyfile.nmconnection.j2";

/// Namespace of plumber's connection UUIDs: UUID v5 of the DNS namespace and `plumber.k8s.pf9.io`.
pub const PLUMBER_NS: Uuid = Uuid::from_u128(0xae75cca9_22f3_5b1a_9833_769c747e06d6);

/// `connection.autoconnect-priority` of every plumber profile (see the module documentation).
pub const AUTOCONNECT_PRIORITY: i32 = 100;

/// `vlan.flags`: NM_VLAN_FLAG_REORDER_HEADERS, NetworkManager's default.
const VLAN_FLAGS: u32 = 1;

/// The connection id of a link's profile, which is also its file name without `.nmconnection`.
pub fn connection_id(link: &str) -> String {
    format!("plumber-{link}")
}

/// The deterministic UUID of a connection id.
pub fn connection_uuid(id: &str) -> Uuid {
    Uuid::new_v5(&PLUMBER_NS, id.as_bytes())
}

/// Context of `keyfile.nmconnection.j2`. Every string is printed through key-file escaping.
#[derive(Debug, Serialize)]
struct KeyfileCtx {
    id: String,
    uuid: String,
    /// `connection.type`: ethernet, vlan, bond or bridge.
    conn_type: &'static str,
    interface_name: String,
    autoconnect_priority: i32,
    controller: Option<ControllerCtx>,
    /// Whether to write `[ethernet]`.
    ethernet: bool,
    mtu: Option<u32>,
    vlan: Option<VlanCtx>,
    /// `[bond]` keys and values, in a fixed order.
    bond: Option<Vec<(&'static str, String)>>,
    bridge: Option<BridgeCtx>,
    /// `[ipv4]` then `[ipv6]`; empty for members of a bond or bridge.
    ip: Vec<IpCtx>,
}

#[derive(Debug, Serialize)]
struct ControllerCtx {
    name: String,
    slave_type: &'static str,
}

#[derive(Debug, Serialize)]
struct VlanCtx {
    id: u16,
    parent: String,
    flags: u32,
}

#[derive(Debug, Serialize)]
struct BridgeCtx {
    stp: bool,
    forward_delay: Option<u32>,
}

#[derive(Debug, Serialize)]
struct IpCtx {
    /// `ipv4` or `ipv6`.
    section: &'static str,
    method: &'static str,
    addresses: Vec<String>,
    routes: Vec<RouteCtx>,
    addr_gen_mode: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct RouteCtx {
    /// `dest/prefix[,gateway[,metric]]`.
    value: String,
    table: Option<u32>,
}

fn route_ctx(r: &Route, v6: bool) -> RouteCtx {
    let mut value = r.to.cidr(v6).to_string();
    let unspecified = if v6 { "::" } else { "0.0.0.0" };
    match (r.via, r.metric) {
        (Some(g), Some(m)) => value.push_str(&format!(",{g},{m}")),
        (Some(g), None) => value.push_str(&format!(",{g}")),
        (None, Some(m)) => value.push_str(&format!(",{unspecified},{m}")),
        (None, None) => {}
    }
    RouteCtx {
        value,
        table: r.table.map(|t| t.get()),
    }
}

fn ip_ctx(l: &Link, a: &Addressing, v6: bool, artifact: &str) -> Result<IpCtx> {
    let method = if a.dhcp {
        "auto"
    } else if !a.addresses.is_empty() {
        "manual"
    } else if a.routes.is_empty() {
        if v6 {
            "link-local"
        } else {
            "disabled"
        }
    } else {
        return Err(Error::Render {
            artifact: artifact.to_string(),
            message: format!(
                "{} has {} routes but no {} address and no DHCP; NetworkManager only installs static routes \
                 on a link with an address or DHCP of that family",
                l.name,
                if v6 { "IPv6" } else { "IPv4" },
                if v6 { "IPv6" } else { "IPv4" },
            ),
        });
    };
    Ok(IpCtx {
        section: if v6 { "ipv6" } else { "ipv4" },
        method,
        addresses: a.addresses.iter().map(|c| c.to_string()).collect(),
        routes: a.routes.iter().map(|r| route_ctx(r, v6)).collect(),
        addr_gen_mode: v6.then_some("eui64"),
    })
}

fn bond_settings(l: &Link) -> Option<Vec<(&'static str, String)>> {
    let LinkKind::Bond { mode, options: o } = &l.kind else {
        return None;
    };
    let mut v = vec![("mode", mode.as_str().to_string())];
    if let Some(x) = o.miimon {
        v.push(("miimon", x.get().to_string()));
    }
    if let Some(x) = o.updelay {
        v.push(("updelay", x.get().to_string()));
    }
    if let Some(x) = o.downdelay {
        v.push(("downdelay", x.get().to_string()));
    }
    if let Some(x) = o.lacp_rate {
        v.push(("lacp_rate", x.as_str().to_string()));
    }
    if let Some(x) = o.xmit_hash_policy {
        v.push(("xmit_hash_policy", x.as_str().to_string()));
    }
    if let Some(x) = &o.primary {
        v.push(("primary", x.as_str().to_string()));
    }
    Some(v)
}

fn keyfile_ctx(l: &Link, artifact: &str) -> Result<KeyfileCtx> {
    let id = connection_id(&l.name);
    let (conn_type, vlan, bridge) = match &l.kind {
        LinkKind::Device => ("ethernet", None, None),
        LinkKind::Vlan { parent, id } => (
            "vlan",
            Some(VlanCtx {
                id: *id,
                parent: parent.clone(),
                flags: VLAN_FLAGS,
            }),
            None,
        ),
        LinkKind::Bond { .. } => ("bond", None, None),
        LinkKind::Bridge { stp, forward_delay } => (
            "bridge",
            None,
            Some(BridgeCtx {
                stp: stp.unwrap_or(false),
                forward_delay: *forward_delay,
            }),
        ),
    };
    let controller = l.controller.as_ref().map(|c| ControllerCtx {
        name: c.name.clone(),
        slave_type: match c.kind {
            ControllerKind::Bond => "bond",
            ControllerKind::Bridge => "bridge",
        },
    });
    let ip = if controller.is_some() {
        if [false, true]
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
        Vec::new()
    } else {
        let mut ip = Vec::new();
        for v6 in [false, true] {
            ip.push(match l.written_family(v6) {
                Some(a) => ip_ctx(l, a, v6, artifact)?,
                // Only IPv6 gets here (see `refuse_unstated_ipv4`): NetworkManager leaves it to the kernel.
                None => IpCtx {
                    section: if v6 { "ipv6" } else { "ipv4" },
                    method: "ignore",
                    addresses: Vec::new(),
                    routes: Vec::new(),
                    addr_gen_mode: None,
                },
            });
        }
        ip
    };
    Ok(KeyfileCtx {
        uuid: connection_uuid(&id).to_string(),
        id,
        conn_type,
        interface_name: l.name.clone(),
        autoconnect_priority: AUTOCONNECT_PRIORITY,
        controller,
        ethernet: conn_type == "ethernet" || l.mtu.is_some(),
        mtu: l.mtu,
        vlan,
        bond: bond_settings(l),
        bridge,
        ip,
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
        let path = format!("{dir}/{}.nmconnection", connection_id(&l.name));
        super::refuse_unstated_ipv4(l, &path, "NetworkManager")?;
        let ctx = keyfile_ctx(l, &path)?;
        let content = render_template(TEMPLATE, &path, &head, &ctx)?;
        out.push(Artifact::file(path, 0o600, content));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BondMode, BondOptions, IpCidr, RouteDest};
    use crate::node::Controller;
    use std::collections::BTreeSet;

    #[allow(dead_code)]
    mod glib_keyfile {
        include!("../../../tests/support/glib_keyfile.rs");
    }
    use glib_keyfile::{get, parse as glib_parse};

    const HOSTILE: &str =
        " lead\nnext=line\n[section]\nkey=value;x\\y\\n\\\\ \t\r\n# not a comment\n[ipv4]\nmethod=auto ";

    #[test]
    fn hostile_values_are_read_back_exactly_and_add_nothing() {
        let ctx = KeyfileCtx {
            id: HOSTILE.to_string(),
            uuid: HOSTILE.to_string(),
            conn_type: "vlan",
            interface_name: HOSTILE.to_string(),
            autoconnect_priority: AUTOCONNECT_PRIORITY,
            controller: Some(ControllerCtx {
                name: HOSTILE.to_string(),
                slave_type: "bond",
            }),
            ethernet: true,
            mtu: Some(9000),
            vlan: Some(VlanCtx {
                id: 7,
                parent: HOSTILE.to_string(),
                flags: VLAN_FLAGS,
            }),
            bond: Some(vec![("mode", HOSTILE.to_string())]),
            bridge: Some(BridgeCtx {
                stp: true,
                forward_delay: Some(4),
            }),
            ip: vec![IpCtx {
                section: "ipv4",
                method: "manual",
                addresses: vec![HOSTILE.to_string(), "192.0.2.1/24".into()],
                routes: vec![RouteCtx {
                    value: HOSTILE.to_string(),
                    table: Some(100),
                }],
                addr_gen_mode: None,
            }],
        };
        let text = render_template(TEMPLATE, "test", "# header", &ctx).unwrap();
        let kf = glib_parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let layout: Vec<(&str, Vec<&str>)> = kf
            .iter()
            .map(|(g, ks)| (g.as_str(), ks.iter().map(|(k, _)| k.as_str()).collect()))
            .collect();
        assert_eq!(
            layout,
            vec![
                (
                    "connection",
                    vec![
                        "id",
                        "uuid",
                        "type",
                        "interface-name",
                        "autoconnect",
                        "autoconnect-priority",
                        "master",
                        "slave-type"
                    ]
                ),
                ("ethernet", vec!["mtu"]),
                ("vlan", vec!["id", "parent", "flags"]),
                ("bond", vec!["mode"]),
                ("bridge", vec!["stp", "forward-delay"]),
                (
                    "ipv4",
                    vec!["method", "address1", "address2", "route1", "route1_options"]
                ),
            ],
            "{text}"
        );
        for (g, k) in [
            ("connection", "id"),
            ("connection", "uuid"),
            ("connection", "interface-name"),
            ("connection", "master"),
            ("vlan", "parent"),
            ("bond", "mode"),
            ("ipv4", "address1"),
            ("ipv4", "route1"),
        ] {
            assert_eq!(get(&kf, g, k), Some(HOSTILE), "{g}.{k} in\n{text}");
        }
        assert_eq!(get(&kf, "ipv4", "method"), Some("manual"));
        assert_eq!(get(&kf, "ipv4", "route1_options"), Some("table=100"));
        assert_eq!(get(&kf, "bridge", "stp"), Some("true"));
        // Every hostile value stays on its own line.
        assert_eq!(
            text.lines().filter(|l| l.starts_with('[')).count(),
            6,
            "{text}"
        );
    }

    #[test]
    fn the_parser_used_above_does_fail() {
        assert!(glib_parse("[a]\nk=v\n[b\n").is_err());
        assert!(glib_parse("[a]\nk=v\nno pair\n").is_err());
        assert!(glib_parse("[a]\nk=a\\qb\n").is_err());
        assert!(glib_parse("[a]\nk=v\nk=w\n").is_err());
        assert_eq!(glib_parse("[a]\nk = \\sx\\n\n").unwrap()[0].1[0].1, " x\n");
    }

    #[test]
    fn namespace_and_uuids() {
        assert_eq!(
            PLUMBER_NS,
            Uuid::new_v5(&Uuid::NAMESPACE_DNS, b"plumber.k8s.pf9.io")
        );
        let a = connection_uuid("plumber-eno1");
        assert_eq!(a, connection_uuid("plumber-eno1"));
        assert_eq!(a.get_version_num(), 5);
        assert_ne!(a, connection_uuid("plumber-eno2"));
        assert_eq!(
            a.to_string(),
            Uuid::new_v5(&PLUMBER_NS, b"plumber-eno1").to_string()
        );
    }

    fn link(name: &str, kind: LinkKind) -> Link {
        Link {
            name: name.into(),
            kind,
            mtu: None,
            controller: None,
            ipv4: Some(Addressing::default()),
            ipv6: Some(Addressing::default()),
            owners: BTreeSet::from(["t".to_string()]),
        }
    }

    #[test]
    fn a_nic_whose_addresses_are_not_stated_is_left_to_its_own_profile() {
        let mut l = link("eno1", LinkKind::Device);
        (l.ipv4, l.ipv6) = (None, None);
        l.mtu = Some(9000);
        let mut node = NodeConfig::default();
        node.links.insert(l.name.clone(), l.clone());
        let arts = render(&node, &Distro::by_name("rhel9").unwrap()).unwrap();
        assert!(arts.is_empty(), "no profile for eno1: {arts:?}");

        // IPv4 stated, IPv6 not: IPv6 is left to the kernel.
        l.ipv4 = Some(Addressing {
            dhcp: true,
            ..Default::default()
        });
        let kf = glib_parse(&render_one(l.clone()).unwrap()).unwrap();
        assert_eq!(get(&kf, "ipv4", "method"), Some("auto"));
        assert_eq!(get(&kf, "ipv6", "method"), Some("ignore"));
        assert_eq!(get(&kf, "ipv6", "addr-gen-mode"), None);

        // IPv6 stated, IPv4 not: NetworkManager cannot leave IPv4 alone in a profile.
        (l.ipv4, l.ipv6) = (None, Some(Addressing::default()));
        let e = render_one(l).unwrap_err().to_string();
        assert!(e.contains("state the IPv6 of eno1 but not its IPv4"), "{e}");
        assert!(e.contains("ipv4: {address: []}"), "{e}");
    }

    fn render_one(l: Link) -> Result<String> {
        let mut node = NodeConfig::default();
        node.links.insert(l.name.clone(), l);
        let arts = render(&node, &Distro::by_name("rhel9").unwrap())?;
        assert_eq!(arts.len(), 1);
        Ok(arts.into_iter().next().unwrap().content)
    }

    #[test]
    fn members_have_no_ip_and_bridges_say_stp() {
        let mut m = link("eno1", LinkKind::Device);
        m.controller = Some(Controller {
            name: "br0".into(),
            kind: ControllerKind::Bridge,
        });
        let kf = glib_parse(&render_one(m).unwrap()).unwrap();
        assert_eq!(get(&kf, "connection", "master"), Some("br0"));
        assert_eq!(get(&kf, "connection", "slave-type"), Some("bridge"));
        assert!(kf.iter().all(|(g, _)| g != "ipv4" && g != "ipv6"));

        let b = link(
            "br0",
            LinkKind::Bridge {
                stp: None,
                forward_delay: None,
            },
        );
        let kf = glib_parse(&render_one(b).unwrap()).unwrap();
        assert_eq!(get(&kf, "bridge", "stp"), Some("false"));
        assert_eq!(get(&kf, "bridge", "forward-delay"), None);
        assert_eq!(get(&kf, "ipv4", "method"), Some("disabled"));
        assert_eq!(get(&kf, "ipv6", "method"), Some("link-local"));
        assert!(
            kf.iter().all(|(g, _)| g != "ethernet"),
            "no MTU, no [ethernet] on a bridge"
        );

        let bond = link(
            "bond0",
            LinkKind::Bond {
                mode: BondMode::ActiveBackup,
                options: BondOptions::default(),
            },
        );
        let kf = glib_parse(&render_one(bond).unwrap()).unwrap();
        assert_eq!(get(&kf, "bond", "mode"), Some("active-backup"));
        assert_eq!(get(&kf, "bond", "miimon"), None);
    }

    #[test]
    fn routes_without_addresses_are_refused() {
        let mut l = link("eno1", LinkKind::Device);
        l.ipv4.as_mut().unwrap().routes.push(Route {
            to: RouteDest::parse("10.0.0.0/8").unwrap(),
            via: None,
            metric: None,
            table: None,
        });
        let e = render_one(l.clone()).unwrap_err().to_string();
        assert!(
            e.contains("eno1 has IPv4 routes but no IPv4 address"),
            "{e}"
        );
        l.ipv4.as_mut().unwrap().dhcp = true;
        let kf = glib_parse(&render_one(l.clone()).unwrap()).unwrap();
        assert_eq!(get(&kf, "ipv4", "method"), Some("auto"));
        assert_eq!(get(&kf, "ipv4", "route1"), Some("10.0.0.0/8"));
        l.ipv4.as_mut().unwrap().dhcp = false;
        l.ipv4
            .as_mut()
            .unwrap()
            .addresses
            .push(IpCidr::parse("192.0.2.5/24").unwrap());
        let kf = glib_parse(&render_one(l).unwrap()).unwrap();
        assert_eq!(get(&kf, "ipv4", "method"), Some("manual"));
        assert_eq!(get(&kf, "ipv4", "address1"), Some("192.0.2.5/24"));
    }

    #[test]
    fn route_values() {
        let r = |to: &str, via: Option<&str>, metric: Option<u32>| Route {
            to: RouteDest::parse(to).unwrap(),
            via: via.map(|v| v.parse().unwrap()),
            metric: metric.map(|m| crate::model::Metric::new(m.into()).unwrap()),
            table: None,
        };
        assert_eq!(
            route_ctx(&r("default", Some("192.0.2.1"), None), false).value,
            "0.0.0.0/0,192.0.2.1"
        );
        assert_eq!(
            route_ctx(&r("default", Some("fe80::1"), None), true).value,
            "::/0,fe80::1"
        );
        assert_eq!(
            route_ctx(&r("10.0.0.0/8", None, Some(50)), false).value,
            "10.0.0.0/8,0.0.0.0,50"
        );
        assert_eq!(
            route_ctx(&r("2001:db8::/32", None, Some(5)), true).value,
            "2001:db8::/32,::,5"
        );
        assert_eq!(
            route_ctx(&r("10.0.0.0/8", None, None), false).value,
            "10.0.0.0/8"
        );
    }
}
