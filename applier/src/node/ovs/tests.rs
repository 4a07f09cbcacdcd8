use plumber_render::node::OvsBridge;

use super::exec::arguments;
use super::op::vsctl_value;
use super::*;

/// Captured from ovs-vsctl 3.1: br-ex (netdev) with bond0 (eno1, eno2; balance-slb, lacp active), dpdk0
/// (dpdk, 0000:03:00.1, mtu_request 9000), veth-cni0 (tag 10, external_ids owner=cni); dpdk-init true.
const CAPTURED: &str = include_str!("testdata.json");

fn desired(spec: &str) -> Vec<OvsBridge> {
    plumber_render::node_config_of_spec(&format!("  ovsConfig:\n{spec}"))
        .unwrap()
        .ovs
}

fn lines(ops: &[OvsOp]) -> Vec<String> {
    ops.iter().map(OvsOp::to_string).collect()
}

/// Applies `ops` to a copy of `s` (the planner's model of OVSDB).
fn after(s: &OvsState, ops: &[OvsOp]) -> OvsState {
    let mut s = s.clone();
    for op in ops {
        s.apply(op);
    }
    s
}

/// Plans, checks idempotence (planning on the result is empty) and that the inverses, last first,
/// restore `current` exactly; returns the plan.
fn checked_plan(want: &[OvsBridge], current: &OvsState) -> Vec<OvsOp> {
    let ops = plan(want, current);
    let done = after(current, &ops);
    assert_eq!(
        lines(&plan(want, &done)),
        Vec::<String>::new(),
        "planning again is not empty after {:#?}",
        lines(&ops)
    );
    let undo: Vec<OvsOp> = ops.iter().rev().map(OvsOp::inverse).collect();
    assert_eq!(&after(&done, &undo), current, "the inverses do not restore");
    for op in &ops {
        assert_eq!(op.inverse().inverse(), *op);
    }
    // A crash before the transaction: nothing to recover; after it: the recovery restores `current`.
    assert_eq!(lines(&recovery(&ops, current)), Vec::<String>::new());
    let back = after(&done, &recovery(&ops, &done));
    assert_eq!(&back, current, "recovery does not restore");
    assert_eq!(lines(&recovery(&ops, &back)), Vec::<String>::new());
    let text = serde_json::to_string(&ops).unwrap();
    assert_eq!(serde_json::from_str::<Vec<OvsOp>>(&text).unwrap(), ops);
    ops
}

fn captured() -> OvsState {
    parse_lists(CAPTURED).unwrap()
}

fn iface(name: &str) -> IfaceState {
    IfaceState {
        name: name.into(),
        ..Default::default()
    }
}

fn port(name: &str, ifaces: &[&str]) -> PortState {
    PortState {
        name: name.into(),
        interfaces: ifaces.iter().map(|i| iface(i)).collect(),
        ..Default::default()
    }
}

fn bridge(name: &str, dp: &str, ports: Vec<PortState>) -> BridgeState {
    let mut ports = ports;
    ports.push(PortState {
        name: name.into(),
        interfaces: vec![IfaceState {
            name: name.into(),
            kind: "internal".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    ports.sort_by(|a, b| a.name.cmp(&b.name));
    BridgeState {
        name: name.into(),
        datapath_type: dp.into(),
        ports,
    }
}

fn state(bridges: Vec<BridgeState>) -> OvsState {
    let mut bridges = bridges;
    bridges.sort_by(|a, b| a.name.cmp(&b.name));
    OvsState {
        bridges,
        dpdk_init: None,
    }
}

#[test]
fn parses_captured_json() {
    let s = captured();
    assert_eq!(s.dpdk_init.as_deref(), Some("true"));
    assert_eq!(s.bridges.len(), 1);
    let b = &s.bridges[0];
    assert_eq!(
        (b.name.as_str(), b.datapath_type.as_str()),
        ("br-ex", "netdev")
    );
    let names: Vec<&str> = b.ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["bond0", "br-ex", "dpdk0", "veth-cni0"]);

    let (_, bond) = s.port("bond0").unwrap();
    assert_eq!(
        bond.interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["eno1", "eno2"]
    );
    assert_eq!(bond.bond_mode.as_deref(), Some("balance-slb"));
    assert_eq!(bond.lacp.as_deref(), Some("active"));
    assert!(bond.extra.is_empty(), "{:?}", bond.extra);
    assert!(bond.uuid.as_ref().is_some_and(|u| u.len() == 36));

    let dpdk = s.interface("dpdk0").unwrap();
    assert_eq!(dpdk.kind, "dpdk");
    assert_eq!(dpdk.dpdk_devargs(), Some("0000:03:00.1"));
    assert_eq!(dpdk.mtu_request, Some(9000));
    assert!(dpdk.extra.is_empty(), "{:?}", dpdk.extra);
    assert_eq!(s.interface("eno1").unwrap().mtu_request, None);
    assert_eq!(s.interface("br-ex").unwrap().kind, "internal");

    let (_, cni) = s.port("veth-cni0").unwrap();
    assert_eq!(cni.bond_mode, None);
    assert_eq!(cni.extra.get("tag"), Some(&serde_json::json!(10)));
    assert_eq!(
        cni.extra.get("external_ids"),
        Some(&serde_json::json!(["map", [["owner", "cni"]]]))
    );
    assert_eq!(cni.extra.len(), 2, "{:?}", cni.extra);
}

#[test]
fn status_has_the_inventory_shape() {
    let st = status(&captured());
    let yaml = serde_yaml::to_string(&st).unwrap();
    let want = "\
- name: br-ex
  datapathType: netdev
  ports:
  - name: bond0
    interfaces:
    - eno1
    - eno2
    bondMode: balance-slb
    lacp: active
  - name: br-ex
    interfaces:
    - br-ex
  - name: dpdk0
    interfaces:
    - dpdk0
  - name: veth-cni0
    interfaces:
    - veth-cni0
";
    assert_eq!(yaml, want);
    let back: Vec<plumber_render::inventory::OvsBridgeStatus> =
        serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back, st);
}

#[test]
fn bad_json_is_an_ovs_error() {
    for bad in [
        "",
        "not json",
        "{\"data\":[],\"headings\":[]}",
        &CAPTURED.replacen("\"headings\"", "\"x\"", 1),
    ] {
        assert!(
            matches!(parse_lists(bad), Err(crate::node::Error::Ovs(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn an_empty_database_gets_everything() {
    let want = desired(
        "    - bridgeName: br-ex\n      nodeInterface: eno1,eno2\n      params: {bondMode: balance-tcp, lacp: active, mtuRequest: 9000}\n    - bridgeName: dpdk-br\n      nodeInterface: 0000:03:00.1\n      dpdk: true\n    - bridgeName: br-int\n",
    );
    let ops = checked_plan(&want, &OvsState::default());
    assert_eq!(
        lines(&ops),
        [
            "set Open_vSwitch other_config:dpdk-init true",
            "add bridge br-ex (datapath_type system)",
            "set interface br-ex mtu_request 9000",
            "add port bond-br-ex on br-ex: interfaces eno1,eno2, bond_mode balance-tcp, lacp active, eno1 mtu_request 9000, eno2 mtu_request 9000",
            "add bridge br-int (datapath_type system)",
            "add bridge dpdk-br (datapath_type netdev)",
            "add port dpdk-dpdk-br on dpdk-br: interfaces dpdk-dpdk-br, dpdk-dpdk-br type dpdk, dpdk-dpdk-br dpdk-devargs 0000:03:00.1",
        ]
    );
}

#[test]
fn the_captured_state_converges_with_sets_and_keeps_other_ports() {
    // bond0 is not listed (its name is bond-br-ex): it holds eno1 and eno2, so it goes; dpdk0 and
    // veth-cni0 stay; the datapath changes in place.
    let want = desired(
        "    - bridgeName: br-ex\n      nodeInterface: eno1,eno2\n      params: {bondMode: active-backup}\n",
    );
    let cur = captured();
    let ops = checked_plan(&want, &cur);
    assert_eq!(
        lines(&ops),
        [
            "set bridge br-ex datapath_type netdev -> system",
            "delete port bond0 from br-ex (interfaces eno1,eno2)",
            "add port bond-br-ex on br-ex: interfaces eno1,eno2, bond_mode active-backup",
        ]
    );
    // The deletion keeps the snapshot, so the inverse re-creates bond0 with its rows' UUIDs.
    let inv = ops[1].inverse();
    assert!(inv.to_string().starts_with("re-create port bond0 on br-ex: interfaces eno1,eno2, bond_mode balance-slb, lacp active"), "{inv}");
    let OvsOp::AddPort { port, .. } = &inv else {
        panic!("{inv:?}")
    };
    assert_eq!(port, cur.port("bond0").unwrap().1);
}

#[test]
fn settings_converge_without_churn() {
    let mut bond = port("bond-br-ex", &["eno1", "eno2"]);
    bond.bond_mode = Some("balance-slb".into());
    bond.lacp = Some("active".into());
    bond.interfaces[0].mtu_request = Some(1500);
    let cur = state(vec![bridge("br-ex", "system", vec![bond])]);
    let want = desired(
        "    - bridgeName: br-ex\n      nodeInterface: eno1,eno2\n      params: {bondMode: active-backup, mtuRequest: 9000}\n",
    );
    assert_eq!(
        lines(&checked_plan(&want, &cur)),
        [
            "set interface br-ex mtu_request 9000",
            "set port bond-br-ex bond_mode balance-slb -> active-backup",
            "clear port bond-br-ex lacp (was active)",
            "set interface eno1 mtu_request 1500 -> 9000",
            "set interface eno2 mtu_request 9000",
        ]
    );
    // And back: every setting cleared, still no re-creation; the bridge's own mtu_request, which no
    // template states any more, is left as it is (as a link's MTU is).
    let cur2 = after(&cur, &plan(&want, &cur));
    let want = desired("    - bridgeName: br-ex\n      nodeInterface: eno1,eno2\n");
    assert_eq!(
        lines(&checked_plan(&want, &cur2)),
        [
            "clear port bond-br-ex bond_mode (was active-backup)",
            "clear interface eno1 mtu_request (was 9000)",
            "clear interface eno2 mtu_request (was 9000)",
        ]
    );
}

#[test]
fn a_single_port_keeps_what_others_set_on_it() {
    // The script sets bond_mode and lacp only on bonds, and the type only of DPDK interfaces.
    let mut p = port("eno7", &["eno7"]);
    p.bond_mode = Some("active-backup".into());
    p.interfaces[0].kind = "system".into();
    let cur = state(vec![bridge("br-a", "system", vec![p])]);
    let want = desired("    - bridgeName: br-a\n      nodeInterface: eno7\n");
    assert!(checked_plan(&want, &cur).is_empty());
}

#[test]
fn a_port_moves_between_bridges_and_an_interface_between_ports() {
    let mut moved = port("eno7", &["eno7"]);
    moved.interfaces[0].mtu_request = Some(1400);
    let cur = state(vec![
        bridge("br-z", "", vec![moved, port("vxlan0", &["vxlan0"])]),
        bridge(
            "br-b",
            "system",
            vec![port("eno3", &["eno3"]), port("tap0", &["tap0"])],
        ),
    ]);
    let want = desired(
        "    - bridgeName: br-a\n      nodeInterface: eno7\n    - bridgeName: br-b\n      nodeInterface: eno3,eno4\n",
    );
    assert_eq!(
        lines(&checked_plan(&want, &cur)),
        [
            "add bridge br-a (datapath_type system)",
            "delete port eno7 from br-z (interfaces eno7)",
            "add port eno7 on br-a: interfaces eno7",
            "delete port eno3 from br-b (interfaces eno3)",
            "add port bond-br-b on br-b: interfaces eno3,eno4",
        ]
    );
}

#[test]
fn a_listed_port_with_other_interfaces_is_recreated() {
    let mut bond = port("bond-br-b", &["eno3", "eno4", "eno5"]);
    bond.bond_mode = Some("balance-tcp".into());
    let cur = state(vec![bridge("br-b", "system", vec![bond])]);
    let want = desired(
        "    - bridgeName: br-b\n      nodeInterface: eno3,eno4\n      params: {bondMode: balance-tcp}\n",
    );
    assert_eq!(
        lines(&checked_plan(&want, &cur)),
        [
            "delete port bond-br-b from br-b (interfaces eno3,eno4,eno5)",
            "add port bond-br-b on br-b: interfaces eno3,eno4, bond_mode balance-tcp",
        ]
    );
}

#[test]
fn one_owner_holding_two_listed_interfaces_goes_once() {
    let cur = state(vec![bridge(
        "br-o",
        "",
        vec![port("old", &["eno1", "eno2"])],
    )]);
    let want = desired("    - bridgeName: br-b\n      nodeInterface: eno1,eno2\n");
    assert_eq!(
        lines(&checked_plan(&want, &cur)),
        [
            "add bridge br-b (datapath_type system)",
            "delete port old from br-o (interfaces eno1,eno2)",
            "add port bond-br-b on br-b: interfaces eno1,eno2",
        ]
    );
}

#[test]
fn dpdk_interfaces_converge_type_and_devargs() {
    let mut p = port("dpdk-dpdk-br", &["dpdk-dpdk-br"]);
    p.interfaces[0]
        .options
        .insert("dpdk-devargs".into(), "0000:03:00.0".into());
    p.interfaces[0].options.insert("n_rxq".into(), "2".into());
    let mut cur = state(vec![bridge("dpdk-br", "system", vec![p])]);
    cur.dpdk_init = Some("false".into());
    let want = desired(
        "    - bridgeName: dpdk-br\n      nodeInterface: 0000:03:00.1\n      dpdk: true\n      params: {mtuRequest: 9000}\n",
    );
    let ops = checked_plan(&want, &cur);
    assert_eq!(
        lines(&ops),
        [
            "set Open_vSwitch other_config:dpdk-init false -> true",
            "set bridge dpdk-br datapath_type system -> netdev",
            "set interface dpdk-br mtu_request 9000",
            "set interface dpdk-dpdk-br type \"\" -> dpdk",
            "set interface dpdk-dpdk-br options:dpdk-devargs 0000:03:00.0 -> 0000:03:00.1",
            "set interface dpdk-dpdk-br mtu_request 9000",
        ]
    );
    // Other options stay.
    assert_eq!(
        after(&cur, &ops)
            .interface("dpdk-dpdk-br")
            .unwrap()
            .options
            .get("n_rxq")
            .map(String::as_str),
        Some("2")
    );
}

#[test]
fn nothing_listed_nothing_done() {
    assert!(plan(&[], &captured()).is_empty());
    // dpdk-init is never removed, even with no DPDK bridge.
    let want = desired("    - bridgeName: br-ex\n      nodeInterface: eno9\n");
    assert!(lines(&plan(&want, &captured()))
        .iter()
        .all(|l| !l.contains("dpdk-init")));
}

#[test]
fn commands_are_argument_vectors_with_quoted_values() {
    let want = desired(
        "    - bridgeName: br-ex\n      nodeInterface: eno1,eno2\n      params: {bondMode: balance-tcp, mtuRequest: 9000}\n",
    );
    let ops = plan(&want, &OvsState::default());
    let args = arguments(&ops).unwrap();
    let want: Vec<&str> = vec![
        "--",
        "add-br",
        "br-ex",
        "--",
        "set",
        "Bridge",
        "br-ex",
        "datapath_type=\"system\"",
        "--",
        "set",
        "Interface",
        "br-ex",
        "mtu_request=9000",
        "--",
        "--id=@plumber1",
        "create",
        "Interface",
        "name=\"eno1\"",
        "mtu_request=9000",
        "--",
        "--id=@plumber2",
        "create",
        "Interface",
        "name=\"eno2\"",
        "mtu_request=9000",
        "--",
        "--id=@plumber3",
        "create",
        "Port",
        "name=\"bond-br-ex\"",
        "interfaces=[@plumber1,@plumber2]",
        "bond_mode=\"balance-tcp\"",
        "--",
        "add",
        "Bridge",
        "br-ex",
        "ports",
        "@plumber3",
    ];
    assert_eq!(args, want);

    // A restored port keeps its UUIDs and other columns.
    let cur = captured();
    let (_, cni) = cur.port("veth-cni0").unwrap();
    let undo = OvsOp::DelPort {
        bridge: "br-ex".into(),
        port: cni.clone(),
    }
    .inverse();
    let args = arguments(&[undo]).unwrap();
    let iface_uuid = cni.interfaces[0].uuid.clone().unwrap();
    let port_uuid = cni.uuid.clone().unwrap();
    assert!(args.contains(&format!("--id={port_uuid}")), "{args:?}");
    assert!(
        args.contains(&format!("interfaces=[{iface_uuid}]")),
        "{args:?}"
    );
    assert!(args.contains(&"tag=10".to_string()), "{args:?}");
    assert!(
        args.contains(&"external_ids={\"owner\"=\"cni\"}".to_string()),
        "{args:?}"
    );
}

#[test]
fn a_name_like_an_option_is_refused() {
    for op in [
        OvsOp::AddBridge {
            name: "--help".into(),
            datapath_type: "system".into(),
        },
        OvsOp::AddPort {
            bridge: "br".into(),
            port: port("p", &["-x"]),
        },
        OvsOp::SetMtuRequest {
            iface: "".into(),
            value: None,
            previous: None,
        },
    ] {
        assert!(
            matches!(
                arguments(std::slice::from_ref(&op)),
                Err(crate::node::Error::Ovs(_))
            ),
            "{op}"
        );
    }
}

#[test]
fn ovsdb_values_become_vsctl_syntax() {
    use serde_json::json;
    let cases = [
        (json!("a\"b,c"), "\"a\\\"b,c\""),
        (json!(7), "7"),
        (json!(true), "true"),
        (
            json!(["uuid", "0d36cf4e-afb5-4d7c-a9d0-491a3b87fead"]),
            "0d36cf4e-afb5-4d7c-a9d0-491a3b87fead",
        ),
        (json!(["set", [1, 2]]), "[1,2]"),
        (json!(["set", []]), "[]"),
        (
            json!(["map", [["k", "v"], ["x", "y=z"]]]),
            "{\"k\"=\"v\",\"x\"=\"y=z\"}",
        ),
    ];
    for (v, want) in cases {
        assert_eq!(vsctl_value(&v), want, "{v}");
    }
}

#[test]
fn every_op_has_an_inverse_and_one_line() {
    let ops = [
        OvsOp::SetDpdkInit {
            value: Some("true".into()),
            previous: None,
        },
        OvsOp::AddBridge {
            name: "b".into(),
            datapath_type: "system".into(),
        },
        OvsOp::SetDatapath {
            bridge: "b".into(),
            datapath_type: "netdev".into(),
            previous: "".into(),
        },
        OvsOp::AddPort {
            bridge: "b".into(),
            port: port("p", &["i"]),
        },
        OvsOp::SetBondMode {
            port: "p".into(),
            value: Some("balance-slb".into()),
            previous: Some("active-backup".into()),
        },
        OvsOp::SetLacp {
            port: "p".into(),
            value: None,
            previous: Some("active".into()),
        },
        OvsOp::SetIfaceType {
            iface: "i".into(),
            kind: "dpdk".into(),
            previous: "".into(),
        },
        OvsOp::SetDevargs {
            iface: "i".into(),
            value: None,
            previous: Some("0000:01:00.0".into()),
        },
        OvsOp::SetMtuRequest {
            iface: "i".into(),
            value: Some(9000),
            previous: None,
        },
    ];
    let want = [
        (
            "set Open_vSwitch other_config:dpdk-init true",
            "clear Open_vSwitch other_config:dpdk-init (was true)",
        ),
        ("add bridge b (datapath_type system)", "delete bridge b"),
        (
            "set bridge b datapath_type \"\" -> netdev",
            "set bridge b datapath_type netdev -> \"\"",
        ),
        (
            "add port p on b: interfaces i",
            "delete port p from b (interfaces i)",
        ),
        (
            "set port p bond_mode active-backup -> balance-slb",
            "set port p bond_mode balance-slb -> active-backup",
        ),
        ("clear port p lacp (was active)", "set port p lacp active"),
        (
            "set interface i type \"\" -> dpdk",
            "set interface i type dpdk -> \"\"",
        ),
        (
            "clear interface i options:dpdk-devargs (was 0000:01:00.0)",
            "set interface i options:dpdk-devargs 0000:01:00.0",
        ),
        (
            "set interface i mtu_request 9000",
            "clear interface i mtu_request (was 9000)",
        ),
    ];
    for (op, (line, inv)) in ops.iter().zip(want) {
        assert_eq!(op.to_string(), line);
        assert_eq!(op.inverse().to_string(), inv);
        assert_eq!(op.inverse().inverse(), *op);
        assert!(!op.to_string().contains('\n'));
    }
}

/// A node switched from HostPlumber: its bridges and ports as its controller made them
/// (createOvsBridge, createOvsBond, createDpdkBridge, createOvsDpdkBond; mtu_request on the bridge's
/// own interface for bonds, on the DPDK port for one DPDK uplink) converge without a port deleted.
#[test]
fn hostplumbers_ports_are_kept() {
    let dpdk = |name: &str, pci: &str, mtu: Option<u32>| IfaceState {
        name: name.into(),
        kind: "dpdk".into(),
        options: [("dpdk-devargs".to_string(), pci.to_string())].into(),
        mtu_request: mtu,
        ..Default::default()
    };
    let with_mtu = |mut b: BridgeState, m: u32| {
        let name = b.name.clone();
        b.ports
            .iter_mut()
            .flat_map(|p| p.interfaces.iter_mut())
            .filter(|i| i.name == name)
            .for_each(|i| i.mtu_request = Some(m));
        b
    };
    let mut bond = port("bond-ovs-br02", &["eno3", "eno4"]);
    bond.bond_mode = Some("balance-tcp".into());
    bond.lacp = Some("active".into());
    let dpdk_one = PortState {
        name: "dpdk-dpdk-br01".into(),
        interfaces: vec![dpdk("dpdk-dpdk-br01", "0000:3b:00.0", Some(9000))],
        ..Default::default()
    };
    let dpdk_bond = PortState {
        name: "dpdkbond-dpdk-br02".into(),
        interfaces: vec![
            dpdk("dpdk-br02-dpdk0", "0000:d8:00.0", None),
            dpdk("dpdk-br02-dpdk1", "0000:d8:00.1", None),
        ],
        bond_mode: Some("active-backup".into()),
        ..Default::default()
    };
    let mut cur = state(vec![
        bridge("ovs-br01", "", vec![port("eno2.1000", &["eno2.1000"])]),
        with_mtu(bridge("ovs-br02", "", vec![bond]), 9000),
        bridge("dpdk-br01", "netdev", vec![dpdk_one]),
        with_mtu(bridge("dpdk-br02", "netdev", vec![dpdk_bond]), 1600),
    ]);
    cur.dpdk_init = Some("true".into());
    let spec = "    - bridgeName: ovs-br01\n      nodeInterface: eno2.1000\n    - bridgeName: ovs-br02\n      nodeInterface: eno3,eno4\n      params: {bondMode: balance-tcp, lacp: active}\n    - bridgeName: dpdk-br01\n      nodeInterface: 0000:3b:00.0\n      dpdk: true\n      params: {mtuRequest: 9000}\n    - bridgeName: dpdk-br02\n      nodeInterface: 0000:d8:00.0,0000:d8:00.1\n      dpdk: true\n      params: {bondMode: active-backup}\n";
    // HostPlumber's datapath_type for a kernel bridge is OVS's default (empty): plumber says `system`,
    // the same datapath, in place; and it sets mtuRequest on the bridge's own interface too.
    assert_eq!(
        lines(&checked_plan(&desired(spec), &cur)),
        [
            "set interface dpdk-br01 mtu_request 9000",
            "set bridge ovs-br01 datapath_type \"\" -> system",
            "set bridge ovs-br02 datapath_type \"\" -> system",
        ]
    );
    // With mtuRequest on the bond, plumber adds it to the members: settings only, never a port
    // deleted or added.
    let spec = spec.replace(
        "{bondMode: balance-tcp, lacp: active}",
        "{bondMode: balance-tcp, lacp: active, mtuRequest: 9000}",
    );
    let ops = checked_plan(&desired(&spec), &cur);
    assert!(
        ops.iter()
            .all(|o| !matches!(o, OvsOp::DelPort { .. } | OvsOp::AddPort { .. })),
        "{:#?}",
        lines(&ops)
    );
    assert!(lines(&ops).contains(&"set interface eno3 mtu_request 9000".to_string()));
    assert!(lines(&ops).contains(&"set interface eno4 mtu_request 9000".to_string()));
}

/// A node that ran an older plumber has its bond as `<bridge>-bond`: the upgrade replaces it by
/// `bond-<bridge>` in the one transaction (OVSDB cannot rename a port), and letting go of the old
/// name, which the ownership record still holds, does not delete it a second time.
#[test]
fn plumbers_old_names_are_replaced_once() {
    let mut old = port("br-ex-bond", &["eno1", "eno2"]);
    old.bond_mode = Some("balance-tcp".into());
    let old_dpdk = PortState {
        name: "dpdk-0000:03:00.1".into(),
        interfaces: vec![IfaceState {
            name: "dpdk-0000:03:00.1".into(),
            kind: "dpdk".into(),
            options: [("dpdk-devargs".to_string(), "0000:03:00.1".to_string())].into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut cur = state(vec![
        bridge("br-ex", "system", vec![old]),
        bridge("dpdk-br", "netdev", vec![old_dpdk]),
    ]);
    cur.dpdk_init = Some("true".into());
    let want = desired(
        "    - bridgeName: br-ex\n      nodeInterface: eno1,eno2\n      params: {bondMode: balance-tcp}\n    - bridgeName: dpdk-br\n      nodeInterface: 0000:03:00.1\n      dpdk: true\n",
    );
    let ops = checked_plan(&want, &cur);
    assert_eq!(
        lines(&ops),
        [
            "delete port br-ex-bond from br-ex (interfaces eno1,eno2)",
            "add port bond-br-ex on br-ex: interfaces eno1,eno2, bond_mode balance-tcp",
            "add port dpdk-dpdk-br on dpdk-br: interfaces dpdk-dpdk-br, dpdk-dpdk-br type dpdk, dpdk-dpdk-br dpdk-devargs 0000:03:00.1",
        ]
    );
    // The old DPDK port holds another interface name for the same device: it is plumber's and no
    // template lists it, so letting go removes it (before the new one is added, in the same
    // transaction); the old bond, which the plan already deleted, is not deleted again.
    let owned_bridges = ["br-ex".to_string(), "dpdk-br".to_string()];
    let owned_ports = [
        ("br-ex".to_string(), "br-ex-bond".to_string()),
        ("dpdk-br".to_string(), "dpdk-0000:03:00.1".to_string()),
    ];
    let released = release(&owned_bridges, &owned_ports, &want, &cur, &ops);
    assert_eq!(
        lines(&released),
        ["delete port dpdk-0000:03:00.1 from dpdk-br (interfaces dpdk-0000:03:00.1)"]
    );
    // As one transaction, the model ends with HostPlumber's names only, and planning again is empty.
    let all = [ops.clone(), released].concat();
    let done = after(&cur, &all);
    assert!(done.port("br-ex-bond").is_none() && done.port("dpdk-0000:03:00.1").is_none());
    assert!(plan(&want, &done).is_empty());
    let names: Vec<String> = arguments(&all).unwrap();
    let dels = names.iter().filter(|a| *a == "del-port").count();
    assert_eq!(dels, 2, "{names:?}");
}
