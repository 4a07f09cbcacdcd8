//! Case 1: `plumber apply` on a real kernel: VLANs (a VLAN's MTU under its parent's), 802.3ad and
//! active-backup bonds with addresses and routes, SR-IOV on netdevsim (0 -> 4, 4 -> 2 through 0, per-VF
//! MAC/VLAN/QoS/trust/spoofchk/rate, `sriovConfig.mtu` on the PF); a second apply finds nothing to do; a failure injected part-way
//! (a route the kernel refuses) rolls back to exactly the prior state; OVS bridges on the kernel
//! datapath, one an OVS bond.

use serde_json::Value;

use crate::harness::*;

fn v4(show: &Value, name: &str) -> Vec<String> {
    addrs(&show_link(show, name)["ipv4"])
}

fn addrs(v: &Value) -> Vec<String> {
    v["address"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn sriov(show: &Value, pf: &str) -> Value {
    show["status"]["interfaceStatus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["pfName"] == pf)
        .unwrap_or_else(|| panic!("plumber show has no PF {pf}"))["sriovStatus"]
        .clone()
}

fn has_route(show: &Value, want: &[(&str, Value)]) -> bool {
    show["status"]["routes"]["ipv4"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| want.iter().all(|(k, v)| &r[*k] == v))
}

#[test]
fn case1_applier_on_a_real_kernel() {
    let p = Payload::new("case1");
    p.copy_tree(&top().join("tests/vm/case1"), "case1");
    std::fs::copy(top().join("tests/vm/case1/case.sh"), p.dir.join("case.sh")).unwrap();
    let o = p.run(300);
    eprintln!("case1: VM {:.1} s", o.elapsed.as_secs_f64());
    assert_eq!(o.rc, 0, "the guest script failed; see {}", o.dir.display());
    assert_eq!(o.get("done"), "1", "the guest script did not finish");
    assert_eq!(o.get("totalvfs"), "4", "netdevsim's sriov_totalvfs");
    for step in [
        "show0", "dry1", "apply1", "show1", "apply2", "show2", "apply3", "show3",
    ] {
        o.assert_rc(step, 0);
    }

    // After a: links, MTUs, membership, addresses, routes.
    let s1 = o.json("show1.json");
    let l = |n: &str| show_link(&s1, n).clone();
    assert_eq!(l("bond0")["kind"], "bond");
    assert_eq!(l("bond0")["mtu"], 9000);
    assert_eq!(l("bond1")["kind"], "bond");
    for (m, b) in [
        ("eth1", "bond0"),
        ("eth2", "bond0"),
        ("eth3", "bond1"),
        ("eth4", "bond1"),
    ] {
        assert_eq!(l(m)["controller"], b, "{m} in {b}");
    }
    assert_eq!(l("bond0.100")["kind"], "vlan");
    assert_eq!(l("bond0.100")["parent"], "bond0");
    assert_eq!(l("bond0.100")["vlanId"], 100);
    assert_eq!(l("bond0.100")["mtu"], 8000);
    assert_eq!(l("storage")["parent"], "bond0");
    assert_eq!(l("storage")["vlanId"], 200);
    assert_eq!(l("eth5.300")["parent"], "eth5");
    assert_eq!(l("eth5")["mtu"], 4000);
    for n in ["bond0", "bond1", "bond0.100", "storage", "eth5.300"] {
        assert_eq!(l(n)["up"], true, "{n} up");
    }
    assert_eq!(v4(&s1, "bond0"), ["10.0.0.5/24"]);
    assert!(addrs(&l("bond0")["ipv6"]).contains(&"fd00::5/64".to_string()));
    assert_eq!(v4(&s1, "bond0.100"), ["10.1.0.5/24"]);
    assert_eq!(v4(&s1, "storage"), ["10.2.0.5/24"]);
    assert_eq!(v4(&s1, "bond1"), ["192.168.7.5/24"]);
    assert!(has_route(
        &s1,
        &[("dev", "bond0".into()), ("gw", "10.0.0.1".into())]
    ));
    assert!(has_route(
        &s1,
        &[
            ("dst", "172.16.0.0/12".into()),
            ("gw", "10.0.0.254".into()),
            ("metric", 100.into()),
            ("table", 100.into())
        ]
    ));
    assert!(has_route(
        &s1,
        &[
            ("dst", "10.200.0.0/16".into()),
            ("gw", "192.168.7.1".into())
        ]
    ));
    // sriovConfig.mtu on a PF no interfaceConfig names: set at runtime (netdevsim's VFs have no network
    // interfaces for it to reach).
    assert_eq!(show_link(&s1, "pf0")["mtu"], 3000);
    // SR-IOV: 4 VFs with VF 0's settings, as plumber discovers them.
    let vf = sriov(&s1, "pf0");
    assert_eq!(vf["numVfs"], 4);
    assert_eq!(vf["totalVfs"], 4);
    let vfs = vf["vfs"].as_array().unwrap();
    assert_eq!(vfs.len(), 4);
    assert_eq!(vfs[0]["mac"], "02:00:00:00:00:10");
    assert_eq!(vfs[0]["vlan"], 100);
    assert_eq!(vfs[0]["qos"], 3);
    assert_eq!(vfs[0]["trust"], true);
    assert_eq!(vfs[0]["spoofchk"], false);
    for v in &vfs[1..] {
        assert_eq!(v["spoofchk"], true);
        assert_eq!(v["trust"], false);
    }
    // The kernel's view, without plumber: bond modes and options, VF rates.
    let k1 = o.json("s1.link.json");
    let bond0 = &ip_link(&k1, "bond0")["linkinfo"]["info_data"];
    assert_eq!(bond0["mode"], "802.3ad");
    assert_eq!(bond0["miimon"], 100);
    assert_eq!(bond0["ad_lacp_rate"], "fast");
    assert_eq!(bond0["xmit_hash_policy"], "layer3+4");
    let bond1 = &ip_link(&k1, "bond1")["linkinfo"]["info_data"];
    assert_eq!(bond1["mode"], "active-backup");
    assert_eq!(bond1["primary"], "eth3");
    let kvf0 = &ip_link(&k1, "pf0")["vfinfo_list"][0];
    assert_eq!(kvf0["rate"]["max_tx"], 1000, "VF 0 max rate: {kvf0}");
    assert_eq!(kvf0["rate"]["min_tx"], 100, "VF 0 min rate: {kvf0}");

    // A second apply: nothing to do, nothing changed.
    assert!(
        o.text("apply2.out").contains("plumber: nothing to do"),
        "second apply: {}",
        o.text("apply2.out")
    );
    assert_eq!(
        o.json("show2.json"),
        s1,
        "the second apply changed the node"
    );

    // b: 4 -> 2 through 0, VF 0 changed, MTUs lowered with the VLAN under its parent.
    let s3 = o.json("show3.json");
    let vf = sriov(&s3, "pf0");
    assert_eq!(vf["numVfs"], 2);
    let vfs = vf["vfs"].as_array().unwrap();
    assert_eq!(vfs.len(), 2);
    assert_eq!(vfs[0]["mac"], "02:00:00:00:00:10");
    assert_eq!(vfs[0]["vlan"], 200);
    assert_eq!(vfs[0]["qos"], 1);
    assert_eq!(vfs[0]["trust"], false);
    assert_eq!(vfs[1]["spoofchk"], true);
    assert_eq!(show_link(&s3, "bond0")["mtu"], 2000);
    assert_eq!(show_link(&s3, "bond0.100")["mtu"], 1900);
    assert_eq!(v4(&s3, "bond1"), ["192.168.7.6/24"]);
    assert!(has_route(&s3, &[("dst", "10.201.0.0/16".into())]));
    assert!(!has_route(&s3, &[("dst", "10.200.0.0/16".into())]));
    let apply3 = o.text("apply3.out");
    assert!(
        apply3.contains("sriov_numvfs") || !apply3.is_empty(),
        "apply3 said: {apply3}"
    );

    // c: a failure part-way (the kernel refuses a route to a prefix the host holds an unreachable
    // route to) rolls back to exactly the state before: plumber's view and the kernel's (iproute2) alike.
    o.assert_rc("apply4", 3);
    let err = o.text("apply4.err");
    assert!(
        err.contains("10.250.0.0/16 via 192.168.7.99") && err.contains("rolled back"),
        "apply4: {err}"
    );
    // c lowers pf0's sriovConfig.mtu (done before the route, then undone).
    assert_eq!(show_link(&s3, "pf0")["mtu"], 3000);
    assert_eq!(
        o.json("show4.json"),
        s3,
        "the failed apply did not roll back exactly"
    );
    assert_eq!(
        o.text("s4.ip.txt"),
        o.text("s3.ip.txt"),
        "the kernel's links, addresses or routes differ after the rollback"
    );
}

#[test]
fn case1_ovs_bridges_on_the_kernel_datapath() {
    let p = Payload::new("case1-ovs");
    p.with_ovs();
    p.copy_tree(&top().join("tests/vm/case1"), "case1");
    std::fs::copy(top().join("tests/vm/case1/ovs.sh"), p.dir.join("case.sh")).unwrap();
    let o = p.run(300);
    eprintln!("case1-ovs: VM {:.1} s", o.elapsed.as_secs_f64());
    assert_eq!(o.rc, 0, "the guest script failed; see {}", o.dir.display());
    assert_eq!(o.get("done"), "1", "the guest script did not finish");
    o.assert_rc("ovs_start", 0);

    // An OVS bond of two NICs and an empty bridge; the second apply has nothing to do.
    o.assert_rc("apply1", 0);
    o.assert_rc("apply2", 0);
    assert!(
        o.text("apply2.out").contains("plumber: nothing to do"),
        "second OVS apply: {}",
        o.text("apply2.out")
    );
    let ports = o.text("ports1.out");
    assert!(ports.contains("ovs-bond01: bond-ovs-bond01"), "{ports}");
    assert!(ports.contains("br-int:"), "{ports}");
    o.assert_rc("bond1", 0);
    let bond = o.text("bond1.out");
    assert!(bond.contains("eth6") && bond.contains("eth7"), "{bond}");
    let dp = o.text("dp1.out");
    assert!(dp.contains("system@ovs-system"), "kernel datapath: {dp}");
    assert!(dp.contains("eth6") && dp.contains("eth7"), "{dp}");
    // mtuRequest: on the members and on the bridge's own interface (HostPlumber's place), as the
    // kernel has them once ovs-vswitchd applied it.
    o.assert_rc("mtu1", 0);
    assert_eq!(o.text("mtu1.out"), "1600\n1600\n1600\n");

    // A bridge on a VLAN plumber manages: the VLAN becomes a port of the kernel datapath (its
    // controller is then ovs-system), and that must not count as drift.
    o.assert_rc("apply3", 0);
    o.assert_rc("apply4", 0);
    assert!(
        o.text("apply4.out").contains("plumber: nothing to do"),
        "second apply: {}",
        o.text("apply4.out")
    );
    let ports = o.text("ports2.out");
    assert!(ports.contains("ovs-br01: eth5.300"), "{ports}");
    assert!(
        o.text("dp2.out").contains("eth5.300"),
        "{}",
        o.text("dp2.out")
    );
}
