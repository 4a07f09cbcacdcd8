//! `plumber::node::netlink` against a real kernel: discover, plan, apply and roll back inside network
//! namespaces made for each test (root only). The machines this runs on have veth and bridges but no
//! 8021q, bonding or dummy modules, so the links are veth pairs and bridges; VLANs and bonds are left to
//! a VM harness, except for what creating one says where the kernel lacks the module (or, on a
//! kernel that has it, that it works).
//!
//! Each test re-executes this test binary, filtered to itself, under `ip netns exec` in a fresh
//! namespace (the whole child process, and so the netlink socket it opens, lives in the namespace); the
//! parent deletes the namespace when it is done, panicking or not.

use plumber::node::plan::{default_metric, plan, rollback, Op, RouteSpec, Snapshot};
use plumber::node::Error;
use plumber_render::model::IpCidr;
use plumber_render::node::LinkKind;

use crate::common::*;
use crate::in_netns;

#[test]
fn a_device_converges_and_a_second_plan_is_empty() {
    in_netns!("a_device_converges_and_a_second_plan_is_empty", || {
        veth("p0", "q0");
        // Already there: one desired address, plus an unlisted address of each family and an unlisted
        // route, all added by hand (proto boot), which plumber removes. The unlisted IPv4 address is
        // in a subnet of its own and not p0's only IPv4 address, on purpose. Kernel quirks: removing a
        // link's last IPv4 address flushes every IPv4 route of the link, in every table; removing a
        // primary address removes the secondary ones of its subnet (promote_secondaries is 0 by
        // default). `plan` removes addresses before adding the new ones and before the route ops, so
        // either would break the apply (a route removal finding nothing) or its convergence.
        sh("addr add 10.0.0.2/24 dev p0");
        sh("addr add 192.168.50.5/24 dev p0");
        sh("addr add fd00:99::5/64 dev p0");
        sh("route add 10.66.0.0/16 via 10.0.0.254 dev p0");
        let before = settled(&["p0", "q0"]);
        let link_local = before.links["p0"]
            .addresses
            .iter()
            .find(|a| a.is_link_local())
            .unwrap()
            .clone();

        let d = desired(
            "  interfaceConfig:
    - name: p0
      mtu: 9000
      ipv4:
        address: [10.0.0.2/24, 10.1.0.2/24]
        routes:
          - {to: default, via: 10.0.0.1}
          - {to: 172.16.0.0/12, via: 10.0.0.254, metric: 50, table: 100}
      ipv6:
        address: [fd00:1::2/64]
        routes:
          - {to: default, via: 'fd00:1::1'}
          - {to: 'fd00:2::/64', via: 'fd00:1::1', metric: 100, table: 100}
",
        );
        let ops = plan(&d, &before).unwrap();
        let lines: Vec<String> = ops.iter().map(|o| o.to_string()).collect();
        assert_eq!(
            lines,
            [
                "set mtu of p0: 1500 -> 9000",
                "add address 10.1.0.2/24 to p0",
                "add address fd00:1::2/64 to p0",
                // Unlisted routes go while their addresses are still there.
                "remove route 10.66.0.0/16 via 10.0.0.254 dev p0 metric 0",
                "remove address 192.168.50.5/24 from p0",
                "remove address fd00:99::5/64 from p0",
                "add route 0.0.0.0/0 via 10.0.0.1 dev p0 metric 0",
                "add route 172.16.0.0/12 via 10.0.0.254 dev p0 metric 50 table 100",
                "add route ::/0 via fd00:1::1 dev p0 metric 1024",
                "add route fd00:2::/64 via fd00:1::1 dev p0 metric 100 table 100",
            ]
        );
        let applied = apply(&ops).unwrap();
        // Each of these ops is one request.
        assert_eq!(applied.writes, ops.len());

        let after = discover();
        let p0 = &after.links["p0"];
        assert_eq!((p0.mtu, p0.up), (9000, true));
        assert_eq!(
            cidrs(&after, "p0"),
            ["10.0.0.2/24", "10.1.0.2/24", "fd00:1::2/64"]
        );
        assert!(p0.addresses.contains(&link_local), "{p0:#?}");
        let r = routes(&after, "p0");
        for want in [
            "0.0.0.0/0 via 10.0.0.1 table 254 Static",
            "172.16.0.0/12 via 10.0.0.254 metric 50 table 100 Static",
            "::/0 via fd00:1::1 metric 1024 table 254 Static",
            "fd00:2::/64 via fd00:1::1 metric 100 table 100 Static",
            "10.1.0.0/24 table 254 Kernel",
        ] {
            assert!(r.iter().any(|l| l == want), "no {want} in {r:#?}");
        }
        assert!(!r.iter().any(|l| l.starts_with("10.66.")), "{r:#?}");
        // The peer is not in the templates: untouched.
        assert_eq!(after.links["q0"], before.links["q0"]);

        let again = plan(&d, &after).unwrap();
        assert_eq!(again, vec![], "second plan: {again:#?}");
        assert_eq!(apply(&again).unwrap().writes, 0);
    });
}

#[test]
fn a_bridge_is_created_with_its_member() {
    in_netns!("a_bridge_is_created_with_its_member", || {
        veth("b0", "c0");
        let before = settled(&["b0", "c0"]);
        let d = desired(
            "  bridgeConfig:
    - name: br0
      members: [b0]
      stp: false
  interfaceConfig:
    - name: br0
      ipv4:
        address: [10.20.0.1/24]
        routes:
          - {to: 10.21.0.0/16, via: 10.20.0.254, metric: 7}
      ipv6:
        address: ['fd00:20::1/64']
",
        );
        let ops = plan(&d, &before).unwrap();
        apply(&ops).unwrap();
        let after = discover();
        let br = &after.links["br0"];
        assert_eq!(br.kind, plumber::node::state::CurrentKind::Bridge);
        assert!(br.up);
        assert_eq!(after.links["b0"].controller.as_deref(), Some("br0"));
        assert!(after.links["b0"].up);
        assert_eq!(cidrs(&after, "br0"), ["10.20.0.1/24", "fd00:20::1/64"]);
        assert!(
            routes(&after, "br0")
                .iter()
                .any(|l| l == "10.21.0.0/16 via 10.20.0.254 metric 7 table 254 Static"),
            "{after:#?}"
        );
        let again = plan(&d, &discover()).unwrap();
        assert_eq!(again, vec![], "second plan: {again:#?}");
        assert_eq!(apply(&again).unwrap().writes, 0);
    });
}

#[test]
fn a_failed_apply_rolls_the_namespace_back() {
    in_netns!("a_failed_apply_rolls_the_namespace_back", || {
        veth("r0", "s0");
        veth("r1", "s1");
        sh("addr add 10.2.0.2/24 dev r0");
        sh("addr add fd00:99::5/64 dev r0");
        // `proto static`, as plumber adds routes: rollback re-adds a removed route with plumber's
        // protocol, since an op does not carry the protocol of the route it removes. A `proto boot`
        // route (the `ip route` default) would come back as `static`.
        sh("route add 10.66.0.0/16 via 10.2.0.254 dev r0 proto static");
        sh("route add 10.67.0.0/16 via 10.2.0.254 dev r0 table 100 proto static");
        hold_refused_prefix();
        let before = settled(&["r0", "s0", "r1", "s1"]);

        // Everything applies until the route to REFUSED_PREFIX, which the kernel refuses (EEXIST: the
        // host's unreachable route). Routes are planned last, so everything else is rolled back:
        // a bridge created with a member, an MTU, addresses of both families added and removed, routes
        // added and removed.
        let d = desired(
            "  bridgeConfig:
    - name: br1
      members: [r1]
  interfaceConfig:
    - name: br1
      ipv4:
        address: [10.30.0.1/24]
    - name: r0
      mtu: 9000
      ipv4:
        address: [10.2.0.2/24, 10.3.0.2/24]
        routes:
          - {to: 10.10.0.0/16, via: 10.3.0.1}
          - {to: 10.60.0.0/16, via: 10.3.0.1}
          - {to: 10.99.0.0/16, via: 10.3.0.1}
      ipv6:
        address: ['fd00:3::2/64']
        routes:
          - {to: 'fd00:4::/64', via: 'fd00:3::1'}
",
        );
        let ops = plan(&d, &before).unwrap();
        let failing = ops
            .iter()
            .position(|o| o.to_string().contains(REFUSED_PREFIX))
            .unwrap();
        assert!(failing > 8, "{ops:#?}");
        let err = apply(&ops).unwrap_err();
        let Error::Apply(failed) = &err else {
            panic!("{err}")
        };
        let plumber::node::Failed {
            at: op,
            rolled_back,
            rollback_failed,
            ..
        } = &**failed;
        assert_eq!(op, &ops[failing].to_string());
        assert_eq!(rollback_failed, &Vec::<String>::new(), "{err}");
        // Everything but the refused route was carried out: the ops before it, and the two routes after
        // it, sent in the same pipelined window before its refusal came back (pipeline.rs). All of it
        // is rolled back, those two routes too.
        assert_eq!(ops.len() - failing, 3, "{ops:#?}");
        assert_eq!(rolled_back.len(), ops.len() - 1, "{err}");
        for after in ["10.99.0.0/16", "fd00:4::/64"] {
            assert!(
                rolled_back
                    .iter()
                    .any(|u| u.starts_with("remove route") && u.contains(after)),
                "{after} not rolled back: {err}"
            );
        }
        assert!(err.to_string().contains(REFUSED_PREFIX), "{err}");

        let after = discover();
        assert_eq!(yaml(&after), yaml(&before), "{err}");
    });
}

#[test]
fn a_plan_longer_than_the_pipeline_window_applies_in_order_or_rolls_back_whole() {
    in_netns!(
        "a_plan_longer_than_the_pipeline_window_applies_in_order_or_rolls_back_whole",
        || {
            veth("w0", "x0");
            sh("addr add 10.70.1.44/16 dev w0");
            let before = settled(&["w0", "x0"]);
            // 300 one-request ops: several windows of pipelined requests (64 in flight at most).
            let add = |i: usize| Op::AddAddress {
                link: "w0".into(),
                cidr: IpCidr::parse(&format!("10.70.{}.{}/16", i / 200, i % 200 + 1)).unwrap(),
            };
            let ops: Vec<Op> = (0..300).map(add).collect();
            // Op 243 adds 10.70.1.44, which the link already has: EEXIST, in the fourth window,
            // with requests after it already sent.
            let failing = 243;
            assert_eq!(ops[failing].to_string(), "add address 10.70.1.44/16 to w0");
            let err = apply(&ops).unwrap_err();
            let Error::Apply(failed) = &err else {
                panic!("{err}")
            };
            assert_eq!(
                failed.at,
                ops[failing].to_string(),
                "the first refusal in plan order"
            );
            assert!(err.to_string().contains("File exists"), "{err}");
            assert_eq!(failed.rolled_back.len(), 299, "{err}");
            assert_eq!(yaml(&discover()), yaml(&before), "{err}");

            // Without the refused op, all of it, in plan order: the first address added to the
            // subnet is the primary one, the others its secondaries, in the order they were sent.
            sh("addr del 10.70.1.44/16 dev w0");
            let ops: Vec<Op> = ops.into_iter().filter(|o| o != &add(failing)).collect();
            let applied = apply(&ops).unwrap();
            assert_eq!(applied.writes, 299);
            let shown = std::process::Command::new("ip")
                .args(["-4", "-o", "addr", "show", "dev", "w0"])
                .output()
                .unwrap();
            let shown = String::from_utf8(shown.stdout).unwrap();
            let order: Vec<String> = shown
                .lines()
                .map(|l| l.split_whitespace().nth(3).unwrap().to_string())
                .collect();
            let want: Vec<String> = ops
                .iter()
                .map(|o| match o {
                    Op::AddAddress { cidr, .. } => cidr.to_string(),
                    o => panic!("{o}"),
                })
                .collect();
            assert_eq!(order, want, "{shown}");
            assert!(
                !shown.lines().next().unwrap().contains("secondary"),
                "{shown}"
            );
            assert!(
                shown.lines().nth(1).unwrap().contains("secondary"),
                "{shown}"
            );
        },
    );
}

#[test]
fn an_op_on_a_link_deleted_behind_plumbers_back_fails_and_rolls_back() {
    in_netns!(
        "an_op_on_a_link_deleted_behind_plumbers_back_fails_and_rolls_back",
        || {
            veth("t0", "u0");
            veth("t1", "u1");
            let before = settled(&["t0", "u0", "t1", "u1"]);
            let d = desired(
                "  interfaceConfig:
    - name: t0
      mtu: 4000
      ipv4:
        address: [10.40.0.2/24]
    - name: t1
      ipv4:
        address: [10.41.0.2/24]
",
            );
            let mut ops = plan(&d, &before).unwrap();
            // t1 disappears between plan and apply: the op on it fails after t0 was changed.
            sh("link del t1");
            let gone = discover();
            ops.retain(|o| o.link() != "t1");
            ops.push(Op::AddAddress {
                link: "t1".into(),
                cidr: IpCidr::parse("10.41.0.2/24").unwrap(),
            });
            let err = apply(&ops).unwrap_err();
            assert!(err.to_string().contains("t1"), "{err}");
            assert_eq!(yaml(&discover()), yaml(&gone), "{err}");
        },
    );
}

#[test]
fn a_deleted_bridge_is_recreated_as_it_was() {
    in_netns!("a_deleted_bridge_is_recreated_as_it_was", || {
        veth("m0", "n0");
        sh("link add br2 type bridge");
        sh("link set br2 mtu 1400");
        sh("link set m0 master br2");
        sh("link set br2 up");
        sh("addr add 10.50.0.1/24 dev br2");
        sh("addr add fd00:50::1/64 dev br2");
        sh("route add 10.51.0.0/16 via 10.50.0.254 dev br2 metric 5 proto static");
        sh("route add fd00:51::/64 via fd00:50::254 dev br2 table 100 proto static");
        let before = settled(&["m0", "n0", "br2"]);

        // What `plan` does to a link it replaces: release its members, delete it with a snapshot.
        let br = &before.links["br2"];
        let snapshot = Snapshot {
            mtu: br.mtu,
            up: br.up,
            addresses: br
                .addresses
                .iter()
                .filter(|a| !a.is_link_local() && !a.dynamic)
                .map(|a| a.cidr)
                .collect(),
            routes: before
                .routes
                .iter()
                .filter(|r| r.dev == "br2" && r.removable())
                .map(|r| RouteSpec {
                    dev: r.dev.clone(),
                    dst: r.dst,
                    via: r.via,
                    metric: r.metric.unwrap_or(default_metric(!r.dst.is_ipv4())),
                    table: r.table,
                    proto: r.proto,
                })
                .collect(),
        };
        assert_eq!((snapshot.addresses.len(), snapshot.routes.len()), (2, 2));
        let ops = vec![
            Op::SetController {
                link: "m0".into(),
                controller: None,
                previous: Some("br2".into()),
            },
            Op::DeleteLink {
                name: "br2".into(),
                spec: LinkKind::Bridge {
                    stp: None,
                    forward_delay: None,
                },
                snapshot,
            },
        ];
        assert_eq!(apply(&ops).unwrap().writes, 2);
        let gone = discover();
        assert!(!gone.links.contains_key("br2"));
        assert!(!gone.routes.iter().any(|r| r.dev == "br2"));

        // Recreated with its MTU, up, addresses and routes, then its member enslaved again.
        let undo = rollback(&ops);
        // create + mtu + up + 2 addresses + 2 routes, enslave.
        assert_eq!(apply(&undo).unwrap().writes, 8);
        let mut after = settled(&["m0", "n0", "br2"]);
        // Kernel quirk: the kernel derives a link's IPv6 link-local address from its MAC address when
        // the link goes up. A new bridge has a random MAC address and takes its first member's once
        // one joins; `ip` above enslaved m0 before bringing br2 up, the restore brings br2 up before
        // m0 is enslaved again (a later op), so the link-local address differs (and is kept: the kernel
        // does not regenerate it when the MAC address changes). Everything plumber manages is the same.
        let mut before = before.clone();
        for s in [&mut before, &mut after] {
            let br = s.links.get_mut("br2").unwrap();
            assert_eq!(br.addresses.iter().filter(|a| a.is_link_local()).count(), 1);
            br.addresses.retain(|a| !a.is_link_local());
        }
        assert_eq!(yaml(&after), yaml(&before));
    });
}

/// `plumber apply --dry-run` prints the files and link changes an apply would make, and changes nothing:
/// neither the namespace nor the root.
#[test]
fn apply_dry_run_prints_the_plan_and_changes_nothing() {
    in_netns!("apply_dry_run_prints_the_plan_and_changes_nothing", || {
        veth("d0", "d1");
        let before = settled(&["d0", "d1"]);
        let dir = tempfile::tempdir().unwrap();
        let root = host_root(dir.path(), "ID=ubuntu\nVERSION_ID=\"24.04\"\n");
        let sysfs = dir.path().join("sys");
        std::fs::create_dir_all(sysfs.join("class/net")).unwrap();
        let t = dir.path().join("t.yaml");
        std::fs::write(
            &t,
            "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {name: d0-net}\nspec:\n  interfaceConfig:\n    - name: d0\n      mtu: 9000\n      ipv4:\n        address: [10.9.0.2/24]\n",
        )
        .unwrap();
        let run = |extra: &[&str]| {
            assert_cmd::Command::cargo_bin("plumber")
                .unwrap()
                .arg("apply")
                .arg("-f")
                .arg(&t)
                .arg("--root")
                .arg(&root)
                .arg("--sysfs")
                .arg(&sysfs)
                .args(extra)
                .output()
                .unwrap()
        };
        let out = run(&["--dry-run"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            text,
            "# distro ubuntu, templates: d0-net\n\
             file: create /etc/netplan/60-plumber.yaml (mode 0600)\n\
             link: set mtu of d0: 1500 -> 9000\n\
             link: add address 10.9.0.2/24 to d0\n"
        );
        assert_eq!(
            yaml(&discover()),
            yaml(&before),
            "the dry run changed the namespace"
        );
        assert!(
            !root.join("etc/netplan").exists(),
            "the dry run wrote files"
        );
    });
}

/// Creating a link of a kind whose module this kernel lacks fails naming the module and how to load
/// it (not a bare "Operation not supported"); on a kernel with the module (the VM harness's) it is
/// created. Which of the two is the kernel's answer alone: the test never looks for the module first.
fn created_or_module_named(spec: &str, link: &str, module: &str, what: &str) {
    veth("m0", "n0");
    veth("m1", "n1");
    let before = settled(&["m0", "n0", "m1", "n1"]);
    let ops = plan(&desired(spec), &before).unwrap();
    match apply(&ops) {
        Ok(_) => {
            assert!(discover().links.contains_key(link), "{link} was created");
        }
        Err(err) => {
            let Error::Apply(failed) = &err else {
                panic!("{err}")
            };
            assert!(failed.at.starts_with(&format!("create {link}: ")), "{err}");
            assert_eq!(
                failed.error,
                format!(
                    "the kernel has no {module} support for a {what} (Operation not supported \
                     (os error 95)): load it with `modprobe {module}` (and list it in \
                     /etc/modules-load.d/ to load it at boot)"
                ),
                "{err}"
            );
            assert_eq!(yaml(&discover()), yaml(&before), "{err}");
        }
    }
}

#[test]
fn a_vlan_is_created_or_8021q_is_named() {
    in_netns!("a_vlan_is_created_or_8021q_is_named", || {
        created_or_module_named(
            "  interfaceConfig:
    - name: m0
      vlan:
        - id: 100
",
            "m0.100",
            "8021q",
            "VLAN",
        );
    });
}

#[test]
fn a_bond_is_created_or_bonding_is_named() {
    in_netns!("a_bond_is_created_or_bonding_is_named", || {
        created_or_module_named(
            "  bondConfig:
    - name: bond7
      mode: active-backup
      members: [m0, m1]
",
            "bond7",
            "bonding",
            "bond",
        );
    });
}
