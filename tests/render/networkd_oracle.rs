//! systemd-networkd has no offline validator, so the networkd renderer is checked against the closest
//! real reference there is: netplan's own networkd backend. For every case, the networkd files netplan
//! generates from our netplan file and the networkd files we render directly must configure the same
//! links, MTUs, addresses, routes, VLAN/bond/bridge membership and netdev kinds.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::common::*;
use plumber_render::distro::Distro;

/// The facts that matter in a networkd file, as (section, key, value), with each `[Route]` folded into
/// one fact so several routes stay distinct.
fn facts(text: &str) -> BTreeSet<(String, String, String)> {
    const KEYS: &[&str] = &[
        "Name", "MTUBytes", "Address", "VLAN", "Bond", "Bridge", "Kind", "Id", "Mode", "STP",
    ];
    let mut out = BTreeSet::new();
    let mut section = String::new();
    let mut route: Vec<String> = Vec::new();
    let flush = |route: &mut Vec<String>, out: &mut BTreeSet<(String, String, String)>| {
        if !route.is_empty() {
            route.sort();
            out.insert(("Route".into(), "route".into(), route.join(" ")));
            route.clear();
        }
    };
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            flush(&mut route, &mut out);
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if section == "Route" {
            if ["Destination", "Gateway", "Metric", "Table"].contains(&k) {
                route.push(format!("{k}={v}"));
            }
        } else if KEYS.contains(&k) {
            // systemd reads yes/true and no/false alike; netplan writes the latter.
            let v = match v {
                "yes" => "true",
                "no" => "false",
                v => v,
            };
            out.insert((section.clone(), k.to_string(), v.to_string()));
        }
    }
    flush(&mut route, &mut out);
    out
}

fn by_link(
    files: impl Iterator<Item = (String, String)>,
    prefix: &str,
) -> BTreeMap<String, BTreeSet<(String, String, String)>> {
    let mut m: BTreeMap<String, BTreeSet<_>> = BTreeMap::new();
    for (name, text) in files {
        let Some(stem) = name.strip_prefix(prefix) else {
            continue;
        };
        let link = stem
            .trim_end_matches(".network")
            .trim_end_matches(".netdev")
            .trim_end_matches(".link")
            .to_string();
        m.entry(link).or_default().extend(facts(&text));
    }
    m
}

/// A NIC whose addresses stay with the host gets no networkd file of plumber's: `81-plumber-links.rules`
/// sets its MTU and creates its VLANs at boot (see `render/host_links.rs`). netplan, which merges with the
/// host's own YAML, writes the same as a `.network` (MTU, `VLAN=`) and a `.netdev` per VLAN: the facts
/// the rule's arguments (`plumber-link $name MTU [ID NAME]...`) stand for are added to ours.
fn add_rule_facts(ours: &mut BTreeMap<String, BTreeSet<(String, String, String)>>, rules: &str) {
    let f = |s: &str, k: &str, v: &str| (s.to_string(), k.to_string(), v.to_string());
    for line in rules.lines().filter(|l| l.contains("NAME==\"\", KERNEL==")) {
        let args = line.split("$name ").nth(1).unwrap().trim_end_matches('"');
        let words: Vec<&str> = args.split(' ').collect();
        let nic = line
            .split("KERNEL==\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let e = ours.entry(nic.to_string()).or_default();
        e.insert(f("Match", "Name", nic));
        if words[0] != "-" {
            e.insert(f("Link", "MTUBytes", words[0]));
        }
        for pair in words[1..].chunks(2) {
            let (id, vlan) = (pair[0], pair[1]);
            ours.get_mut(nic)
                .unwrap()
                .insert(f("Network", "VLAN", vlan));
            let v = ours.entry(vlan.to_string()).or_default();
            v.insert(f("NetDev", "Name", vlan));
            v.insert(f("NetDev", "Kind", "vlan"));
            v.insert(f("VLAN", "Id", id));
            let mtu = v
                .iter()
                .find(|(s, k, _)| s == "Link" && k == "MTUBytes")
                .map(|x| x.2.clone());
            if let Some(m) = mtu {
                v.insert(f("NetDev", "MTUBytes", &m));
            }
        }
    }
}

#[test]
fn networkd_files_match_what_netplan_generates_for_the_same_case() {
    let gen = require_tool("generate");
    let (ubuntu, debian) = (
        Distro::by_name("ubuntu").unwrap(),
        Distro::by_name("debian").unwrap(),
    );
    let mut compared = 0;
    for case in cases() {
        let np = render_case(&case, &ubuntu);
        let Some(np) = np.into_iter().find(|a| a.path.starts_with("/etc/netplan/")) else {
            continue;
        };
        let root = scratch();
        write_tree(root.path(), std::slice::from_ref(&np));
        let out = Command::new(&gen)
            .arg("--root-dir")
            .arg(root.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let netplan = by_link(
            read_tree(&root.path().join("run/systemd/network"))
                .into_iter()
                .map(|(k, v)| (k.trim_start_matches('/').to_string(), v)),
            "10-netplan-",
        );
        let debian_files = render_case(&case, &debian);
        let mut ours = by_link(
            debian_files
                .iter()
                .filter(|a| a.path.starts_with("/etc/systemd/network/"))
                .cloned()
                .map(|a| {
                    (
                        a.path
                            .trim_start_matches("/etc/systemd/network/")
                            .to_string(),
                        a.content,
                    )
                }),
            "60-plumber-",
        );
        if let Some(rules) = debian_files
            .iter()
            .find(|a| a.path.ends_with("/81-plumber-links.rules"))
        {
            add_rule_facts(&mut ours, &rules.content);
        }
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            netplan.keys().collect::<Vec<_>>(),
            "case {}: different links",
            case.name
        );
        for (link, f) in &ours {
            assert_eq!(
                f, &netplan[link],
                "case {} link {link}: ours (left) vs netplan's (right)",
                case.name
            );
        }
        compared += 1;
    }
    assert!(compared >= 8);
}
