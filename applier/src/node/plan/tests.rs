//! Plans for small desired × current pairs, checked op by op, plus the two properties everything rests on:
//! applying a plan and planning again gives nothing, and rolling a plan back restores the state. Both use
//! a small model of the kernel (`simulate`) instead of a real one; the netns tests do the same on a kernel.

use super::*;
use crate::node::state::{AddressState, RouteProto, RouteState};
use plumber_render::model::{BondMode, IpCidr};

fn desired(spec: &str) -> NodeConfig {
    plumber_render::node_config_of_spec(spec).unwrap()
}

fn dev(name: &str, mtu: u32, up: bool, addrs: &[&str]) -> LinkState {
    LinkState {
        name: name.into(),
        kind: CurrentKind::Device,
        mtu,
        up,
        controller: None,
        addresses: addrs
            .iter()
            .map(|a| AddressState {
                cidr: IpCidr::parse(a).unwrap(),
                dynamic: false,
            })
            .collect(),
        vfs: vec![],
    }
}

fn state(links: Vec<LinkState>, routes: Vec<RouteState>) -> CurrentState {
    CurrentState {
        links: links.into_iter().map(|l| (l.name.clone(), l)).collect(),
        routes,
    }
}

fn lines(ops: &[Op]) -> Vec<String> {
    ops.iter().map(|o| o.to_string()).collect()
}

/// What the kernel would do with each op, as far as `CurrentState` can tell.
fn simulate(mut s: CurrentState, ops: &[Op]) -> CurrentState {
    for op in ops {
        match op {
            Op::CreateLink {
                name,
                spec,
                restore,
            } => {
                assert!(
                    !matches!(spec, LinkKind::Device),
                    "plans never create devices"
                );
                let kind = CurrentKind::from(spec);
                let mtu = match spec {
                    LinkKind::Vlan { parent, .. } => s.links[parent].mtu,
                    _ => 1500,
                };
                let mut l = LinkState {
                    name: name.clone(),
                    kind,
                    mtu,
                    up: false,
                    controller: None,
                    addresses: vec![],
                    vfs: vec![],
                };
                if let Some(r) = restore {
                    l.mtu = r.mtu;
                    l.up = r.up;
                    l.addresses = r
                        .addresses
                        .iter()
                        .map(|c| AddressState {
                            cidr: *c,
                            dynamic: false,
                        })
                        .collect();
                    for rt in &r.routes {
                        s.routes.push(RouteState {
                            src: None,
                            dev: rt.dev.clone(),
                            dst: rt.dst,
                            via: rt.via,
                            metric: Some(rt.metric),
                            table: rt.table,
                            proto: RouteProto::Boot,
                        });
                    }
                }
                s.links.insert(name.clone(), l);
            }
            Op::DeleteLink { name, .. } => {
                // The plan must release members and delete stacked VLANs itself, or rollback could not
                // restore them.
                for l in s.links.values() {
                    assert_ne!(
                        l.controller.as_deref(),
                        Some(name.as_str()),
                        "{} still enslaved to {name}",
                        l.name
                    );
                    assert!(
                        !matches!(&l.kind, CurrentKind::Vlan { parent, .. } if parent == name),
                        "VLAN on {name}"
                    );
                }
                s.links.remove(name);
                s.routes.retain(|r| &r.dev != name);
            }
            Op::SetController {
                link, controller, ..
            } => s.links.get_mut(link).unwrap().controller = controller.clone(),
            Op::SetMtu { link, mtu, .. } => {
                if let CurrentKind::Vlan { parent, .. } = &s.links[link].kind {
                    assert!(
                        *mtu <= s.links[parent].mtu,
                        "kernel refuses VLAN {link} MTU {mtu} above its parent"
                    );
                }
                s.links.get_mut(link).unwrap().mtu = *mtu
            }
            Op::SetUp { link, up } => s.links.get_mut(link).unwrap().up = *up,
            Op::AddAddress { link, cidr } => {
                s.links.get_mut(link).unwrap().addresses.push(AddressState {
                    cidr: *cidr,
                    dynamic: false,
                })
            }
            Op::DelAddress { link, cidr, .. } => {
                let l = s.links.get_mut(link).unwrap();
                l.addresses.retain(|a| a.cidr != *cidr);
                // The kernel flushes a link's IPv4 routes with its last IPv4 address (its own prefix
                // routes are not modelled here).
                if cidr.is_ipv4() && !l.addresses.iter().any(|a| a.cidr.is_ipv4()) {
                    s.routes.retain(|r| {
                        !(&r.dev == link && r.dst.is_ipv4() && r.proto != RouteProto::Kernel)
                    });
                }
            }
            Op::AddRoute { route } => {
                // The kernel refuses a gateway it cannot reach: an IPv4 gateway needs an address of
                // the link whose prefix holds it.
                if let Some(std::net::IpAddr::V4(g)) = route.via {
                    let l = &s.links[&route.dev];
                    assert!(
                        l.addresses.iter().any(|a| {
                            a.cidr.is_ipv4()
                                && IpCidr {
                                    addr: std::net::IpAddr::V4(g),
                                    prefix: a.cidr.prefix,
                                }
                                .network()
                                    == a.cidr.network()
                        }),
                        "kernel refuses route {route}: gateway unreachable on {}",
                        route.dev
                    );
                }
                s.routes.push(RouteState {
                    src: None,
                    dev: route.dev.clone(),
                    dst: route.dst,
                    via: route.via,
                    metric: Some(route.metric),
                    table: route.table,
                    proto: route.proto,
                })
            }
            Op::DelRoute { route } => s.routes.retain(|r| {
                !(r.dev == route.dev
                    && r.dst == route.dst
                    && r.table == route.table
                    && r.metric.unwrap_or(default_metric(!r.dst.is_ipv4())) == route.metric)
            }),
            Op::SetVf { pf, vf, set, .. } => {
                let l = s.links.get_mut(pf).expect("the PF exists");
                let v = l
                    .vfs
                    .iter_mut()
                    .find(|v| v.id == *vf)
                    .expect("the VF exists");
                v.apply(set);
            }
        }
    }
    for l in s.links.values_mut() {
        l.addresses.sort_by_key(|a| a.cidr);
    }
    s.routes.sort();
    s
}

fn normalized(mut s: CurrentState) -> CurrentState {
    simulate(std::mem::take(&mut s), &[])
}

/// Plan, apply, plan again: nothing left. Roll back: the start state again.
fn converges_and_rolls_back(d: &NodeConfig, start: &CurrentState) -> Vec<Op> {
    let ops = plan(d, start).unwrap();
    let after = simulate(start.clone(), &ops);
    assert_eq!(
        plan(d, &after).unwrap(),
        vec![],
        "second plan is not empty:\n{:#?}",
        after
    );
    let back = simulate(after, &rollback(&ops));
    assert_eq!(
        back,
        normalized(start.clone()),
        "rollback did not restore the start"
    );
    recovers_from_a_crash_anywhere(&ops, start);
    ops
}

/// A crash after any number of `ops` (the journal): the recovery planned on what the crash left puts the
/// start back, and so does a second recovery after a crash part-way through the first. On the start
/// itself, the recovery is empty (which is how a recovery is verified).
fn recovers_from_a_crash_anywhere(ops: &[Op], start: &CurrentState) {
    let want = normalized(start.clone());
    assert_eq!(
        lines(&recovery(ops, &want)),
        Vec::<String>::new(),
        "a recovery on the untouched node does something"
    );
    for done in 0..=ops.len() {
        let crashed = simulate(start.clone(), &ops[..done]);
        let undo = recovery(ops, &crashed);
        let back = simulate(crashed.clone(), &undo);
        assert_eq!(
            back,
            want,
            "recovery after {done} of {} ops: {:#?}",
            ops.len(),
            lines(&undo)
        );
        assert_eq!(lines(&recovery(ops, &back)), Vec::<String>::new());
        for part in 0..undo.len() {
            let mid = simulate(crashed.clone(), &undo[..part]);
            let again = simulate(mid.clone(), &recovery(ops, &mid));
            assert_eq!(
                again, want,
                "recovery after {done} ops, interrupted after {part} of its ops"
            );
        }
    }
}

#[test]
fn seed_comprehensive_on_a_fresh_node() {
    let d = desired("  interfaceConfig:\n    - name: eno2\n      mtu: 9000\n      vlan:\n        - id: 1000\n        - id: 1001\n");
    let s = state(vec![dev("eno2", 1500, true, &[])], vec![]);
    let ops = converges_and_rolls_back(&d, &s);
    assert_eq!(
        lines(&ops),
        [
            "create eno2.1000: vlan 1000 on eno2",
            "create eno2.1001: vlan 1001 on eno2",
            "set mtu of eno2: 1500 -> 9000",
            // The VLANs get the parent's new MTU, as they would at boot.
            "set mtu of eno2.1000: 9000",
            "set mtu of eno2.1001: 9000",
            "set eno2.1000 up",
            "set eno2.1001 up",
        ]
    );
}

#[test]
fn mtu_goes_down_children_first_and_up_parents_first() {
    let d = desired("  interfaceConfig:\n    - name: eno2\n      mtu: 1400\n      vlan: [{id: 10}]\n    - name: eno2.10\n      mtu: 1300\n");
    let mut vlan = dev("eno2.10", 9000, true, &[]);
    vlan.kind = CurrentKind::Vlan {
        parent: "eno2".into(),
        id: 10,
    };
    let s = state(vec![dev("eno2", 9000, true, &[]), vlan], vec![]);
    let ops = converges_and_rolls_back(&d, &s);
    assert_eq!(
        lines(&ops),
        [
            "set mtu of eno2.10: 9000 -> 1300",
            "set mtu of eno2: 9000 -> 1400"
        ]
    );
    // The way back (rollback) raises the parent first; `simulate` would panic otherwise.
    assert_eq!(
        lines(&rollback(&ops)),
        [
            "set mtu of eno2: 1400 -> 9000",
            "set mtu of eno2.10: 1300 -> 9000"
        ]
    );
}

#[test]
fn addresses_are_desired_state_but_link_local_and_dhcp_leases_stay() {
    let d = desired("  interfaceConfig:\n    - name: eno1\n      ipv4:\n        address: [10.0.0.2/24]\n        dhcp: true\n      ipv6:\n        address: [fd00::2/64]\n");
    let mut l = dev(
        "eno1",
        1500,
        true,
        &["10.0.0.9/24", "fd00::2/64", "fe80::1/64", "fd00::9/64"],
    );
    l.addresses.push(AddressState {
        cidr: IpCidr::parse("192.168.1.50/24").unwrap(),
        dynamic: true,
    });
    l.addresses.push(AddressState {
        cidr: IpCidr::parse("2001:db8::50/64").unwrap(),
        dynamic: true,
    });
    let s = state(vec![l], vec![]);
    let ops = plan(&d, &s).unwrap();
    assert_eq!(
        lines(&ops),
        [
            "add address 10.0.0.2/24 to eno1",
            "remove address 10.0.0.9/24 from eno1",
            "remove address fd00::9/64 from eno1",
            // SLAAC address, but IPv6 is not on DHCP/RA for this link.
            "remove address 2001:db8::50/64 from eno1",
        ]
    );
}

#[test]
fn a_prefix_change_replaces_the_address() {
    let d = desired(
        "  interfaceConfig:\n    - name: eno1\n      ipv4:\n        address: [10.0.0.2/16]\n",
    );
    let s = state(vec![dev("eno1", 1500, true, &["10.0.0.2/24"])], vec![]);
    let ops = converges_and_rolls_back(&d, &s);
    assert_eq!(
        lines(&ops),
        [
            "add address 10.0.0.2/16 to eno1",
            "remove address 10.0.0.2/24 from eno1"
        ]
    );
}

#[test]
fn routes_unlisted_static_ones_go_kernel_ones_stay_metrics_default() {
    let d = desired("  interfaceConfig:\n    - name: eno1\n      ipv4:\n        address: [10.0.0.2/24]\n        routes:\n          - {to: default, via: 10.0.0.1}\n          - {to: 172.16.0.0/12, via: 10.0.0.254, metric: 50, table: 100}\n");
    let r = |dst: &str, via: Option<&str>, metric: Option<u32>, proto| RouteState {
        src: None,
        dev: "eno1".into(),
        dst: IpCidr::parse(dst).unwrap(),
        via: via.map(|v| v.parse().unwrap()),
        metric,
        table: 254,
        proto,
    };
    let s = state(
        vec![dev("eno1", 1500, true, &["10.0.0.2/24"])],
        vec![
            r("0.0.0.0/0", Some("10.0.0.1"), None, RouteProto::Static),
            r("10.0.0.0/24", None, None, RouteProto::Kernel),
            r(
                "192.168.0.0/16",
                Some("10.0.0.3"),
                Some(10),
                RouteProto::Boot,
            ),
            r("192.168.99.0/24", Some("10.0.0.4"), None, RouteProto::Dhcp),
        ],
    );
    let ops = converges_and_rolls_back(&d, &s);
    assert_eq!(
        lines(&ops),
        [
            "remove route 192.168.0.0/16 via 10.0.0.3 dev eno1 metric 10",
            "add route 172.16.0.0/12 via 10.0.0.254 dev eno1 metric 50 table 100"
        ]
    );
}

#[test]
fn bonds_are_created_and_members_enslaved() {
    let d = desired("  bondConfig:\n    - name: bond0\n      mode: 802.3ad\n      members: [eno1, eno2]\n  interfaceConfig:\n    - name: bond0\n      mtu: 9000\n");
    let s = state(
        vec![dev("eno1", 1500, true, &[]), dev("eno2", 1500, true, &[])],
        vec![],
    );
    let ops = converges_and_rolls_back(&d, &s);
    assert_eq!(
        lines(&ops),
        [
            "create bond0: bond mode 802.3ad",
            "enslave eno1 to bond0",
            "enslave eno2 to bond0",
            "set mtu of bond0: 9000",
            "set bond0 up",
        ]
    );
}

#[test]
fn a_bond_with_another_mode_is_recreated() {
    let d = desired(
        "  bondConfig:\n    - name: bond0\n      mode: active-backup\n      members: [eno1]\n",
    );
    let mut b = dev("bond0", 1500, true, &[]);
    b.kind = CurrentKind::Bond {
        mode: BondMode::Lacp,
    };
    let mut m = dev("eno1", 1500, true, &[]);
    m.controller = Some("bond0".into());
    let mut v = dev("bond0.7", 1500, true, &["10.7.0.1/24"]);
    v.kind = CurrentKind::Vlan {
        parent: "bond0".into(),
        id: 7,
    };
    let s = state(vec![b, m, v], vec![]);
    let ops = converges_and_rolls_back(&d, &s);
    assert_eq!(
        lines(&ops),
        [
            "delete bond0.7 (vlan 7 on bond0)",
            "release eno1 from bond0",
            "delete bond0 (bond mode 802.3ad)",
            "create bond0: bond mode active-backup",
            "enslave eno1 to bond0",
            "set bond0 up",
        ]
    );
}

#[test]
fn a_second_plan_on_a_matching_node_is_empty() {
    let d = desired("  interfaceConfig:\n    - name: eno1\n      mtu: 9000\n      ipv4:\n        address: [10.0.0.2/24]\n");
    let s = state(
        vec![dev("eno1", 9000, true, &["10.0.0.2/24", "fe80::1/64"])],
        vec![],
    );
    assert_eq!(plan(&d, &s).unwrap(), vec![]);
}

#[test]
fn missing_nics_and_foreign_links_are_errors() {
    let d = desired("  interfaceConfig:\n    - name: eno9\n      mtu: 9000\n");
    assert_eq!(
        plan(&d, &state(vec![], vec![])),
        Err(PlanError::MissingDevice("eno9".into()))
    );
    let d = desired("  interfaceConfig:\n    - name: eno1\n      vlan: [{id: 5}]\n");
    let mut veth = dev("eno1.5", 1500, true, &[]);
    veth.kind = CurrentKind::Other {
        kind: "veth".into(),
    };
    let e = plan(&d, &state(vec![dev("eno1", 1500, true, &[]), veth], vec![])).unwrap_err();
    assert_eq!(
        e,
        PlanError::WrongKind {
            name: "eno1.5".into(),
            kind: "veth".into()
        }
    );
}

#[test]
fn ops_serialize_for_the_dry_run_json() {
    let op = Op::SetMtu {
        link: "eno1".into(),
        mtu: 9000,
        previous: Some(1500),
    };
    assert_eq!(
        serde_json::to_string(&op).unwrap(),
        r#"{"op":"setMtu","link":"eno1","mtu":9000,"previous":1500}"#
    );
}

#[test]
fn rollback_puts_routes_back_after_the_addresses_their_gateways_need() {
    // Moving eno1 to another subnet removes the route through the old gateway; a failure after that
    // must re-add the old address before the route (the kernel refuses an unreachable gateway).
    let d = desired(
        "  interfaceConfig:\n    - name: eno1\n      ipv4:\n        address: [10.9.1.2/24]\n",
    );
    let s = state(
        vec![dev("eno1", 1500, true, &["10.9.0.2/24"])],
        vec![RouteState {
            src: None,
            dev: "eno1".into(),
            dst: IpCidr::parse("10.50.0.0/16").unwrap(),
            via: Some("10.9.0.1".parse().unwrap()),
            metric: None,
            table: 254,
            proto: RouteProto::Static,
        }],
    );
    let ops = plan(&d, &s).unwrap();
    assert_eq!(
        lines(&ops),
        [
            "add address 10.9.1.2/24 to eno1",
            "remove route 10.50.0.0/16 via 10.9.0.1 dev eno1 metric 0",
            "remove address 10.9.0.2/24 from eno1",
        ]
    );
    assert_eq!(
        lines(&rollback(&ops)),
        [
            "add address 10.9.0.2/24 to eno1",
            "remove address 10.9.1.2/24 from eno1",
            "add route 10.50.0.0/16 via 10.9.0.1 dev eno1 metric 0",
        ]
    );
}

#[test]
fn vf_settings_change_only_what_differs_and_roll_back() {
    use crate::node::state::VfState;
    let d = desired(
        "  sriovConfig:
    - pfName: eno1
      numVfs: 2
      vfs:
        - {id: 0, mac: '02:00:00:00:00:01', vlan: 100, trust: true}
        - {id: 1, spoofchk: false}
",
    );
    let mut pf = dev("eno1", 1500, true, &[]);
    pf.vfs = (0..2)
        .map(|id| VfState {
            id,
            spoofchk: Some(true),
            trust: Some(id == 0),
            ..Default::default()
        })
        .collect();
    let s = state(vec![pf], vec![]);
    let ops = converges_and_rolls_back(&d, &s);
    assert_eq!(
        lines(&ops),
        [
            "set vf 0 of eno1: mac 02:00:00:00:00:01 vlan 100 qos 0",
            "set vf 1 of eno1: spoofchk off",
        ]
    );
}

#[test]
fn a_port_of_an_ovs_kernel_datapath_keeps_its_controller() {
    // eno2.300 is an OVS port: the kernel shows ovs-system (kind openvswitch) as its controller.
    let d = desired(
        "  interfaceConfig:\n    - name: eno2\n      vlan:\n        - id: 300\n  ovsConfig:\n    - bridgeName: br-ex\n      nodeInterface: eno2.300\n",
    );
    let mut vlan = dev("eno2.300", 1500, true, &[]);
    vlan.kind = CurrentKind::Vlan {
        parent: "eno2".into(),
        id: 300,
    };
    vlan.controller = Some("ovs-system".into());
    let mut dp = dev("ovs-system", 1500, false, &[]);
    dp.kind = CurrentKind::Other {
        kind: "openvswitch".into(),
    };
    let s = state(vec![dev("eno2", 1500, true, &[]), vlan, dp], vec![]);
    assert_eq!(lines(&plan(&d, &s).unwrap()), Vec::<String>::new());
}

#[test]
fn a_new_vlan_without_an_mtu_gets_its_parents_new_one_as_at_boot() {
    let d = desired(
        "  interfaceConfig:\n    - name: eno2\n      mtu: 9000\n      vlan:\n        - id: 1000\n        - id: 1001\n    - name: eno2.1001\n      mtu: 1500\n",
    );
    let s = state(vec![dev("eno2", 1500, true, &[])], vec![]);
    let ops = converges_and_rolls_back(&d, &s);
    let mtus: Vec<String> = lines(&ops)
        .into_iter()
        .filter(|l| l.starts_with("set mtu"))
        .collect();
    assert_eq!(
        mtus,
        [
            "set mtu of eno2: 1500 -> 9000",
            "set mtu of eno2.1000: 9000",
            "set mtu of eno2.1001: 1500",
        ]
    );
}

/// A NIC carrying the node's address and default route, as an installer or DHCP leaves it.
fn uplink(proto: RouteProto) -> CurrentState {
    state(
        vec![dev("va", 1500, true, &["10.9.9.9/24"])],
        vec![RouteState {
            src: None,
            dev: "va".into(),
            dst: IpCidr::parse("0.0.0.0/0").unwrap(),
            via: Some("10.9.9.1".parse().unwrap()),
            metric: Some(0),
            table: 254,
            proto,
        }],
    )
}

#[test]
fn an_mtu_only_template_leaves_the_addresses_and_routes_alone() {
    let d = desired("  interfaceConfig:\n    - name: va\n      mtu: 9000\n");
    let ops = converges_and_rolls_back(&d, &uplink(RouteProto::Boot));
    assert_eq!(lines(&ops), ["set mtu of va: 1500 -> 9000"]);
    // IPv6 stated, IPv4 not: the IPv4 address and route stay.
    let d = desired("  interfaceConfig:\n    - name: va\n      ipv6: {address: [fd00::9/64]}\n");
    let ops = converges_and_rolls_back(&d, &uplink(RouteProto::Boot));
    assert_eq!(lines(&ops), ["add address fd00::9/64 to va"]);
}

#[test]
fn an_empty_address_list_removes_the_addresses_routes_first() {
    let d = desired("  interfaceConfig:\n    - name: va\n      ipv4: {address: []}\n");
    let ops = converges_and_rolls_back(&d, &uplink(RouteProto::Boot));
    assert_eq!(
        lines(&ops),
        [
            "remove route 0.0.0.0/0 via 10.9.9.1 dev va metric 0",
            "remove address 10.9.9.9/24 from va",
        ]
    );
}

#[test]
fn routes_the_kernel_drops_with_the_last_address_come_back_on_rollback() {
    // A DHCP default route is not plumber's to remove, but the kernel takes it with va's last IPv4
    // address: the removal says so, and rollback puts the route back (with its protocol) after it.
    let d = desired("  interfaceConfig:\n    - name: va\n      ipv4: {address: []}\n");
    let start = uplink(RouteProto::Dhcp);
    let ops = converges_and_rolls_back(&d, &start);
    assert_eq!(
        lines(&ops),
        ["remove address 10.9.9.9/24 from va (the kernel drops 1 route through va with it)"]
    );
    let back = rollback(&ops);
    assert_eq!(
        lines(&back),
        [
            "add address 10.9.9.9/24 to va",
            "add route 0.0.0.0/0 via 10.9.9.1 dev va metric 0",
        ]
    );
    // A replacement address arriving first keeps the route: nothing is flushed.
    let d = desired("  interfaceConfig:\n    - name: va\n      ipv4: {address: [10.9.9.8/24]}\n");
    let ops = converges_and_rolls_back(&d, &start);
    assert_eq!(
        lines(&ops),
        [
            "add address 10.9.9.8/24 to va",
            "remove address 10.9.9.9/24 from va",
        ]
    );
}

#[test]
fn membership_is_only_what_the_templates_state() {
    // eno1 is a port of the host's own bridge; a template naming it for its MTU leaves it there.
    let mut eno1 = dev("eno1", 1500, true, &[]);
    eno1.controller = Some("brhost".into());
    let mut brhost = dev("brhost", 1500, true, &["10.0.0.5/24"]);
    brhost.kind = CurrentKind::Bridge;
    let s = state(vec![eno1.clone(), brhost.clone()], vec![]);
    let d = desired("  interfaceConfig:\n    - name: eno1\n      mtu: 9000\n");
    let ops = converges_and_rolls_back(&d, &s);
    assert_eq!(lines(&ops), ["set mtu of eno1: 1500 -> 9000"]);
    // A bridge the templates define has exactly the members they list: eno1, named but no longer
    // listed, leaves it.
    eno1.controller = Some("br0".into());
    let mut br0 = dev("br0", 1500, true, &[]);
    br0.kind = CurrentKind::Bridge;
    let s = state(vec![eno1, br0, dev("eno2", 1500, true, &[])], vec![]);
    let d = desired(
        "  bridgeConfig:\n    - name: br0\n      members: [eno2]\n  interfaceConfig:\n    - name: eno1\n      mtu: 9000\n",
    );
    let ops = converges_and_rolls_back(&d, &s);
    assert!(
        lines(&ops).contains(&"release eno1 from br0".to_string()),
        "{:?}",
        lines(&ops)
    );
}

fn bridge(name: &str, up: bool, addrs: &[&str]) -> LinkState {
    LinkState {
        kind: CurrentKind::Bridge,
        ..dev(name, 1500, up, addrs)
    }
}

#[test]
fn recovery_undoes_only_what_the_crash_left_done() {
    // Five bridges planned; the crash hit after br0 and br1 were created and br0 set up. br2 was never
    // created; br3 is someone else's veth (the create never happened either: it would have failed).
    let d = desired(
        "  bridgeConfig:\n    - name: br0\n    - name: br1\n    - name: br2\n    - name: br3\n",
    );
    let ops = plan(&d, &state(vec![], vec![])).unwrap();
    let mut veth = dev("br3", 1500, true, &[]);
    veth.kind = CurrentKind::Other {
        kind: "veth".into(),
    };
    let crashed = state(
        vec![bridge("br0", true, &[]), bridge("br1", false, &[]), veth],
        vec![],
    );
    assert_eq!(
        lines(&recovery(&ops, &crashed)),
        [
            "set br0 down",
            "delete br1 (bridge stp off)",
            "delete br0 (bridge stp off)"
        ]
    );
    recovers_from_a_crash_anywhere(&ops, &state(vec![], vec![]));
}

#[test]
fn a_link_an_interrupted_recovery_re_created_is_completed_to_its_snapshot() {
    // Letting go of br-old (with its address and a route) was journaled; a first recovery re-created
    // the bridge and crashed before restoring the rest.
    let start = state(
        vec![bridge("br-old", true, &["10.7.0.1/24"])],
        vec![RouteState {
            src: None,
            dev: "br-old".into(),
            dst: IpCidr::parse("10.70.0.0/16").unwrap(),
            via: Some("10.7.0.254".parse().unwrap()),
            metric: Some(0),
            table: 254,
            proto: RouteProto::Boot,
        }],
    );
    let owned = Owned {
        links: [("br-old".to_string(), "bridge".to_string())].into(),
        addresses: [(
            "br-old".to_string(),
            vec![IpCidr::parse("10.7.0.1/24").unwrap()],
        )]
        .into(),
        ..Owned::default()
    };
    let ops = release(&owned, &desired("  bridgeConfig: []\n"), &start);
    assert!(
        lines(&ops).contains(&"delete br-old (bridge stp off)".to_string()),
        "{:?}",
        lines(&ops)
    );
    let half = state(vec![bridge("br-old", false, &[])], vec![]);
    assert_eq!(
        lines(&recovery(&ops, &half)),
        [
            "set br-old up",
            "add address 10.7.0.1/24 to br-old",
            "add route 10.70.0.0/16 via 10.7.0.254 dev br-old metric 0",
        ]
    );
    recovers_from_a_crash_anywhere(&ops, &start);
}

#[test]
fn a_journal_of_ops_round_trips() {
    let d = desired(
        "  bridgeConfig:\n    - name: br0\n      stp: true\n  interfaceConfig:\n    - name: br0\n      mtu: 9000\n      ipv4:\n        address: [10.9.0.2/24]\n        routes:\n          - {to: 10.50.0.0/16, via: 10.9.0.1}\n",
    );
    let mut ops = plan(&d, &uplink(RouteProto::Boot)).unwrap();
    ops.extend(rollback(&ops));
    let text = serde_json::to_string(&ops).unwrap();
    let back: Vec<Op> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, ops);
}
