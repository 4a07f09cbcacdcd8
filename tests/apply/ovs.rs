//! OVS against a real ovsdb-server on a private socket (no ovs-vswitchd, so `--no-wait`): the applier's
//! plan, executed as one transaction, makes OVSDB hold the NodeConfig; planning again on what discovery
//! reads back is empty; the result is the one the rendered boot script (`plumber-ovs`) gives on the same
//! database; changed templates converge and leave others' ports alone; rollback restores `ovsdb-client
//! dump` exactly; a failing transaction changes nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use plumber::node::ovs::{self, OvsOp, OvsState};
use plumber::node::Error;
use plumber_render::distro::Distro;
use plumber_render::node::NodeConfig;

pub(crate) mod ovsdb_fixture {
    include!("../support/ovsdb.rs");
}
use ovsdb_fixture::{require_tool, Ovsdb};

fn desired(ovs_config: &str) -> NodeConfig {
    plumber_render::node_config_of_spec(&format!("  ovsConfig:\n{ovs_config}")).unwrap()
}

/// A bond with every setting, a single port, a DPDK port and a bridge without ports.
const V1: &str = "    - bridgeName: br-ex
      nodeInterface: eno1,eno2
      params: {bondMode: balance-tcp, lacp: active, mtuRequest: 9000}
    - bridgeName: br-a
      nodeInterface: eno7
    - bridgeName: dpdk-br
      nodeInterface: 0000:03:00.1
      dpdk: true
      params: {mtuRequest: 9000}
    - bridgeName: br-int
";

/// V1 with another bond mode, no lacp and no MTU on the bond: settings only.
const V2: &str = "    - bridgeName: br-ex
      nodeInterface: eno1,eno2
      params: {bondMode: active-backup}
    - bridgeName: br-a
      nodeInterface: eno7
    - bridgeName: dpdk-br
      nodeInterface: 0000:03:00.1
      dpdk: true
      params: {mtuRequest: 9000}
    - bridgeName: br-int
";

/// V2 with port eno7 moved from br-a to br-int, and eno2 moved from the bond into its own port on a new
/// bridge while the bond takes eno3.
const V3: &str = "    - bridgeName: br-ex
      nodeInterface: eno1,eno3
      params: {bondMode: active-backup}
    - bridgeName: br-a
    - bridgeName: br-b
      nodeInterface: eno2
    - bridgeName: dpdk-br
      nodeInterface: 0000:03:00.1
      dpdk: true
      params: {mtuRequest: 9000}
    - bridgeName: br-int
      nodeInterface: eno7
";

fn handle(db: &Ovsdb) -> ovs::Ovsdb {
    ovs::Ovsdb::at_socket(require_tool("ovs-vsctl"), &db.sock)
}

fn discover(db: &Ovsdb) -> OvsState {
    ovs::discover(&handle(db)).unwrap()
}

/// Plans `node` on what discovery reads, applies it, and checks that planning again is empty.
fn converge(db: &Ovsdb, node: &NodeConfig) -> Vec<OvsOp> {
    let ops = ovs::plan(&node.ovs, &discover(db));
    let n = ovs::apply(&handle(db), &ops).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, ops.len());
    let again = ovs::plan(&node.ovs, &discover(db));
    assert!(
        again.is_empty(),
        "planning again after {:#?} gives {:#?}",
        lines(&ops),
        lines(&again)
    );
    ops
}

fn lines(ops: &[OvsOp]) -> Vec<String> {
    ops.iter().map(OvsOp::to_string).collect()
}

/// The state without row UUIDs (two databases given the same commands differ only in those).
fn plain(mut s: OvsState) -> OvsState {
    for b in &mut s.bridges {
        for p in &mut b.ports {
            p.uuid = None;
            for i in &mut p.interfaces {
                i.uuid = None;
            }
        }
    }
    s
}

/// Runs the boot script rendered from `node` against `db`.
fn run_script(db: &Ovsdb, node: &NodeConfig, name: &str) {
    let arts = plumber_render::render::render(node, &Distro::by_name("ubuntu").unwrap()).unwrap();
    let script = arts
        .iter()
        .find(|a| a.path.ends_with("/plumber-ovs"))
        .expect("an OVS script");
    let p: PathBuf = db.dir.path().join(name);
    fs::write(&p, &script.content).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    db.run(&p);
}

/// Ports and a bridge that other software added (OVS CNI, a VM, an overlay).
fn add_others(db: &Ovsdb) {
    db.vsctl(&[
        "add-port",
        "br-ex",
        "veth-cni0",
        "tag=10",
        "--",
        "set",
        "Port",
        "veth-cni0",
        "external_ids:owner=cni",
    ]);
    db.vsctl(&[
        "add-port",
        "br-int",
        "tap-vm0",
        "--",
        "set",
        "Interface",
        "tap-vm0",
        "mtu_request=1450",
        "external_ids:vm=a",
    ]);
    db.vsctl(&[
        "add-br",
        "br-other",
        "--",
        "add-port",
        "br-other",
        "vxlan0",
        "--",
        "set",
        "Interface",
        "vxlan0",
        "type=vxlan",
        "options:remote_ip=192.0.2.1",
    ]);
    // Holds eno3, which V3 puts into the bond.
    db.vsctl(&[
        "add-port",
        "br-other",
        "eno3",
        "tag=5",
        "--",
        "set",
        "Interface",
        "eno3",
        "mtu_request=1400",
        "other_config:x=y",
    ]);
}

fn assert_others_stay(db: &Ovsdb) {
    assert_eq!(db.vsctl(&["port-to-br", "veth-cni0"]), "br-ex");
    assert_eq!(db.get(&["Port", "veth-cni0", "external_ids:owner"]), "cni");
    assert_eq!(db.get(&["Port", "veth-cni0", "tag"]), "10");
    assert_eq!(db.vsctl(&["port-to-br", "tap-vm0"]), "br-int");
    assert_eq!(db.get(&["Interface", "tap-vm0", "mtu_request"]), "1450");
    assert_eq!(db.vsctl(&["port-to-br", "vxlan0"]), "br-other");
    assert_eq!(db.get(&["Interface", "vxlan0", "type"]), "vxlan");
}

#[test]
fn applied_config_reads_back_and_a_second_apply_changes_nothing() {
    let db = Ovsdb::start();
    assert!(handle(&db).reachable());
    let node = desired(V1);
    let ops = converge(&db, &node);
    assert_eq!(
        lines(&ops),
        [
            "set Open_vSwitch other_config:dpdk-init true",
            "add bridge br-a (datapath_type system)",
            "add port eno7 on br-a: interfaces eno7",
            "add bridge br-ex (datapath_type system)",
            "set interface br-ex mtu_request 9000",
            "add port bond-br-ex on br-ex: interfaces eno1,eno2, bond_mode balance-tcp, lacp active, eno1 mtu_request 9000, eno2 mtu_request 9000",
            "add bridge br-int (datapath_type system)",
            "add bridge dpdk-br (datapath_type netdev)",
            "set interface dpdk-br mtu_request 9000",
            "add port dpdk-dpdk-br on dpdk-br: interfaces dpdk-dpdk-br, dpdk-dpdk-br type dpdk, dpdk-dpdk-br dpdk-devargs 0000:03:00.1, dpdk-dpdk-br mtu_request 9000",
        ]
    );

    // Discovery reads back what was applied, as ovs-vsctl itself reports it.
    let s = discover(&db);
    assert_eq!(s.dpdk_init.as_deref(), Some("true"));
    assert_eq!(
        db.get(&["Open_vSwitch", ".", "other_config:dpdk-init"]),
        "true"
    );
    let names: Vec<&str> = s.bridges.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["br-a", "br-ex", "br-int", "dpdk-br"]);
    assert_eq!(s.bridge("dpdk-br").unwrap().datapath_type, "netdev");
    assert_eq!(db.get(&["Bridge", "br-ex", "datapath_type"]), "system");
    let (on, bond) = s.port("bond-br-ex").unwrap();
    assert_eq!(on.name, "br-ex");
    assert_eq!(db.port_interfaces("bond-br-ex"), ["eno1", "eno2"]);
    assert_eq!(
        bond.interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["eno1", "eno2"]
    );
    assert_eq!(bond.bond_mode.as_deref(), Some("balance-tcp"));
    assert_eq!(db.get(&["Port", "bond-br-ex", "bond_mode"]), "balance-tcp");
    assert_eq!(bond.lacp.as_deref(), Some("active"));
    assert_eq!(bond.uuid, Some(db.get(&["Port", "bond-br-ex", "_uuid"])));
    assert_eq!(s.interface("eno2").unwrap().mtu_request, Some(9000));
    let dpdk = s.interface("dpdk-dpdk-br").unwrap();
    assert_eq!(dpdk.kind, "dpdk");
    assert_eq!(dpdk.dpdk_devargs(), Some("0000:03:00.1"));
    assert_eq!(
        db.get(&["Interface", "dpdk-dpdk-br", "options:dpdk-devargs"]),
        "0000:03:00.1"
    );
    assert_eq!(s.interface("eno7").unwrap().kind, "");
    assert_eq!(s.interface("br-int").unwrap().kind, "internal");

    // The same as the boot script gives.
    let other = Ovsdb::start();
    run_script(&other, &node, "plumber-ovs");
    assert_eq!(plain(discover(&other)), plain(s.clone()));

    // The second apply executes nothing and OVSDB does not change.
    let dump = db.dump();
    let ops = ovs::plan(&node.ovs, &discover(&db));
    assert!(ops.is_empty(), "{:#?}", lines(&ops));
    assert_eq!(ovs::apply(&handle(&db), &ops).unwrap(), 0);
    assert_eq!(db.dump(), dump);

    // `status` has the inventory's shape.
    let st = ovs::status(&s);
    let yaml = serde_yaml::to_string(&st).unwrap();
    assert!(
        yaml.contains(
            "- name: br-ex\n  datapathType: system\n  ports:\n  - name: bond-br-ex\n    interfaces:\n    - eno1\n    - eno2\n    bondMode: balance-tcp\n    lacp: active\n  - name: br-ex\n    interfaces:\n    - br-ex\n"
        ),
        "{yaml}"
    );
    assert!(
        yaml.contains("- name: dpdk-br\n  datapathType: netdev\n"),
        "{yaml}"
    );
    let back: Vec<plumber_render::inventory::OvsBridgeStatus> =
        serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back, st);
}

#[test]
fn changed_templates_converge_like_the_script_and_leave_other_ports_alone() {
    let db = Ovsdb::start();
    let script_db = Ovsdb::start();
    let (v1, v2, v3) = (desired(V1), desired(V2), desired(V3));

    converge(&db, &v1);
    run_script(&script_db, &v1, "v1");
    add_others(&db);
    add_others(&script_db);
    assert_eq!(plain(discover(&db)), plain(discover(&script_db)));

    // A bond mode change is a `set`, not a re-creation.
    let ops = converge(&db, &v2);
    assert_eq!(
        lines(&ops),
        [
            "set port bond-br-ex bond_mode balance-tcp -> active-backup",
            "clear port bond-br-ex lacp (was active)",
            "clear interface eno1 mtu_request (was 9000)",
            "clear interface eno2 mtu_request (was 9000)",
        ]
    );
    run_script(&script_db, &v2, "v2");
    assert_eq!(plain(discover(&db)), plain(discover(&script_db)));
    assert_others_stay(&db);

    // A port moves between bridges, interfaces between ports.
    let ops = converge(&db, &v3);
    assert_eq!(
        lines(&ops),
        [
            "add bridge br-b (datapath_type system)",
            "delete port bond-br-ex from br-ex (interfaces eno1,eno2)",
            "add port eno2 on br-b: interfaces eno2",
            "delete port eno3 from br-other (interfaces eno3)",
            "add port bond-br-ex on br-ex: interfaces eno1,eno3, bond_mode active-backup",
            "delete port eno7 from br-a (interfaces eno7)",
            "add port eno7 on br-int: interfaces eno7",
        ]
    );
    run_script(&script_db, &v3, "v3");
    assert_eq!(plain(discover(&db)), plain(discover(&script_db)));
    assert_others_stay(&db);
    assert_eq!(db.vsctl(&["port-to-br", "eno7"]), "br-int");
    assert_eq!(db.vsctl(&["port-to-br", "eno2"]), "br-b");
    assert_eq!(db.port_interfaces("bond-br-ex"), ["eno1", "eno3"]);
    assert_eq!(db.vsctl(&["list-ports", "br-a"]), "");
    assert_eq!(db.vsctl(&["list-ports", "br-other"]), "vxlan0");

    // And back to the first template.
    converge(&db, &v1);
    run_script(&script_db, &v1, "v1-again");
    assert_eq!(plain(discover(&db)), plain(discover(&script_db)));
    assert_eq!(db.vsctl(&["port-to-br", "veth-cni0"]), "br-ex");
}

#[test]
fn rollback_restores_the_dump_exactly() {
    let db = Ovsdb::start();
    converge(&db, &desired(V1));
    add_others(&db);
    let before = db.dump();
    let state = discover(&db);

    // Deletions (a listed port, a port of others that holds a listed interface), additions and a new
    // bridge, all undone.
    let ops = ovs::plan(&desired(V3).ovs, &state);
    let l = lines(&ops);
    assert!(
        l.iter()
            .any(|l| l.starts_with("delete port eno3 from br-other")),
        "{l:#?}"
    );
    assert!(l.iter().any(|l| l.starts_with("add bridge")), "{l:#?}");
    assert!(
        l.iter().any(|l| l.starts_with("delete port bond-br-ex")),
        "{l:#?}"
    );
    ovs::apply(&handle(&db), &ops).unwrap();
    assert_ne!(db.dump(), before);
    assert_eq!(ovs::rollback(&handle(&db), &ops).unwrap(), ops.len());
    assert_eq!(db.dump(), before);
    assert_eq!(discover(&db), state);
    // Others' columns are back too (they are in the dump; named here for the reader).
    assert_eq!(db.get(&["Port", "eno3", "tag"]), "5");
    assert_eq!(db.get(&["Interface", "eno3", "other_config:x"]), "y");

    // The settings-only plan, too.
    let ops = ovs::plan(&desired(V2).ovs, &state);
    ovs::apply(&handle(&db), &ops).unwrap();
    ovs::rollback(&handle(&db), &ops).unwrap();
    assert_eq!(db.dump(), before);

    // And from an empty database: the bridges go again, dpdk-init is removed.
    let empty = Ovsdb::start();
    let before = empty.dump();
    let ops = ovs::plan(&desired(V1).ovs, &discover(&empty));
    ovs::apply(&handle(&empty), &ops).unwrap();
    ovs::rollback(&handle(&empty), &ops).unwrap();
    assert_eq!(empty.dump(), before);
}

#[test]
fn a_failing_transaction_changes_nothing() {
    let db = Ovsdb::start();
    converge(&db, &desired(V1));
    add_others(&db);
    let before = db.dump();

    // The plan is fine up to its last command, which names an interface that does not exist.
    let mut ops = ovs::plan(&desired(V3).ovs, &discover(&db));
    assert!(ops.len() > 3);
    ops.push(OvsOp::SetMtuRequest {
        iface: "nosuch0".into(),
        value: Some(1500),
        previous: None,
    });
    let err = ovs::apply(&handle(&db), &ops).unwrap_err();
    let Error::Apply(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.rollback, "nothing changed (one OVSDB transaction)");
    assert!(f.error.contains("nosuch0"), "{}", f.error);
    assert!(
        f.at.contains("set interface nosuch0 mtu_request 1500"),
        "{}",
        f.at
    );
    assert!(f.rolled_back.is_empty() && f.rollback_failed.is_empty());
    assert!(err.to_string().contains("nothing changed"), "{err}");
    assert_eq!(db.dump(), before);

    // ovs-vsctl failing as a whole (a broken binary, a database that is not there).
    let fake = db.dir.path().join("ovs-vsctl-broken");
    fs::write(&fake, "#!/bin/sh\necho 'broken on purpose' >&2\nexit 1\n").unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let broken = ovs::Ovsdb::at_socket(&fake, &db.sock);
    assert!(!broken.reachable());
    let Err(Error::Apply(f)) = ovs::apply(&broken, &ops[..1]) else {
        panic!("the broken ovs-vsctl succeeded")
    };
    assert!(f.error.contains("broken on purpose"), "{}", f.error);
    assert!(matches!(ovs::discover(&broken), Err(Error::Ovs(_))));

    let gone = ovs::Ovsdb {
        timeout: std::time::Duration::from_secs(1),
        ..ovs::Ovsdb::at_socket(require_tool("ovs-vsctl"), db.dir.path().join("nosuch.sock"))
    };
    assert!(!gone.reachable());
    let e = ovs::discover(&gone).unwrap_err();
    assert!(matches!(e, Error::Ovs(_)), "{e:?}");
    assert!(ovs::apply(&gone, &ops).is_err());
    assert_eq!(db.dump(), before);
}

/// What HostPlumber's controller makes for [`HOSTPLUMBER`], with the ovs-vsctl commands it runs
/// (createOvsBond, createDpdkBridge, createOvsDpdkBond, createOvsBridge: its names, `mtu_request` on
/// the bridge's own interface for bonds and on the DPDK port for one DPDK uplink). The DPDK bond's
/// bridge has 15 bytes, the longest bridge name: its port's name has 24 and its interfaces' 21.
fn hostplumber_made(db: &Ovsdb) {
    let b = "b23456789012345";
    let (bond, if0, if1) = (
        format!("dpdkbond-{b}"),
        format!("{b}-dpdk0"),
        format!("{b}-dpdk1"),
    );
    for cmd in [
        vec!["add-br", "ovs-br01"],
        vec!["add-bond", "ovs-br01", "bond-ovs-br01", "eno1", "eno2"],
        vec!["set", "Interface", "ovs-br01", "mtu_request=9000"],
        vec!["set", "port", "bond-ovs-br01", "bond_mode=balance-tcp"],
        vec!["set", "port", "bond-ovs-br01", "lacp=active"],
        vec![
            "add-br",
            "dpdk-br01",
            "--",
            "set",
            "bridge",
            "dpdk-br01",
            "datapath_type=netdev",
        ],
        vec![
            "add-port",
            "dpdk-br01",
            "dpdk-dpdk-br01",
            "--",
            "set",
            "Interface",
            "dpdk-dpdk-br01",
            "type=dpdk",
            "options:dpdk-devargs=0000:03:00.1",
        ],
        vec!["set", "Interface", "dpdk-dpdk-br01", "mtu_request=9000"],
        vec![
            "add-br",
            b,
            "--",
            "set",
            "bridge",
            b,
            "datapath_type=netdev",
        ],
        vec![
            "add-bond",
            b,
            &bond,
            &if0,
            &if1,
            "--",
            "set",
            "Interface",
            &if0,
            "type=dpdk",
            "options:dpdk-devargs=0000:d8:00.0",
            "--",
            "set",
            "Interface",
            &if1,
            "type=dpdk",
            "options:dpdk-devargs=0000:d8:00.1",
        ],
        vec!["set", "Interface", b, "mtu_request=9000"],
        vec!["set", "port", &bond, "bond_mode=active-backup"],
        vec!["add-br", "ovs-br03"],
        vec!["add-port", "ovs-br03", "eno7"],
    ] {
        db.vsctl(&cmd);
    }
}

/// The templates HostPlumber made [`hostplumber_made`] from.
const HOSTPLUMBER: &str = "    - bridgeName: ovs-br01
      nodeInterface: eno1,eno2
      params: {bondMode: balance-tcp, lacp: active, mtuRequest: 9000}
    - bridgeName: dpdk-br01
      nodeInterface: 0000:03:00.1
      dpdk: true
      params: {mtuRequest: 9000}
    - bridgeName: b23456789012345
      nodeInterface: 0000:d8:00.0,0000:d8:00.1
      dpdk: true
      params: {bondMode: active-backup, mtuRequest: 9000}
    - bridgeName: ovs-br03
      nodeInterface: eno7
";

/// Every port's row UUID, by name: the same UUID is the same row, never deleted and re-created.
fn port_uuids(db: &Ovsdb) -> Vec<(String, String)> {
    let csv = db.vsctl(&[
        "--format=csv",
        "--no-headings",
        "--columns=name,_uuid",
        "list",
        "Port",
    ]);
    let mut v: Vec<(String, String)> = csv
        .lines()
        .map(|l| {
            let (n, u) = l.split_once(',').unwrap();
            (n.trim_matches('"').to_string(), u.to_string())
        })
        .collect();
    v.sort();
    v
}

/// A node switched from HostPlumber: plumber's apply and its boot script keep every port HostPlumber
/// made (the same rows), and set mtu_request on the uplinks and the bridges' own interfaces.
#[test]
fn a_node_switched_from_hostplumber_keeps_its_ports() {
    let node = desired(HOSTPLUMBER);
    let (db, script_db) = (Ovsdb::start(), Ovsdb::start());
    hostplumber_made(&db);
    hostplumber_made(&script_db);
    let (before, script_before) = (port_uuids(&db), port_uuids(&script_db));
    assert_eq!(before.len(), 8, "{before:?}");

    let ops = converge(&db, &node);
    assert_eq!(
        lines(&ops),
        [
            "set Open_vSwitch other_config:dpdk-init true",
            "set interface b23456789012345-dpdk0 mtu_request 9000",
            "set interface b23456789012345-dpdk1 mtu_request 9000",
            "set interface dpdk-br01 mtu_request 9000",
            "set bridge ovs-br01 datapath_type \"\" -> system",
            "set interface eno1 mtu_request 9000",
            "set interface eno2 mtu_request 9000",
            "set bridge ovs-br03 datapath_type \"\" -> system",
        ]
    );
    assert_eq!(port_uuids(&db), before, "a port was re-created");
    for iface in [
        "eno1",
        "eno2",
        "ovs-br01",
        "dpdk-br01",
        "b23456789012345-dpdk1",
    ] {
        assert_eq!(
            db.get(&["Interface", iface, "mtu_request"]),
            "9000",
            "{iface}"
        );
    }
    assert_eq!(db.get(&["Port", "bond-ovs-br01", "lacp"]), "active");

    // The boot script, on the other copy: no port re-created or moved, the same result.
    let arts = plumber_render::render::render(&node, &Distro::by_name("ubuntu").unwrap()).unwrap();
    let script = arts
        .iter()
        .find(|a| a.path.ends_with("/plumber-ovs"))
        .unwrap();
    let p = script_db.dir.path().join("plumber-ovs");
    fs::write(&p, &script.content).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    let out = script_db.run(&p);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(port_uuids(&script_db), script_before);
    assert_eq!(plain(discover(&script_db)), plain(discover(&db)));
}

/// The boot script on a node whose NIC carries addresses: that NIC is not added to its bridge (its
/// addresses would stop working in OVS), the script says why and exits non-zero, and everything else
/// is done; the IPv6 link-local address does not count. Once the NIC has no addresses it is added; once
/// it is a port, addresses on it are left alone (a second run changes nothing).
#[test]
fn the_boot_script_leaves_out_a_nic_with_addresses() {
    use crate::common::{settled, sh, veth};
    crate::in_netns!("the_boot_script_leaves_out_a_nic_with_addresses", || {
        veth("a0", "a1");
        veth("b0", "b1");
        sh("addr add 10.1.1.1/24 dev a1");
        sh("addr add 2001:db8::1/64 dev a1 nodad");
        settled(&["a0", "a1", "b0", "b1"]);
        let node = desired(
            "    - bridgeName: br-ex\n      nodeInterface: a1\n    - bridgeName: br-bond\n      nodeInterface: b1,a0\n",
        );
        let arts =
            plumber_render::render::render(&node, &Distro::by_name("ubuntu").unwrap()).unwrap();
        let script = arts
            .iter()
            .find(|a| a.path.ends_with("/plumber-ovs"))
            .unwrap();
        let db = Ovsdb::start();
        let p = db.dir.path().join("plumber-ovs");
        fs::write(&p, &script.content).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        let run = || {
            std::process::Command::new(require_tool("sh"))
                .arg(&p)
                .env("PLUMBER_OVS_VSCTL_OPTS", db.opts())
                .output()
                .unwrap()
        };

        let out = run();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "plumber-ovs: not adding a1 to OVS bridge br-ex: it has addresses 10.1.1.1/24 2001:db8::1/64, which stop working on an OVS port; configure them (or DHCP) on br-ex in the host's network configuration and remove them from a1, or name an interface without addresses\n"
        );
        assert_eq!(db.vsctl(&["list-ports", "br-ex"]), "");
        assert_eq!(db.port_interfaces("bond-br-bond"), ["a0", "b1"]);

        sh("addr flush dev a1 scope global");
        let out = run();
        assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
        assert_eq!(db.port_interfaces("a1"), ["a1"]);

        sh("addr add 10.1.1.1/24 dev a1");
        let dump = db.dump();
        let out = run();
        assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
        assert_eq!(db.dump(), dump);
    });
}

/// Bind mounts made for a test, undone (lazily, in reverse) on drop.
struct Binds(Vec<std::path::PathBuf>);

impl Drop for Binds {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(p)
                .status();
        }
    }
}

#[test]
fn the_agent_runs_the_hosts_ovs_vsctl_chrooted_into_the_host_root() {
    // The agent's container sees the host's root at /host and runs the host's /usr/bin/ovs-vsctl
    // chrooted there (the kubelet binds hostPaths recursively: /host/dev is the host's /dev, which
    // ovs-vsctl reads /dev/urandom from). Here a "host root" is a directory with this machine's /usr,
    // /etc, /dev and the private
    // database's directory (at /run/ovs) bound into it; the merged-/usr links are copied as links.
    let db = Ovsdb::start();
    let root = tempfile::tempdir().unwrap();
    let mut binds = Binds(Vec::new());
    let mut bind = |from: &Path, to: &Path| {
        fs::create_dir_all(to).unwrap();
        let st = std::process::Command::new("mount")
            .arg("--bind")
            .arg(from)
            .arg(to)
            .status()
            .unwrap();
        assert!(
            st.success(),
            "mount --bind {} {}",
            from.display(),
            to.display()
        );
        binds.0.push(to.to_path_buf());
    };
    for d in ["usr", "etc", "lib", "lib64", "bin", "sbin", "dev"] {
        let host = Path::new("/").join(d);
        let inside = root.path().join(d);
        match fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                std::os::unix::fs::symlink(fs::read_link(&host).unwrap(), &inside).unwrap()
            }
            Ok(_) => bind(&host, &inside),
            Err(_) => {}
        }
    }
    bind(db.dir.path(), &root.path().join("run/ovs"));

    let on_host = ovs::Ovsdb {
        no_wait: true,
        ..ovs::Ovsdb::on_host(root.path(), Some("/run/ovs/db.sock".into()))
    };
    assert_eq!(on_host.vsctl, Path::new("/usr/bin/ovs-vsctl"));
    on_host.check().unwrap_or_else(|e| panic!("{e}"));
    // The socket path is the host's: outside the chroot it does not exist.
    assert!(!Path::new("/run/ovs/db.sock").exists());
    let unrooted = ovs::Ovsdb::at_socket(require_tool("ovs-vsctl"), "/run/ovs/db.sock");
    assert!(!unrooted.reachable());
    // Through the chroot, plumber reads and writes the same database as directly.
    let ops = ovs::plan(&desired(V1).ovs, &ovs::discover(&on_host).unwrap());
    assert!(!ops.is_empty());
    ovs::apply(&on_host, &ops).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ovs::discover(&on_host).unwrap(), discover(&db));
    // A root without the binary says where it looked.
    let empty = tempfile::tempdir().unwrap();
    let e = ovs::Ovsdb::on_host(empty.path(), None).check().unwrap_err();
    assert!(e.to_string().contains("/usr/bin/ovs-vsctl (in "), "{e}");
}
