//! Real consumer for OVS: every rendered `plumber-ovs` script runs against a private ovsdb-server (no
//! ovs-vswitchd, so `--no-wait`), and OVSDB must then hold what the NodeConfig says. A second run changes
//! nothing; a changed template converges and leaves ports that others added alone. Hostile names reach
//! ovs-vsctl as single arguments.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use plumber_render::distro::Distro;
use plumber_render::inventory::HostNetwork;
use plumber_render::node::{NodeConfig, OvsBridge, OvsInterface, OvsPort};
use plumber_render::render::Artifact;
use plumber_render::select::{parse_labels, Labels};
use plumber_render::{load, node_config, Source};

mod ovsdb_fixture {
    include!("../support/ovsdb.rs");
}
use ovsdb_fixture::Ovsdb;

/// OVSDB holds exactly what `node` says about every bridge, port and interface.
fn assert_db_matches(db: &Ovsdb, node: &NodeConfig, what: &str) {
    let mut problems = Vec::new();
    let mut check = |got: String, want: &str, about: String| {
        if got != want {
            problems.push(format!("{about}: {got:?}, want {want:?}"));
        }
    };
    for b in &node.ovs {
        check(
            db.try_vsctl(&["br-exists", &b.name])
                .status
                .code()
                .unwrap()
                .to_string(),
            "0",
            format!("bridge {} exists", b.name),
        );
        let dp = if b.dpdk { "netdev" } else { "system" };
        check(
            db.get(&["Bridge", &b.name, "datapath_type"]),
            dp,
            format!("{} datapath_type", b.name),
        );
        // The bridge's own interface: the stated mtu_request (unstated: left as it was).
        if let Some(m) = b.mtu_request {
            check(
                db.get(&["Interface", &b.name, "mtu_request"]),
                &m.to_string(),
                format!("{} (the bridge's interface) mtu_request", b.name),
            );
        }
        for p in &b.ports {
            check(
                db.vsctl(&["port-to-br", &p.name]),
                &b.name,
                format!("bridge of port {}", p.name),
            );
            let mut want: Vec<String> = p.interfaces.iter().map(|i| i.name.clone()).collect();
            want.sort();
            check(
                db.port_interfaces(&p.name).join(","),
                &want.join(","),
                format!("interfaces of {}", p.name),
            );
            if p.is_bond() {
                let mode = p.bond_mode.map(|m| m.as_str()).unwrap_or("[]");
                check(
                    db.get(&["Port", &p.name, "bond_mode"]),
                    mode,
                    format!("{} bond_mode", p.name),
                );
                let lacp = p.lacp.map(|l| l.as_str()).unwrap_or("[]");
                check(
                    db.get(&["Port", &p.name, "lacp"]),
                    lacp,
                    format!("{} lacp", p.name),
                );
            }
            for i in &p.interfaces {
                let (ty, devargs) = match i.dpdk_devargs {
                    Some(a) => ("dpdk", a.to_string()),
                    None => ("", String::new()),
                };
                check(
                    db.get(&["Interface", &i.name, "type"]),
                    ty,
                    format!("{} type", i.name),
                );
                check(
                    db.get(&["Interface", &i.name, "options:dpdk-devargs"]),
                    &devargs,
                    format!("{} dpdk-devargs", i.name),
                );
                let mtu = i
                    .mtu_request
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "[]".into());
                check(
                    db.get(&["Interface", &i.name, "mtu_request"]),
                    &mtu,
                    format!("{} mtu_request", i.name),
                );
            }
        }
    }
    let dpdk_init = if node.ovs.iter().any(|b| b.dpdk) {
        "true"
    } else {
        ""
    };
    check(
        db.get(&["Open_vSwitch", ".", "other_config:dpdk-init"]),
        dpdk_init,
        "dpdk-init".into(),
    );
    assert!(
        problems.is_empty(),
        "{what}: OVSDB differs from the NodeConfig:\n{}",
        problems.join("\n")
    );
}

fn inventory_of(case: &Case) -> Option<HostNetwork> {
    fs::read_to_string(case.dir.join("inventory.yaml"))
        .ok()
        .map(|t| HostNetwork::parse(&t, "inventory.yaml").unwrap())
}

fn labels_of(case: &Case) -> Option<Labels> {
    fs::read_to_string(case.dir.join("labels"))
        .ok()
        .map(|l| parse_labels(l.trim()).unwrap())
}

/// The NodeConfig and rendered files (for ubuntu; the OVS files are the same everywhere) of a template text.
fn render_text(
    text: &str,
    labels: Option<&Labels>,
    inv: Option<&HostNetwork>,
) -> (NodeConfig, Vec<Artifact>) {
    let t = load(&[Source {
        name: "input.yaml".into(),
        text: text.into(),
    }])
    .unwrap();
    let node = node_config(&t, labels, inv).unwrap();
    let arts = plumber_render::render::render(&node, &Distro::by_name("ubuntu").unwrap()).unwrap();
    (node, arts)
}

fn script_of(arts: &[Artifact]) -> Option<&Artifact> {
    arts.iter().find(|a| a.path.ends_with("/plumber-ovs"))
}

fn install(dir: &Path, name: &str, a: &Artifact) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, &a.content).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(a.mode)).unwrap();
    p
}

#[test]
fn ovs_files_are_the_same_on_every_distro_but_for_paths() {
    for case in cases() {
        let mut seen: Option<Vec<String>> = None;
        for d in Distro::all() {
            let arts = render_case(&case, &d);
            let ovs: Vec<String> = arts
                .iter()
                .filter(|a| a.path.contains("plumber-ovs"))
                .map(|a| a.content.replace(&d.paths.helpers, "HELPERS"))
                .collect();
            if let Some(s) = &seen {
                assert_eq!(s, &ovs, "case {} differs on {}", case.name, d.name);
            }
            seen = Some(ovs);
            let Some(script) = script_of(&arts) else {
                continue;
            };
            assert_eq!(script.path, format!("{}/plumber-ovs", d.paths.helpers));
            assert_eq!(script.mode, 0o755);
            let unit = arts
                .iter()
                .find(|a| a.path == format!("{}/plumber-ovs.service", d.paths.units))
                .unwrap();
            assert_eq!(unit.mode, 0o644);
            assert!(unit
                .content
                .contains(&format!("\nExecStart={}\n", script.path)));
            let link = arts
                .iter()
                .find(|a| {
                    a.path
                        == format!(
                            "{}/multi-user.target.wants/plumber-ovs.service",
                            d.paths.units
                        )
                })
                .expect("the unit is enabled");
            assert_eq!(link.symlink.as_deref(), Some("../plumber-ovs.service"));
        }
    }
}

#[test]
fn the_unit_orders_after_ovs_on_debian_and_rhel_and_is_a_oneshot() {
    let arts = render_case(
        &cases()
            .into_iter()
            .find(|c| c.name == "ovs-bond-dpdk")
            .unwrap(),
        &Distro::by_name("rhel9").unwrap(),
    );
    let unit = &arts
        .iter()
        .find(|a| a.path == "/etc/systemd/system/plumber-ovs.service")
        .unwrap()
        .content;
    let value = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .flat_map(|v| v.split(' ').map(str::to_string))
            .collect()
    };
    for u in [
        "ovsdb-server.service",
        "ovs-vswitchd.service",
        "openvswitch-switch.service",
        "openvswitch.service",
    ] {
        assert!(
            value("After").contains(&u.to_string()),
            "After= lacks {u}:\n{unit}"
        );
    }
    assert_eq!(
        value("Wants"),
        ["ovsdb-server.service", "ovs-vswitchd.service"]
    );
    assert_eq!(value("Before"), ["network-online.target"]);
    assert_eq!(value("Type"), ["oneshot"]);
    assert_eq!(value("RemainAfterExit"), ["yes"]);
    assert_eq!(value("WantedBy"), ["multi-user.target"]);
    assert_eq!(value("ExecStart"), ["/usr/libexec/plumber/plumber-ovs"]);
}

#[test]
fn every_rendered_ovs_script_converges_ovsdb_and_is_idempotent() {
    let mut ran = 0;
    for case in cases() {
        let text = fs::read_to_string(case.dir.join("input.yaml")).unwrap();
        let inv = inventory_of(&case);
        let (node, arts) = render_text(&text, labels_of(&case).as_ref(), inv.as_ref());
        let Some(script) = script_of(&arts) else {
            continue;
        };
        assert_eq!(
            arts,
            render_case(&case, &Distro::by_name("ubuntu").unwrap())
        );
        let db = Ovsdb::start();
        let path = install(db.dir.path(), "plumber-ovs", script);
        let check = Command::new(require_tool("sh"))
            .arg("-n")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "sh -n: {}",
            String::from_utf8_lossy(&check.stderr)
        );

        db.run(&path);
        assert_db_matches(&db, &node, &case.name);
        let first = db.dump();
        let again = db.run(&path);
        assert!(
            again.stderr.is_empty(),
            "case {}: the second run did something:\n{}",
            case.name,
            String::from_utf8_lossy(&again.stderr)
        );
        assert_eq!(
            db.dump(),
            first,
            "case {}: the second run changed OVSDB",
            case.name
        );
        ran += 1;
    }
    assert!(ran >= 3, "only {ran} cases have OVS");
}

#[test]
fn a_changed_template_converges_and_leaves_other_ports_alone() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "ovs-bond-dpdk")
        .unwrap();
    let inv = inventory_of(&case);
    let text = fs::read_to_string(case.dir.join("input.yaml")).unwrap();
    let (node, arts) = render_text(&text, None, inv.as_ref());
    let db = Ovsdb::start();
    let v1 = install(db.dir.path(), "plumber-ovs.v1", script_of(&arts).unwrap());
    db.run(&v1);
    assert_db_matches(&db, &node, "before");

    // Others' ports and bridges: OVS CNI on a plumber bridge, a bridge plumber does not know, and on it
    // a port named after an interface the next template puts into a bond.
    db.vsctl(&["add-port", "ovs-bond01", "veth-cni0"]);
    db.vsctl(&[
        "add-port",
        "br-int",
        "tap-vm0",
        "--",
        "set",
        "Interface",
        "tap-vm0",
        "mtu_request=1450",
    ]);
    db.vsctl(&[
        "add-br", "br-other", "--", "add-port", "br-other", "vxlan0", "--", "add-port", "br-other",
        "eno3",
    ]);

    // The bond gets a third member, other MTU and mode, and loses lacp; the DPDK port loses its MTU;
    // br-int gets an uplink.
    let changed = text
        .replacen(
            "nodeInterface: eno1,eno2",
            "nodeInterface: eno1,eno2,eno3",
            1,
        )
        .replacen(
            "mtuRequest: 9000\n        bondMode: balance-tcp\n        lacp: active",
            "mtuRequest: 1600\n        bondMode: balance-slb",
            1,
        )
        .replacen(
            "dpdk: true\n      params:\n        mtuRequest: 9000\n",
            "dpdk: true\n",
            1,
        )
        .replacen(
            "- bridgeName: br-int",
            "- bridgeName: br-int\n      nodeInterface: eno4",
            1,
        );
    assert_eq!(
        changed.matches("eno3").count(),
        1,
        "the template did not change as meant:\n{changed}"
    );
    assert!(
        changed.contains("balance-slb") && changed.contains("eno4") && !changed.contains("lacp"),
        "{changed}"
    );
    let (node2, arts2) = render_text(&changed, None, inv.as_ref());
    assert_ne!(node, node2);
    let bond = node2.ovs.iter().find(|b| b.name == "ovs-bond01").unwrap();
    assert_eq!(bond.ports[0].interfaces.len(), 3);
    let v2 = install(db.dir.path(), "plumber-ovs.v2", script_of(&arts2).unwrap());
    let out = db.run(&v2);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("re-creating port bond-ovs-bond01"), "{log}");
    assert!(
        log.contains("moving interface eno3 from port eno3"),
        "{log}"
    );
    assert_db_matches(&db, &node2, "after the change");

    // What others added is still there.
    assert_eq!(db.vsctl(&["port-to-br", "veth-cni0"]), "ovs-bond01");
    assert_eq!(db.vsctl(&["port-to-br", "tap-vm0"]), "br-int");
    assert_eq!(db.get(&["Interface", "tap-vm0", "mtu_request"]), "1450");
    assert_eq!(db.vsctl(&["list-ports", "br-other"]), "vxlan0");
    let mut ports: Vec<String> = db
        .vsctl(&["list-ports", "br-int"])
        .lines()
        .map(str::to_string)
        .collect();
    ports.sort();
    assert_eq!(ports, ["eno4", "tap-vm0"]);

    // And the new state is stable too.
    let dump = db.dump();
    let again = db.run(&v2);
    assert!(
        again.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(db.dump(), dump);

    // Going back converges as well (the bond shrinks, eno4 stays: plumber never deletes unlisted ports).
    db.run(&v1);
    assert_db_matches(&db, &node, "back to the first template");
    assert_eq!(db.vsctl(&["port-to-br", "veth-cni0"]), "ovs-bond01");
}

#[test]
fn a_port_on_another_bridge_moves() {
    let text = "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata:\n  name: t\nspec:\n  ovsConfig:\n    - bridgeName: br-a\n      nodeInterface: eno7\n";
    let (node, arts) = render_text(text, None, None);
    let db = Ovsdb::start();
    db.vsctl(&[
        "add-br",
        "br-z",
        "--",
        "add-port",
        "br-z",
        "eno7",
        "--",
        "set",
        "Interface",
        "eno7",
        "mtu_request=1400",
    ]);
    let s = install(db.dir.path(), "plumber-ovs", script_of(&arts).unwrap());
    db.run(&s);
    assert_db_matches(&db, &node, "moved");
    assert_eq!(db.vsctl(&["list-ports", "br-z"]), "");
}

// ---------------------------------------------------------------------------------------------------
// Hostile names

const HOSTILE_BRIDGE: &str = "br$(touch pwned1)'\";x";
const HOSTILE_PORT: &str = "p`touch pwned2`\n;touch pwned3 #";
const HOSTILE_IFACE: &str = "i $(touch pwned4) *";

fn hostile_node() -> NodeConfig {
    let iface = |n: &str| OvsInterface {
        name: n.into(),
        dpdk_devargs: None,
        mtu_request: Some(1500),
    };
    NodeConfig {
        ovs: vec![
            OvsBridge {
                name: HOSTILE_BRIDGE.into(),
                dpdk: false,
                mtu_request: Some(1500),
                ports: vec![OvsPort {
                    name: HOSTILE_PORT.into(),
                    interfaces: vec![iface(HOSTILE_PORT)],
                    bond_mode: None,
                    lacp: None,
                }],
                owners: ["evil'\n$(touch pwned5)".to_string()].into(),
            },
            OvsBridge {
                name: "br-ok".into(),
                dpdk: true,
                mtu_request: None,
                ports: vec![OvsPort {
                    name: "bond;$(touch pwned6)".into(),
                    interfaces: vec![iface(HOSTILE_IFACE), iface("'")],
                    bond_mode: None,
                    lacp: None,
                }],
                owners: ["t".to_string()].into(),
            },
        ],
        ..Default::default()
    }
}

/// Each ovs-vsctl call's arguments, from the fake's log.
fn calls(log: &Path) -> Vec<Vec<String>> {
    let raw = fs::read(log).unwrap_or_default();
    let raw = raw.strip_suffix(&[0]).unwrap_or(&raw);
    let mut out: Vec<Vec<String>> = Vec::new();
    for a in raw.split(|b| *b == 0) {
        let a = String::from_utf8(a.to_vec()).unwrap();
        if a == "\u{1}CALL" {
            out.push(Vec::new());
        } else {
            out.last_mut().unwrap().push(a);
        }
    }
    out
}

#[test]
fn hostile_names_reach_ovs_vsctl_as_single_arguments() {
    let arts = plumber_render::render::render(&hostile_node(), &Distro::by_name("ubuntu").unwrap())
        .unwrap();
    let d = scratch();
    let work = d.path().join("work");
    let bin = d.path().join("bin");
    fs::create_dir_all(&work).unwrap();
    fs::create_dir_all(&bin).unwrap();
    let script = install(d.path(), "plumber-ovs", script_of(&arts).unwrap());
    let log = d.path().join("vsctl.log");
    let fake = bin.join("ovs-vsctl");
    fs::write(&fake, "#!/bin/sh\n{ printf '\\001CALL\\000'; for a in \"$@\"; do printf '%s\\000' \"$a\"; done; } >>\"$FAKE_VSCTL_LOG\"\n").unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();

    for sh in [("dash", vec![]), ("bash", vec!["--posix"])] {
        let shell = require_tool(sh.0);
        let n = Command::new(&shell)
            .args(&sh.1)
            .arg("-n")
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            n.status.success(),
            "{} -n: {}",
            sh.0,
            String::from_utf8_lossy(&n.stderr)
        );
        let _ = fs::remove_file(&log);
        let out = Command::new(&shell)
            .args(&sh.1)
            .arg(&script)
            .current_dir(&work)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("FAKE_VSCTL_LOG", &log)
            .env("PLUMBER_OVS_VSCTL_OPTS", "--db=unix:/nonexistent --no-wait")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            sh.0,
            String::from_utf8_lossy(&out.stderr)
        );
        let made: Vec<_> = fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            made.is_empty(),
            "{}: a name ran as a command: {made:?}",
            sh.0
        );
        for c in d.path().read_dir().unwrap() {
            let n = c.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!n.starts_with("pwned"), "{n}");
        }

        let calls = calls(&log);
        let opts = ["--db=unix:/nonexistent", "--no-wait"];
        assert!(
            calls.iter().all(|c| c[..2] == opts),
            "{}: options not passed first: {calls:#?}",
            sh.0
        );
        let has = |want: &[&str]| {
            calls
                .iter()
                .any(|c| c[2..].iter().map(String::as_str).eq(want.iter().copied()))
        };
        let b = HOSTILE_BRIDGE;
        let p = HOSTILE_PORT;
        for want in [
            vec![
                "--may-exist",
                "add-br",
                b,
                "--",
                "set",
                "Bridge",
                b,
                "datapath_type=system",
                "--",
                "set",
                "Interface",
                b,
                "mtu_request=1500",
            ],
            vec![
                "--may-exist",
                "add-port",
                b,
                p,
                "--",
                "set",
                "Interface",
                p,
                "mtu_request=1500",
            ],
            vec![
                "--may-exist",
                "add-bond",
                "br-ok",
                "bond;$(touch pwned6)",
                HOSTILE_IFACE,
                "'",
                "--",
                "clear",
                "Port",
                "bond;$(touch pwned6)",
                "bond_mode",
                "--",
                "clear",
                "Port",
                "bond;$(touch pwned6)",
                "lacp",
                "--",
                "set",
                "Interface",
                HOSTILE_IFACE,
                "mtu_request=1500",
                "--",
                "set",
                "Interface",
                "'",
                "mtu_request=1500",
            ],
            vec!["--if-exists", "get", "Port", p, "interfaces"],
            vec!["--if-exists", "get", "Interface", HOSTILE_IFACE, "_uuid"],
        ] {
            assert!(has(&want), "{}: no call {want:?} in {calls:#?}", sh.0);
        }
    }
}
