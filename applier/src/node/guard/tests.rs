//! The guard's pure part: which probes a discovered node gives, their paths, and which plans cut
//! them.

use super::*;
use crate::node::ovs::{IfaceState, PortState};
use plumber_render::node::LinkKind;

fn cidr(s: &str) -> IpCidr {
    IpCidr::parse(s).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn link(name: &str, addresses: &[&str]) -> LinkState {
    LinkState {
        name: name.into(),
        kind: CurrentKind::Device,
        mtu: 1500,
        up: true,
        controller: None,
        addresses: addresses
            .iter()
            .map(|a| AddressState {
                cidr: cidr(a),
                dynamic: false,
            })
            .collect(),
        vfs: Vec::new(),
    }
}

fn route(dev: &str, dst: &str, via: Option<&str>, metric: Option<u32>) -> RouteState {
    RouteState {
        dev: dev.into(),
        dst: cidr(dst),
        via: via.map(ip),
        metric,
        table: MAIN,
        src: None,
        proto: RouteProto::Boot,
    }
}

/// The kernel's prefix route of an address, as discovery finds it.
fn prefix_route(dev: &str, address: &str) -> RouteState {
    let c = cidr(address);
    RouteState {
        dev: dev.into(),
        dst: subnet(&c),
        via: None,
        metric: (!c.is_ipv4()).then_some(256),
        table: MAIN,
        src: c.is_ipv4().then_some(c.addr),
        proto: RouteProto::Kernel,
    }
}

/// A node with `eth0` 10.0.0.2/24 and fd00::2/64, default routes via 10.0.0.1 and fe80::1, and `eth1`
/// 192.168.1.2/24 with a static route to 10.20.0.0/16 via 192.168.1.1.
fn node() -> CurrentState {
    let mut s = CurrentState::default();
    for l in [
        link("eth0", &["10.0.0.2/24", "fd00::2/64", "fe80::2/64"]),
        link("eth1", &["192.168.1.2/24"]),
    ] {
        s.links.insert(l.name.clone(), l);
    }
    s.routes = vec![
        prefix_route("eth0", "10.0.0.2/24"),
        prefix_route("eth0", "fd00::2/64"),
        prefix_route("eth1", "192.168.1.2/24"),
        route("eth0", "0.0.0.0/0", Some("10.0.0.1"), None),
        route("eth0", "::/0", Some("fe80::1"), Some(1024)),
        route("eth1", "10.20.0.0/16", Some("192.168.1.1"), Some(100)),
    ];
    s
}

fn gateway(g: &str, dev: &str) -> Probe {
    Probe::Gateway {
        gateway: ip(g),
        dev: dev.into(),
    }
}

fn endpoint(s: &str) -> Endpoint {
    Endpoint {
        name: s.into(),
        addr: s.parse().unwrap(),
    }
}

fn add_address(link: &str, c: &str) -> Op {
    Op::AddAddress {
        link: link.into(),
        cidr: cidr(c),
    }
}

fn del_address(link: &str, c: &str) -> Op {
    Op::DelAddress {
        link: link.into(),
        cidr: cidr(c),
        flushed: vec![],
    }
}

fn spec(dev: &str, dst: &str, via: Option<&str>, metric: u32) -> RouteSpec {
    RouteSpec {
        dev: dev.into(),
        dst: cidr(dst),
        via: via.map(ip),
        metric,
        table: MAIN,
        proto: RouteProto::Static,
    }
}

fn cut_lines(s: &CurrentState, probes: &[Probe], ops: &[Op]) -> Vec<String> {
    cuts(s, probes, ops, &[])
        .iter()
        .map(|c| c.to_string())
        .collect()
}

#[test]
fn probes_are_the_main_tables_default_gateways_then_the_endpoints() {
    let mut s = node();
    // Another table's default route and a second default route via the same gateway are not probes
    // of their own.
    s.routes.push(RouteState {
        table: 100,
        ..route("eth1", "0.0.0.0/0", Some("192.168.1.1"), None)
    });
    s.routes
        .push(route("eth0", "0.0.0.0/0", Some("10.0.0.1"), Some(200)));
    let got = probes(&s, &[endpoint("10.96.0.1:443")]);
    assert_eq!(
        got,
        [
            gateway("10.0.0.1", "eth0"),
            gateway("fe80::1", "eth0"),
            Probe::Endpoint {
                endpoint: "10.96.0.1:443".into(),
                addr: "10.96.0.1:443".parse().unwrap()
            }
        ]
    );
    let shown: Vec<String> = got.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        shown,
        [
            "default gateway 10.0.0.1 via eth0",
            "default gateway fe80::1 via eth0",
            "endpoint 10.96.0.1:443"
        ]
    );
    let named = Endpoint {
        name: "api.example:6443".into(),
        addr: "10.1.2.3:6443".parse().unwrap(),
    };
    assert_eq!(
        Probe::endpoint(&named).to_string(),
        "endpoint api.example:6443 (10.1.2.3:6443)"
    );
}

#[test]
fn paths_follow_the_longest_prefix_then_the_metric_among_usable_routes() {
    let mut s = node();
    let to = |s: &CurrentState, a: &str| route_to(s, ip(a)).map(|p| p.to_string());
    assert_eq!(
        to(&s, "10.20.3.4").as_deref(),
        Some("route 10.20.0.0/16 via 192.168.1.1 dev eth1")
    );
    assert_eq!(
        to(&s, "8.8.8.8").as_deref(),
        Some("route 0.0.0.0/0 via 10.0.0.1 dev eth0")
    );
    assert_eq!(
        to(&s, "10.0.0.77").as_deref(),
        Some("route 10.0.0.0/24 dev eth0")
    );
    assert_eq!(
        route_to(&s, ip("10.0.0.77")).unwrap().next_hop,
        ip("10.0.0.77")
    );
    assert_eq!(
        to(&s, "192.168.1.2").as_deref(),
        Some("a local address on eth1")
    );
    // A lower metric wins among equal prefixes.
    s.routes
        .push(route("eth0", "10.20.0.0/16", Some("10.0.0.254"), Some(50)));
    assert_eq!(
        to(&s, "10.20.3.4").as_deref(),
        Some("route 10.20.0.0/16 via 10.0.0.254 dev eth0")
    );
    // A link that is down, or enslaved, carries nothing: the next best route is taken.
    s.links.get_mut("eth0").unwrap().up = false;
    assert_eq!(
        to(&s, "10.20.3.4").as_deref(),
        Some("route 10.20.0.0/16 via 192.168.1.1 dev eth1")
    );
    assert_eq!(to(&s, "8.8.8.8"), None);
    s.links.get_mut("eth0").unwrap().up = true;
    s.links.get_mut("eth1").unwrap().controller = Some("br0".into());
    assert_eq!(
        to(&s, "10.20.3.4").as_deref(),
        Some("route 10.20.0.0/16 via 10.0.0.254 dev eth0")
    );
    // A gateway no address or route puts on-link is not used.
    let mut s = node();
    s.routes
        .push(route("eth0", "10.30.0.0/16", Some("172.16.0.1"), None));
    assert_eq!(
        to(&s, "10.30.0.1").as_deref(),
        Some("route 0.0.0.0/0 via 10.0.0.1 dev eth0")
    );
}

#[test]
fn a_gateway_is_reached_through_its_own_default_route_or_the_one_in_force() {
    let mut s = node();
    let g = gateway("10.0.0.1", "eth0");
    assert_eq!(
        path(&s, &g).unwrap().to_string(),
        "route 0.0.0.0/0 via 10.0.0.1 dev eth0"
    );
    // The template moved the default route to another gateway: that one is the path.
    s.routes.retain(|r| r.dst.prefix != 0 || !r.dst.is_ipv4());
    s.routes
        .push(route("eth1", "0.0.0.0/0", Some("192.168.1.1"), Some(10)));
    let p = path(&s, &g).unwrap();
    assert_eq!((p.dev.as_str(), p.next_hop), ("eth1", ip("192.168.1.1")));
    // An IPv6 link-local gateway is on-link on its link whatever its addresses.
    let g6 = gateway("fe80::1", "eth0");
    s.links.get_mut("eth0").unwrap().addresses.clear();
    assert_eq!(path(&s, &g6).unwrap().dev, "eth0");
}

#[test]
fn moving_the_only_address_off_the_gateways_subnet_cuts_it_and_says_by_what() {
    let s = node();
    let probes = probes(&s, &[]);
    // What plumber plans for `interfaceConfig: [{name: eth0, ipv4: {address: [10.8.8.8/24]}}]`: the new
    // address, the old one removed, the unlisted (proto boot) default route removed.
    let ops = [
        add_address("eth0", "10.8.8.8/24"),
        del_address("eth0", "10.0.0.2/24"),
        Op::DelRoute {
            route: spec("eth0", "0.0.0.0/0", Some("10.0.0.1"), 0),
        },
    ];
    assert_eq!(
        cut_lines(&s, &probes, &ops),
        ["default gateway 10.0.0.1 via eth0 (reached by route 0.0.0.0/0 via 10.0.0.1 dev eth0): \
          remove address 10.0.0.2/24 from eth0; remove route 0.0.0.0/0 via 10.0.0.1 dev eth0 metric 0"]
    );
    // The address alone: the route stays but its gateway is no longer on-link.
    assert_eq!(
        cuts(&s, &probes, &ops[..2], &[])[0].by,
        ["remove address 10.0.0.2/24 from eth0"]
    );
    // Another address in the gateway's subnet keeps it.
    let renumbered = [
        add_address("eth0", "10.0.0.3/24"),
        del_address("eth0", "10.0.0.2/24"),
    ];
    assert_eq!(cut_lines(&s, &probes, &renumbered), Vec::<String>::new());
    // IPv6 addresses do not matter to a link-local gateway.
    assert_eq!(
        cut_lines(&s, &probes, &[del_address("eth0", "fd00::2/64")]),
        Vec::<String>::new()
    );
}

#[test]
fn a_default_route_replaced_or_moved_to_another_reachable_gateway_is_no_cut() {
    let s = node();
    let probes = probes(&s, &[]);
    let old = spec("eth0", "0.0.0.0/0", Some("10.0.0.1"), 0);
    let metric = [
        Op::DelRoute { route: old.clone() },
        Op::AddRoute {
            route: spec("eth0", "0.0.0.0/0", Some("10.0.0.1"), 100),
        },
    ];
    assert_eq!(cut_lines(&s, &probes, &metric), Vec::<String>::new());
    let moved = [
        Op::AddRoute {
            route: spec("eth1", "0.0.0.0/0", Some("192.168.1.1"), 0),
        },
        Op::DelRoute { route: old.clone() },
    ];
    assert_eq!(cut_lines(&s, &probes, &moved), Vec::<String>::new());
    // Removed with nothing in its place: cut.
    assert_eq!(
        cut_lines(&s, &probes, &[Op::DelRoute { route: old }]),
        ["default gateway 10.0.0.1 via eth0 (reached by route 0.0.0.0/0 via 10.0.0.1 dev eth0): \
          remove route 0.0.0.0/0 via 10.0.0.1 dev eth0 metric 0"]
    );
}

#[test]
fn enslaving_the_uplink_cuts_unless_its_addresses_and_routes_move_to_the_bridge() {
    let s = node();
    let probes = probes(&s, &[]);
    let bridge = Op::CreateLink {
        name: "br0".into(),
        spec: LinkKind::Bridge {
            stp: None,
            forward_delay: None,
        },
        restore: None,
    };
    let enslave = Op::SetController {
        link: "eth0".into(),
        controller: Some("br0".into()),
        previous: None,
    };
    let up = Op::SetUp {
        link: "br0".into(),
        up: true,
    };
    let cut = cuts(
        &s,
        &probes,
        &[bridge.clone(), enslave.clone(), up.clone()],
        &[],
    );
    assert_eq!(
        cut.iter().map(|c| c.probe.clone()).collect::<Vec<_>>(),
        [gateway("10.0.0.1", "eth0"), gateway("fe80::1", "eth0")]
    );
    assert_eq!(cut[0].by, ["enslave eth0 to br0"]);
    // The addresses and the default routes move to the bridge: nothing is cut.
    let moved = [
        bridge,
        enslave,
        up,
        add_address("br0", "10.0.0.2/24"),
        Op::AddRoute {
            route: spec("br0", "0.0.0.0/0", Some("10.0.0.1"), 0),
        },
        Op::AddRoute {
            route: spec("br0", "::/0", Some("fe80::1"), 1024),
        },
    ];
    assert_eq!(cut_lines(&s, &probes, &moved), Vec::<String>::new());
}

#[test]
fn deleting_setting_down_or_giving_the_uplink_to_ovs_cuts() {
    let s = node();
    let probes = [gateway("10.0.0.1", "eth0")];
    let delete = Op::DeleteLink {
        name: "eth0".into(),
        spec: LinkKind::Device,
        snapshot: Default::default(),
    };
    assert_eq!(
        cuts(&s, &probes, &[delete], &[])[0].by,
        ["delete eth0 (device)"]
    );
    let down = Op::SetUp {
        link: "eth0".into(),
        up: false,
    };
    assert_eq!(cuts(&s, &probes, &[down], &[])[0].by, ["set eth0 down"]);
    let port = OvsOp::AddPort {
        bridge: "br-ex".into(),
        port: PortState {
            name: "eth0".into(),
            interfaces: vec![IfaceState {
                name: "eth0".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    };
    let cut = cuts(&s, &probes, &[], std::slice::from_ref(&port));
    assert_eq!(cut[0].by, [port.to_string()]);
    // An MTU change or a VLAN on top is no cut.
    let harmless = [
        Op::SetMtu {
            link: "eth0".into(),
            mtu: 9000,
            previous: Some(1500),
        },
        Op::CreateLink {
            name: "eth0.7".into(),
            spec: LinkKind::Vlan {
                parent: "eth0".into(),
                id: 7,
            },
            restore: None,
        },
    ];
    assert!(cuts(&s, &probes, &harmless, &[]).is_empty());
}

#[test]
fn an_endpoint_is_cut_when_its_route_goes_and_nothing_else_reaches_it() {
    let mut s = node();
    let api = [Probe::endpoint(&endpoint("10.20.0.5:6443"))];
    let del = [Op::DelRoute {
        route: spec("eth1", "10.20.0.0/16", Some("192.168.1.1"), 100),
    }];
    // The default route still reaches it.
    assert!(cuts(&s, &api, &del, &[]).is_empty());
    s.routes.retain(|r| r.dst.prefix != 0);
    assert_eq!(
        cut_lines(&s, &api, &del),
        [
            "endpoint 10.20.0.5:6443 (reached by route 10.20.0.0/16 via 192.168.1.1 dev eth1): \
          remove route 10.20.0.0/16 via 192.168.1.1 dev eth1 metric 100"
        ]
    );
    // An endpoint on the node itself is cut when its address goes.
    let local = [Probe::endpoint(&endpoint("192.168.1.2:6443"))];
    assert_eq!(
        cut_lines(&s, &local, &[del_address("eth1", "192.168.1.2/24")]),
        [
            "endpoint 192.168.1.2:6443 (reached by a local address on eth1): \
          remove address 192.168.1.2/24 from eth1"
        ]
    );
    // An endpoint the main table does not reach is not judged.
    let unrouted = [Probe::endpoint(&endpoint("172.31.0.1:443"))];
    assert!(cuts(&s, &unrouted, &del, &[]).is_empty());
}

#[test]
fn removing_a_links_last_ipv4_address_takes_its_ipv4_routes_with_it() {
    let s = node();
    let after = simulate(&s, &[del_address("eth1", "192.168.1.2/24")], &[]);
    assert!(
        !after.routes.iter().any(|r| r.dev == "eth1"),
        "{:#?}",
        after.routes
    );
    // Not the IPv6 ones, nor other links'.
    let after = simulate(&s, &[del_address("eth0", "10.0.0.2/24")], &[]);
    assert!(after
        .routes
        .iter()
        .all(|r| r.dev != "eth0" || !r.dst.is_ipv4()));
    assert!(after.routes.iter().any(|r| r.dev == "eth1"));
    // An address added brings its prefix route.
    let after = simulate(&s, &[add_address("eth1", "172.16.5.1/20")], &[]);
    assert!(after
        .routes
        .contains(&prefix_route("eth1", "172.16.5.1/20")));
}

#[test]
fn a_cut_is_refused_naming_the_opt_in_unless_it_is_meant() {
    let s = node();
    let ops = [del_address("eth0", "10.0.0.2/24")];
    let cli = Guard::default();
    let err = plan(&cli, false, &s, &ops, &[], true).unwrap_err();
    assert_eq!(
        err,
        "the plan cuts the node off from default gateway 10.0.0.1 via eth0 (reached by route \
         0.0.0.0/0 via 10.0.0.1 dev eth0): remove address 10.0.0.2/24 from eth0; nothing was changed. \
         If this is meant, pass --allow-disconnect"
    );
    let agent = Guard::agent(DEFAULT_TIMEOUT, vec![]);
    let err = plan(&agent, false, &s, &ops, &[], true).unwrap_err();
    assert!(
        err.ends_with("annotate the template with plumber.k8s.pf9.io/allow-disconnect: \"true\""),
        "{err}"
    );
    // Meant: by the flag, or by a template's annotation. The probes are still taken.
    let allowed = Guard {
        allow_disconnect: true,
        ..Guard::default()
    };
    assert_eq!(plan(&allowed, false, &s, &ops, &[], true).unwrap().len(), 2);
    assert_eq!(plan(&agent, true, &s, &ops, &[], true).unwrap().len(), 2);
    // Nothing to probe when the guard is off or the running node does not change.
    let off = Guard {
        timeout: Duration::ZERO,
        ..Guard::default()
    };
    assert_eq!(plan(&off, false, &s, &ops, &[], true), Ok(vec![]));
    assert_eq!(plan(&cli, false, &s, &[], &[], false), Ok(vec![]));
}

#[test]
fn only_a_selected_template_annotated_true_allows_a_cut() {
    let load = |name: &str, value: Option<&str>| {
        let mut t = plumber_render::parse::parse_templates(
            &format!(
                "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: {name}}}\nspec: {{}}\n"
            ),
            "t.yaml",
        )
        .unwrap()
        .remove(0);
        if let Some(v) = value {
            t.template
                .metadata
                .annotations
                .insert(ALLOW_DISCONNECT.into(), v.into());
        }
        t
    };
    let selected = |names: &[&str]| -> Vec<TemplateRef> {
        names
            .iter()
            .map(|n| TemplateRef {
                name: n.to_string(),
                priority: 0,
                generation: None,
            })
            .collect()
    };
    let ts = [
        load("a", Some("true")),
        load("b", Some("false")),
        load("c", None),
    ];
    assert!(annotated(&ts, &selected(&["a", "c"])));
    assert!(!annotated(&ts, &selected(&["b", "c"])));
    assert!(!annotated(&ts[1..], &selected(&["a"])), "a is not given");
}
