//! Real consumer: bash. network-scripts source `ifcfg-*` and `route-*` files and NetworkManager's ifcfg-rh
//! plugin reads them with shell quoting rules, so for every golden case (and the extra inputs below)
//! rendered for rhel8:
//!
//! * every `ifcfg-*`, `route-*` and `route6-*` file passes `bash -n`;
//! * every `ifcfg-*` and `route-*` file, sourced by `env -i bash`, defines exactly the variables the
//!   case's NodeConfig calls for, computed here from the NodeConfig and not with the renderer's code;
//! * every `route6-*` file holds exactly the expected `ip -6 route` argument lines;
//! * the set of files is one `ifcfg-` per link plus a `route-`/`route6-` file when routes are left for it.
//!
//! The rules restated here (see `renderer/src/render/ifcfg.rs`): the first default route of a family
//! with a gateway and no table, on a link with static addresses of that family, is `GATEWAY=` /
//! `IPV6_DEFAULTGW=` (its metric `IPV4_ROUTE_METRIC=` + `METRIC=` / `IPV6_ROUTE_METRIC=`) and every
//! other route goes to the route files; `DEFROUTE`/`IPV6_DEFROUTE` say whether the link has a default
//! route or DHCP for that family; members of a bond or bridge have no addressing keys. A NIC whose
//! addresses no template states has no file at all (its own file stays in charge); an unstated IPv6 is
//! `IPV6INIT=no`; a link plumber creates writes an unstated family as none.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use crate::common::*;
use plumber_render::distro::Distro;
use plumber_render::model::RouteDest;
use plumber_render::node::{Addressing, ControllerKind, Link, LinkKind, NodeConfig};
use plumber_render::render::Artifact;

const DIR: &str = "/etc/sysconfig/network-scripts";

/// What the golden cases do not cover: several default routes (in a table, with a metric, a second
/// one), link-local and global IPv6 gateways, several IPv6 addresses, routes next to DHCP, on-link routes.
const EXTRA: &str = r#"
apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata:
  name: extra-routes
spec:
  interfaceConfig:
    - name: eth0
      ipv4:
        address: [192.0.2.10/24, 203.0.113.9/32]
        routes:
          - to: default
            via: 192.0.2.1
            table: 100
          - to: default
            via: 192.0.2.2
            metric: 300
          - to: default
            via: 192.0.2.3
          - to: 0.0.0.0/0
            table: 200
      ipv6:
        address: [2001:db8::10/64, 2001:db8::11/64, fd00::1/48]
        routes:
          - to: default
            via: fe80::2
            table: 7
          - to: default
            via: 2001:db8::1
            metric: 200
          - to: 2001:db8:9::/48
    - name: eth1
      mtu: 1280
      ipv4:
        dhcp: true
        routes:
          - to: default
            via: 198.51.100.1
          - to: 198.51.100.0/24
      ipv6:
        dhcp: true
        routes:
          - to: default
            via: fe80::1
          - to: 2001:db8:5::/64
            via: fe80::1
            metric: 10
            table: 5
"#;

struct Rendered {
    name: String,
    node: NodeConfig,
    arts: Vec<Artifact>,
}

fn read_case_node(case: &Case) -> NodeConfig {
    case_node(case)
}

/// Every golden case plus [`EXTRA`], rendered for rhel8.
fn rendered() -> Vec<Rendered> {
    let rhel8 = Distro::by_name("rhel8").unwrap();
    let mut v: Vec<Rendered> = cases()
        .iter()
        .map(|c| Rendered {
            name: c.name.clone(),
            node: read_case_node(c),
            arts: render_case(c, &rhel8),
        })
        .collect();
    let t = plumber_render::load(&[plumber_render::Source {
        name: "extra.yaml".into(),
        text: EXTRA.into(),
    }])
    .unwrap();
    let node = plumber_render::node_config(&t, None, None).unwrap();
    let arts = plumber_render::render::render(&node, &rhel8).unwrap();
    v.push(Rendered {
        name: "extra (ifcfg_shell.rs)".into(),
        node,
        arts,
    });
    v
}

fn vars(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// The default route that becomes the link's gateway, by index.
fn gateway(a: &Addressing, v6: bool) -> Option<usize> {
    if a.addresses.is_empty() {
        return None;
    }
    a.routes.iter().position(|r| {
        matches!(r.to, RouteDest::Default)
            && r.table.is_none()
            && matches!(r.via, Some(g) if g.is_ipv6() == v6)
    })
}

fn rest(a: &Addressing, v6: bool) -> Vec<&plumber_render::model::Route> {
    let g = gateway(a, v6);
    a.routes
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != g)
        .map(|(_, r)| r)
        .collect()
}

fn netmask(prefix: u8) -> String {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)).to_string()
}

/// `BONDING_OPTS` as a set of `key=value` words, from the options' serde form (camelCase keys).
fn bond_words(l: &Link) -> Option<Vec<String>> {
    let LinkKind::Bond { mode, options } = &l.kind else {
        return None;
    };
    let mode = serde_json::to_value(mode).unwrap();
    let mut words = vec![format!("mode={}", mode.as_str().unwrap())];
    let opts = serde_json::to_value(options).unwrap();
    for (k, v) in opts.as_object().unwrap() {
        let key = match k.as_str() {
            "lacpRate" => "lacp_rate",
            "xmitHashPolicy" => "xmit_hash_policy",
            "miimon" | "updelay" | "downdelay" | "primary" => k.as_str(),
            other => panic!("bond option {other} is not known to this test"),
        };
        let val = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        words.push(format!("{key}={val}"));
    }
    words.sort();
    Some(words)
}

/// Every variable of `ifcfg-<link>` but `BONDING_OPTS` (compared as words, see [`bond_words`]).
fn expected_ifcfg(l: &Link) -> BTreeMap<String, String> {
    let none = Addressing::default();
    let created = !matches!(l.kind, LinkKind::Device);
    let v4 = l.ipv4.as_ref().unwrap_or(&none);
    let v6_stated = l.ipv6.is_some() || created;
    let v6 = l.ipv6.as_ref().unwrap_or(&none);
    let mut v = vars(&[
        ("DEVICE", l.name.clone()),
        ("ONBOOT", "yes".into()),
        ("BOOTPROTO", if v4.dhcp { "dhcp" } else { "none" }.into()),
    ]);
    let mut set = |k: &str, val: String| {
        assert!(v.insert(k.to_string(), val).is_none(), "{k} twice");
    };
    match &l.kind {
        LinkKind::Device => set("TYPE", "Ethernet".into()),
        LinkKind::Vlan { parent, id } => {
            set("TYPE", "Vlan".into());
            set("VLAN", "yes".into());
            set("PHYSDEV", parent.clone());
            set("VLAN_ID", id.to_string());
        }
        LinkKind::Bond { .. } => {
            set("TYPE", "Bond".into());
            set("BONDING_MASTER", "yes".into());
        }
        LinkKind::Bridge { stp, forward_delay } => {
            set("TYPE", "Bridge".into());
            if let Some(s) = stp {
                set("STP", yes(*s));
            }
            if let Some(d) = forward_delay {
                set("DELAY", d.to_string());
            }
        }
    }
    if let Some(m) = l.mtu {
        set("MTU", m.to_string());
    }
    match &l.controller {
        Some(c) if c.kind == ControllerKind::Bond => {
            set("MASTER", c.name.clone());
            set("SLAVE", "yes".into());
        }
        Some(c) => set("BRIDGE", c.name.clone()),
        None => {
            for (i, a) in v4.addresses.iter().enumerate() {
                set(&format!("IPADDR{i}"), a.addr.to_string());
                set(&format!("PREFIX{i}"), a.prefix.to_string());
            }
            if let Some(i) = gateway(v4, false) {
                let r = &v4.routes[i];
                set("GATEWAY", r.via.unwrap().to_string());
                if let Some(m) = r.metric {
                    set("METRIC", m.to_string());
                    set("IPV4_ROUTE_METRIC", m.to_string());
                }
            }
            let has_default =
                |a: &Addressing| a.routes.iter().any(|r| matches!(r.to, RouteDest::Default));
            set("DEFROUTE", yes(v4.dhcp || has_default(v4)));
            if !v6_stated {
                set("IPV6INIT", "no".into());
                return v;
            }
            set("IPV6INIT", "yes".into());
            set("IPV6_AUTOCONF", yes(v6.dhcp));
            set("DHCPV6C", yes(v6.dhcp));
            let v6s: Vec<String> = v6
                .addresses
                .iter()
                .map(|a| format!("{}/{}", a.addr, a.prefix))
                .collect();
            if let Some(first) = v6s.first() {
                set("IPV6ADDR", first.clone());
            }
            if v6s.len() > 1 {
                set("IPV6ADDR_SECONDARIES", v6s[1..].join(" "));
            }
            if let Some(i) = gateway(v6, true) {
                let r = &v6.routes[i];
                let gw = match r.via.unwrap() {
                    IpAddr::V6(a) if a.to_string().starts_with("fe80:") => {
                        format!("{a}%{}", l.name)
                    }
                    a => a.to_string(),
                };
                set("IPV6_DEFAULTGW", gw);
                if let Some(m) = r.metric {
                    set("IPV6_ROUTE_METRIC", m.to_string());
                }
            }
            set("IPV6_DEFROUTE", yes(v6.dhcp || has_default(v6)));
        }
    }
    v
}

/// The variables of `route-<link>`, or `None` when there must be no such file.
fn expected_route(l: &Link) -> Option<BTreeMap<String, String>> {
    let routes = l.ipv4.as_ref().map(|a| rest(a, false)).unwrap_or_default();
    if routes.is_empty() {
        return None;
    }
    let mut v = BTreeMap::new();
    for (i, r) in routes.iter().enumerate() {
        let (addr, prefix) = match r.to {
            RouteDest::Default => ("0.0.0.0".to_string(), 0),
            RouteDest::Prefix(c) => (c.addr.to_string(), c.prefix),
        };
        v.insert(format!("ADDRESS{i}"), addr);
        v.insert(format!("NETMASK{i}"), netmask(prefix));
        if let Some(g) = r.via {
            v.insert(format!("GATEWAY{i}"), g.to_string());
        }
        if let Some(m) = r.metric {
            v.insert(format!("METRIC{i}"), m.to_string());
        }
        if let Some(t) = r.table {
            v.insert(format!("OPTIONS{i}"), format!("table {t}"));
        }
    }
    Some(v)
}

/// The route lines of `route6-<link>`, or `None` when there must be no such file.
fn expected_route6(l: &Link) -> Option<Vec<String>> {
    let routes = l.ipv6.as_ref().map(|a| rest(a, true)).unwrap_or_default();
    if routes.is_empty() {
        return None;
    }
    Some(
        routes
            .iter()
            .map(|r| {
                let mut line = match r.to {
                    RouteDest::Default => "::/0".to_string(),
                    RouteDest::Prefix(c) => format!("{}/{}", c.addr, c.prefix),
                };
                if let Some(g) = r.via {
                    line += &format!(" via {g}");
                }
                if let Some(m) = r.metric {
                    line += &format!(" metric {m}");
                }
                if let Some(t) = r.table {
                    line += &format!(" table {t}");
                }
                line
            })
            .collect(),
    )
}

#[allow(dead_code)]
mod shell_source {
    include!("../support/shell_source.rs");
}
use shell_source::source;

fn route6_lines(content: &str) -> Vec<String> {
    content
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_rhel8_network_file_is_valid_shell() {
    let bash = require_tool("bash");
    let mut checked = 0;
    for r in rendered() {
        let dir = scratch();
        for a in r
            .arts
            .iter()
            .filter(|a| a.path.starts_with(&format!("{DIR}/")))
        {
            let f = dir.path().join(a.path.rsplit('/').next().unwrap());
            std::fs::write(&f, &a.content).unwrap();
            let out = Command::new(&bash).arg("-n").arg(&f).output().unwrap();
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "case {}: {} is not valid shell: {}\n--- file ---\n{}",
                r.name,
                a.path,
                String::from_utf8_lossy(&out.stderr),
                a.content
            );
            checked += 1;
        }
    }
    assert!(
        // 34 since NICs whose addresses stay with the host get no ifcfg file.
        checked >= 30,
        "only {checked} files checked: did the rhel8 renderer stop writing files?"
    );
}

#[test]
fn sourced_files_define_exactly_what_the_node_config_says() {
    let bash = require_tool("bash");
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rendered() {
        let dir = scratch();
        let ours: BTreeMap<String, &Artifact> = r
            .arts
            .iter()
            .filter_map(|a| {
                a.path
                    .strip_prefix(&format!("{DIR}/"))
                    .map(|n| (n.to_string(), a))
            })
            .collect();
        for a in ours.values() {
            assert_eq!(a.mode, 0o644, "case {}: mode of {}", r.name, a.path);
            assert!(
                a.symlink.is_none(),
                "case {}: {} is a symlink",
                r.name,
                a.path
            );
        }

        let mut want_files = Vec::new();
        for l in r.node.links.values() {
            let ctx = format!("case {}, link {}", r.name, l.name);
            let keeps = matches!(l.kind, LinkKind::Device)
                && l.controller.is_none()
                && l.ipv4.is_none()
                && l.ipv6.is_none();
            if keeps {
                assert!(
                    !ours.contains_key(&format!("ifcfg-{}", l.name)),
                    "{ctx}: a NIC whose addresses are the host's got an ifcfg file"
                );
                continue;
            }

            let name = format!("ifcfg-{}", l.name);
            want_files.push(name.clone());
            let a = ours
                .get(&name)
                .unwrap_or_else(|| panic!("{ctx}: no {name}"));
            let f = dir.path().join(&name);
            std::fs::write(&f, &a.content).unwrap();
            let mut got = source(&bash, &f);
            let opts = got.remove("BONDING_OPTS");
            let want = expected_ifcfg(l);
            assert_eq!(
                got, want,
                "{ctx}: variables of {name}\n--- file ---\n{}",
                a.content
            );
            match (bond_words(l), opts) {
                (None, None) => {}
                (Some(want), Some(got)) => {
                    let mut words: Vec<String> = got.split(' ').map(str::to_string).collect();
                    assert!(
                        words[0].starts_with("mode="),
                        "{ctx}: BONDING_OPTS must start with the mode: {got}"
                    );
                    words.sort();
                    assert_eq!(words, want, "{ctx}: BONDING_OPTS");
                    *seen.entry("BONDING_OPTS").or_default() += 1;
                }
                (w, g) => panic!("{ctx}: BONDING_OPTS should be {w:?}, is {g:?}"),
            }
            for k in [
                "VLAN_ID",
                "MASTER",
                "BRIDGE",
                "MTU",
                "GATEWAY",
                "IPV6ADDR",
                "IPV6ADDR_SECONDARIES",
            ] {
                if want.contains_key(k) {
                    *seen.entry(k).or_default() += 1;
                }
            }
            if want.contains_key("IPV6_DEFAULTGW") {
                *seen.entry("IPV6_DEFAULTGW").or_default() += 1;
            }

            if let Some(want) = expected_route(l) {
                let name = format!("route-{}", l.name);
                want_files.push(name.clone());
                let a = ours
                    .get(&name)
                    .unwrap_or_else(|| panic!("{ctx}: no {name}"));
                let f = dir.path().join(&name);
                std::fs::write(&f, &a.content).unwrap();
                assert_eq!(
                    source(&bash, &f),
                    want,
                    "{ctx}: variables of {name}\n--- file ---\n{}",
                    a.content
                );
                *seen.entry("route").or_default() += 1;
            }
            if let Some(want) = expected_route6(l) {
                let name = format!("route6-{}", l.name);
                want_files.push(name.clone());
                let a = ours
                    .get(&name)
                    .unwrap_or_else(|| panic!("{ctx}: no {name}"));
                assert_eq!(
                    route6_lines(&a.content),
                    want,
                    "{ctx}: lines of {name}\n--- file ---\n{}",
                    a.content
                );
                *seen.entry("route6").or_default() += 1;
            }
        }
        want_files.sort();
        let got_files: Vec<String> = ours.keys().cloned().collect();
        assert_eq!(got_files, want_files, "case {}: files in {DIR}", r.name);
    }
    // The inputs exercise every kind of line, so none of the checks above passed vacuously.
    for k in [
        "BONDING_OPTS",
        "VLAN_ID",
        "MASTER",
        "BRIDGE",
        "MTU",
        "GATEWAY",
        "IPV6ADDR",
        "IPV6ADDR_SECONDARIES",
        "IPV6_DEFAULTGW",
        "route",
        "route6",
    ] {
        assert!(
            seen.get(k).copied().unwrap_or(0) > 0,
            "no rendered file had {k}; seen: {seen:?}"
        );
    }
}

#[test]
fn rhel8_rendering_is_deterministic() {
    let first: Vec<Vec<Artifact>> = rendered().into_iter().map(|r| r.arts).collect();
    let second: Vec<Vec<Artifact>> = rendered().into_iter().map(|r| r.arts).collect();
    assert_eq!(first, second);
}
