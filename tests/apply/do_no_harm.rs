//! What a template does not state, `plumber apply` leaves alone (issue "do no harm"): a NIC carrying the
//! node's address and default route, as an installer or DHCP leaves it, named by a template only for its
//! MTU keeps both; the explicit `ipv4: {address: []}` removes them, routes before the address, and a
//! rollback puts back what the kernel dropped with it.

use std::process::Output;

use crate::common::*;
use crate::in_netns;
use crate::uplink::{Gateway, Node};

fn stdout(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn an_mtu_only_template_keeps_the_address_and_default_route() {
    in_netns!(
        "an_mtu_only_template_keeps_the_address_and_default_route",
        || {
            let _gw = Gateway::new("mtu-only");
            let node = Node::new();
            let t = node.template("  interfaceConfig:\n    - name: va\n      mtu: 9000\n");
            let dry = node.plumber(&t, &["--dry-run"]).0;
            assert_eq!(dry.status.code(), Some(0), "{}", stdout(&dry));
            let plan = stdout(&dry);
            assert!(plan.contains("set mtu of va: 1500 -> 9000"), "{plan}");
            assert!(!plan.contains("remove"), "{plan}");

            let out = node.plumber(&t, &[]).0;
            assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
            let s = discover();
            assert_eq!(s.links["va"].mtu, 9000);
            assert_eq!(cidrs(&s, "va"), ["10.9.9.9/24"]);
            assert!(
                routes(&s, "va")
                    .iter()
                    .any(|r| r.starts_with("0.0.0.0/0 via 10.9.9.1")),
                "{:?}",
                routes(&s, "va")
            );
            // The netplan file says nothing of va's addresses: the host's own file keeps them at boot.
            let netplan =
                std::fs::read_to_string(node.root().join("etc/netplan/60-plumber.yaml")).unwrap();
            assert!(netplan.contains("    va:\n      mtu: 9000\n"), "{netplan}");
            assert!(!netplan.contains("dhcp4"), "{netplan}");

            let again = node.plumber(&t, &[]).0;
            assert_eq!(stdout(&again), "plumber: nothing to do (templates: net)\n");
        }
    );
}

#[test]
fn an_empty_address_list_removes_the_address_routes_first() {
    in_netns!(
        "an_empty_address_list_removes_the_address_routes_first",
        || {
            let _gw = Gateway::new("no-address");
            let node = Node::new();
            let t =
                node.template("  interfaceConfig:\n    - name: va\n      ipv4: {address: []}\n");
            let before = yaml(&settled(&["va"]));
            // It cuts the default gateway off: refused before any change unless meant, and rolled
            // back by the guard when meant, since the gateway no longer answers.
            let refused = node.plumber(&t, &[]).0;
            assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
            assert!(
                stdout(&refused).contains("--allow-disconnect"),
                "{}",
                stdout(&refused)
            );
            assert_eq!(yaml(&settled(&["va"])), before);
            let lost = node
                .plumber(&t, &["--allow-disconnect", "--guard-timeout", "1"])
                .0;
            assert_eq!(lost.status.code(), Some(3), "{}", stdout(&lost));
            assert_eq!(yaml(&settled(&["va"])), before);
            // Without the guard it is carried out, routes first.
            let out = node
                .plumber(&t, &["--allow-disconnect", "--guard-timeout", "0"])
                .0;
            assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
            let done: Vec<String> = stdout(&out)
                .lines()
                .filter_map(|l| l.strip_prefix("done: ").map(str::to_string))
                .collect();
            assert_eq!(
                done,
                [
                    "remove route 0.0.0.0/0 via 10.9.9.1 dev va metric 0",
                    "remove address 10.9.9.9/24 from va",
                ],
                "{}",
                stdout(&out)
            );
            let s = discover();
            assert!(cidrs(&s, "va").is_empty());
            assert!(routes(&s, "va").iter().all(|r| !r.starts_with("0.0.0.0/0")));
        }
    );
}

#[test]
fn a_route_the_kernel_drops_with_the_last_address_is_restored_by_rollback() {
    in_netns!(
        "a_route_the_kernel_drops_with_the_last_address_is_restored_by_rollback",
        || {
            // A DHCP client's default route (proto dhcp) is not plumber's to remove, but the kernel
            // drops it with va's last address. The apply then fails (its last op, a route the kernel
            // refuses: see REFUSED_PREFIX) and rolls back: the address and the route come back, the
            // route with its protocol.
            let _gw = Gateway::new("flushed-route");
            hold_refused_prefix();
            sh("route replace default via 10.9.9.1 dev va proto dhcp");
            veth("x0", "x1");
            let before = yaml(&settled(&["va", "x0", "x1"]));
            let node = Node::new();
            let t = node.template(
                "  interfaceConfig:
    - name: va
      ipv4: {address: []}
    - name: x0
      ipv4:
        address: [10.7.7.1/24]
        routes:
          - {to: 10.60.0.0/16, via: 10.7.7.254}
",
            );
            let out = node.plumber(&t, &["--allow-disconnect"]).0;
            assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
            let record =
                std::fs::read_to_string(node.root().join("var/lib/plumber/last-apply.json"))
                    .unwrap();
            assert!(
                record.contains("remove address 10.9.9.9/24 from va (the kernel drops 1 route through va with it)"),
                "{record}"
            );
            assert_eq!(
                yaml(&settled(&["va", "x0", "x1"])),
                before,
                "{}",
                stdout(&out)
            );
        }
    );
}

/// The NIC carrying the node's address and default route named as a kernel OVS uplink: its address
/// would stop working inside OVS, and plumber does not move it, so the apply (and its dry run) is
/// refused before any change, naming the address and the fix; `--allow-disconnect` does not change
/// that. Once the host has taken the address off the NIC, the same template applies.
#[test]
fn a_nic_with_addresses_is_refused_as_a_new_ovs_uplink() {
    use crate::ovs::ovsdb_fixture::Ovsdb;
    in_netns!(
        "a_nic_with_addresses_is_refused_as_a_new_ovs_uplink",
        || {
            let _gw = Gateway::new("ovs-uplink");
            let db = Ovsdb::start();
            let sock = db.sock.display().to_string();
            let node = Node::new();
            let t =
                node.template("  ovsConfig:\n    - bridgeName: br-ex\n      nodeInterface: va\n");
            let before = yaml(&settled(&["va"]));
            let dump = db.dump();
            let files = node.files();
            let want = "ovs: va would become a port of OVS bridge br-ex and has addresses: 10.9.9.9/24. An OVS port's own addresses stop working";
            for extra in [&["--dry-run"][..], &[], &["--allow-disconnect"]] {
                let args = [extra, &["--ovsdb-socket", &sock]].concat();
                let out = node.plumber(&t, &args).0;
                assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stdout(&out));
                assert!(stdout(&out).contains(want), "{}", stdout(&out));
                assert!(
                stdout(&out).contains("configure the addresses (or DHCP) on the OVS bridge in the host's network configuration"),
                "{}",
                stdout(&out)
            );
                assert_eq!(yaml(&settled(&["va"])), before);
                assert_eq!(db.dump(), dump);
                assert_eq!(node.files(), files);
            }

            // The host's configuration no longer puts the address on va: va becomes the port.
            sh("addr flush dev va scope global");
            let out = node.plumber(&t, &["--ovsdb-socket", &sock]).0;
            assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
            assert_eq!(db.port_interfaces("va"), ["va"]);
        }
    );
}
