//! Case 4: the seed README's comprehensive example (`examples/comprehensive.yaml`) end to end with
//! `plumber apply` in the busybox guest, its interface `eno2` renamed `pf0` (the netdevsim PF) and
//! nothing else: 4 VFs, VLANs 1000-1002 with MTU 9000 on the PF, the OVS bridge `ovs-br01` on `pf0.1000`
//! on the kernel datapath; `plumber show` confirms; a second apply has nothing to do.
//!
//! `vfDriver: i40evf` (iavf) cannot bind on netdevsim: its VFs are not PCI functions (no
//! `driver_override`, no `drivers_probe`). The example as it is must therefore fail without leaving a
//! trace, and the test asserts what plumber says and that the node is as before; then the example
//! without its `vfDriver` line is applied.

use crate::harness::*;

#[test]
fn case4_comprehensive_example_end_to_end() {
    let example = std::fs::read_to_string(top().join("examples/comprehensive.yaml")).unwrap();
    assert!(example.contains("pfName: eno2") && example.contains("vfDriver: i40evf"));
    let as_is = example.replace("eno2", "pf0");
    let no_driver: String = as_is
        .lines()
        .filter(|l| l.trim() != "vfDriver: i40evf")
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(no_driver.lines().count() + 1, as_is.lines().count());

    let p = Payload::new("case4");
    p.with_ovs();
    for (dir, text) in [("case4/as-is", &as_is), ("case4/no-driver", &no_driver)] {
        std::fs::create_dir_all(p.dir.join(dir)).unwrap();
        std::fs::write(p.dir.join(dir).join("comprehensive.yaml"), text).unwrap();
    }
    std::fs::copy(top().join("tests/vm/case4/case.sh"), p.dir.join("case.sh")).unwrap();
    let o = p.run(300);
    eprintln!("case4: VM {:.1} s", o.elapsed.as_secs_f64());
    assert_eq!(o.rc, 0, "the guest script failed; see {}", o.dir.display());
    assert_eq!(o.get("done"), "1", "the guest script did not finish");
    assert_eq!(o.get("totalvfs"), "4");
    o.assert_rc("ovs_start", 0);
    o.assert_rc("show0", 0);

    // As it is: the plan names the VF driver; the apply cannot bind it and leaves the node as it was.
    o.assert_rc("dry1", 0);
    let plan = o.text("dry1.out");
    assert!(
        plan.contains("iavf"),
        "the plan does not mention iavf:\n{plan}"
    );
    let rc1 = o.rc("apply1");
    let said = format!("{}{}", o.text("apply1.out"), o.text("apply1.err"));
    eprintln!("case4: the example as it is: exit {rc1}:\n{said}");
    assert!(
        rc1 == 1 || rc1 == 3,
        "apply of the example as it is exited {rc1}, not 1 (refused) or 3 (rolled back):\n{said}"
    );
    assert!(
        said.contains("\"iavf\"")
            && said.contains("driver_override")
            && said.contains("rolled back"),
        "plumber does not say why:\n{said}"
    );
    assert_eq!(
        o.json("show1.json")["status"],
        o.json("show0.json")["status"],
        "the failed apply changed the node"
    );
    assert_eq!(
        o.text("s1.ip.txt"),
        o.text("s0.ip.txt"),
        "the kernel's links, addresses or routes differ after the failed apply"
    );
    assert_eq!(o.text("ports1.out").trim(), "", "a bridge was left behind");

    // Without vfDriver: the rest of the example.
    o.assert_rc("apply2", 0);
    assert_eq!(o.get("numvfs"), "4");
    let s2 = o.json("show2.json");
    let pf = show_link(&s2, "pf0");
    assert_eq!(pf["mtu"], 9000);
    for id in [1000, 1001, 1002] {
        let name = format!("pf0.{id}");
        let v = show_link(&s2, &name);
        assert_eq!(v["kind"], "vlan", "{v}");
        assert_eq!(v["parent"], "pf0", "{v}");
        assert_eq!(v["vlanId"], id, "{v}");
        assert_eq!(v["up"], true, "{name} up");
        // The template sets no MTU on the VLANs: they get the PF's 9000, as they do at boot (case 2,
        // where networkd creates them after setting the PF's MTU).
        assert_eq!(v["mtu"], 9000, "{v}");
    }
    let sriov = s2["status"]["interfaceStatus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["pfName"] == "pf0")
        .expect("plumber show has no PF pf0")["sriovStatus"]
        .clone();
    assert_eq!(sriov["numVfs"], 4, "{sriov}");
    assert_eq!(sriov["totalVfs"], 4, "{sriov}");
    let ports = o.text("ports2.out");
    assert!(ports.contains("ovs-br01: pf0.1000"), "{ports}");
    assert_eq!(o.text("dptype.out").trim(), "system");
    assert!(
        o.text("dp2.out").contains(": pf0.1000"),
        "{}",
        o.text("dp2.out")
    );
    let k = o.json("s2.link.json");
    let kv = k
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["ifname"] == "pf0.1000")
        .unwrap();
    assert_eq!(kv["master"], "ovs-system", "{kv}");

    // Again: nothing to do, nothing changed.
    o.assert_rc("apply3", 0);
    assert!(
        o.text("apply3.out").contains("plumber: nothing to do"),
        "second apply: {}",
        o.text("apply3.out")
    );
    assert_eq!(
        o.json("show3.json"),
        s2,
        "the second apply changed the node"
    );
    // The nodeSelector: on a node labelled otherwise no template applies, and plumber removes what it
    // made (the VFs stay: numVfs has no "unset").
    o.assert_rc("apply4", 0);
    let a4 = o.text("apply4.out");
    for what in [
        "delete pf0.1000",
        "delete pf0.1001",
        "delete pf0.1002",
        "delete bridge ovs-br01",
        "(templates: none)",
    ] {
        assert!(a4.contains(what), "unselected node: no {what:?} in\n{a4}");
    }
}
