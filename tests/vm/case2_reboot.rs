//! Case 2: reboot survival without the agent. `plumber-render` renders `tests/vm/case2/net.yaml` for
//! `ubuntu` (netplan) and for `debian` (systemd-networkd); the files go into a copy of the systemd VM's
//! root disk (Debian 12 by debootstrap, `vm/build-rootfs.sh`), which then boots with no plumber in it.
//! The boot alone must leave the PF with its VFs (the udev rule), the VLANs, bonds, MTUs, addresses and
//! routes, and the OVS bridges (plumber-ovs.service) as the template says.
//!
//! netdevsim is not a PCI device: the PF's parents are `netdevsim1` on the netdevsim bus, so plumber's
//! rule, which matches `SUBSYSTEMS=="pci"` and passes the PF's PCI address (`$id`), cannot match it; the
//! guest records that (`udevadm info -a`) and the test asserts it. The test then installs beside it a
//! copy of the rendered rule changed in exactly three places, `SUBSYSTEMS=="pci"` -> `"netdevsim"`, `$id`
//! -> a fixed PCI-looking address, and `PLUMBER_SYSFS` pointing the rendered helper at a view of the PF
//! whose `sriov_numvfs`/`sriov_totalvfs` are the driver's own files; the match on NAME (set by a .link
//! file), the helper and its arguments are the rendered ones.

use std::process::Command;

use serde_json::Value;

use crate::harness::*;

/// The test-only copy of the rendered SR-IOV rule for the netdevsim PF (see the module comment).
fn netdevsim_rule(rendered: &str) -> String {
    let run = "RUN+=\"/usr/lib/plumber/plumber-sriov $id ";
    assert!(
        rendered.contains("SUBSYSTEMS==\"pci\"") && rendered.contains(run),
        "the rendered rule changed shape:\n{rendered}"
    );
    let body: String = rendered
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            l.replace("SUBSYSTEMS==\"pci\"", "SUBSYSTEMS==\"netdevsim\"")
                .replace(
                    run,
                    "ENV{PLUMBER_SYSFS}=\"/run/plumber-vm/sysfs\", \
                     RUN+=\"/usr/lib/plumber/plumber-sriov 0000:00:1f.0 ",
                )
                .replace("plumber_sriov_end", "plumber_vm_sriov_end")
                + "\n"
        })
        .collect();
    format!(
        "# Test-only (tests/vm/case2_reboot.rs): 81-plumber-sriov.rules for the netdevsim PF, whose parent\n\
         # is not a PCI device. Changed: SUBSYSTEMS, $id, PLUMBER_SYSFS (/run/plumber-vm/sysfs, made by\n\
         # plumber-vm-devices.service: the driver's own sriov_numvfs and sriov_totalvfs).\n{body}"
    )
}

/// The host's own configuration of eth6, as an installer or cloud-init writes it: its address (and on
/// netplan a route). plumber's files name eth6 for its MTU and a VLAN only and must leave this in charge.
fn host_own_files(flavour: &str, files: &std::path::Path) {
    // netplan wants its files private; networkd reads as systemd-network and needs them readable.
    let (path, text, mode) = match flavour {
        "ubuntu" => (
            "etc/netplan/50-cloud-init.yaml",
            "network:\n  version: 2\n  ethernets:\n    eth6:\n      addresses: [10.6.0.6/24]\n      routes:\n        - {to: 10.66.0.0/16, via: 10.6.0.1}\n",
            0o600,
        ),
        _ => (
            "etc/systemd/network/50-eth6.network",
            "[Match]\nName=eth6\n\n[Network]\nAddress=10.6.0.6/24\n\n[Route]\nDestination=10.66.0.0/16\nGateway=10.6.0.1\n",
            0o644,
        ),
    };
    let p = files.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn boot(flavour: &str) -> Outcome {
    let p = Payload::empty(&format!("case2-{flavour}"));
    let files = p.dir.join("files");
    let st = Command::new(plumber_render())
        .args(["--distro", flavour, "--out"])
        .arg(&files)
        .arg(top().join("tests/vm/case2/net.yaml"))
        .status()
        .expect("plumber-render");
    assert!(st.success(), "plumber-render --distro {flavour} failed");
    let rules = files.join("etc/udev/rules.d");
    let rendered = std::fs::read_to_string(rules.join("81-plumber-sriov.rules")).unwrap();
    std::fs::write(
        rules.join("81-plumber-vm-netdevsim.rules"),
        netdevsim_rule(&rendered),
    )
    .unwrap();
    if flavour == "debian" {
        // A Debian host configured by networkd has no netplan: mask the image's netplan generator.
        let g = files.join("etc/systemd/system-generators");
        std::fs::create_dir_all(&g).unwrap();
        std::os::unix::fs::symlink("/dev/null", g.join("netplan")).unwrap();
    }
    host_own_files(flavour, &files);
    std::fs::copy(top().join("tests/vm/case2/case.sh"), p.dir.join("case.sh")).unwrap();
    std::fs::write(p.dir.join("flavour"), format!("{flavour}\n")).unwrap();
    let disk = p.root_disk(&files);
    let o = p.run_systemd(&disk, 240);
    eprintln!(
        "case2-{flavour}: VM {:.1} s (case.sh started {} s after boot, settled at {} s)",
        o.elapsed.as_secs_f64(),
        o.results.get("case_start_s").map_or("?", |s| s),
        o.results.get("settled_s").map_or("?", |s| s)
    );
    if o.rc == 0 {
        let _ = std::fs::remove_file(&disk);
    }
    o
}

fn addrs(addr: &Value, name: &str) -> Vec<String> {
    ip_link(addr, name)["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["scope"] == "global")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect()
}

fn has_route(routes: &Value, want: &[(&str, Value)]) -> bool {
    routes
        .as_array()
        .unwrap()
        .iter()
        .any(|r| want.iter().all(|(k, v)| &r[*k] == v))
}

fn check(flavour: &str, o: &Outcome) {
    assert_eq!(o.rc, 0, "the guest script failed; see {}", o.dir.display());
    assert_eq!(o.get("done"), "1", "the guest script did not finish");
    assert_eq!(o.get("flavour"), flavour);
    assert_eq!(
        o.get("settled"),
        "1",
        "the boot did not settle; see {}/networkctl.txt and journal.txt",
        o.dir.display()
    );

    // Which files configured the boot: netplan's generator (ubuntu) or plumber's own .network (debian).
    // On networkd, eth6 is configured by the host's own 50-eth6.network and plumber writes none for it;
    // its MTU and VLAN came from 81-plumber-links.rules.
    let files = o.text("networkd-files.txt");
    if flavour == "ubuntu" {
        assert!(files.contains("10-netplan-bond0.netdev"), "{files}");
        assert!(!files.contains("60-plumber-"), "{files}");
    } else {
        assert!(files.contains("60-plumber-bond0.netdev"), "{files}");
        assert!(!files.contains("netplan"), "{files}");
        assert!(files.contains("50-eth6.network"), "{files}");
        assert!(!files.contains("60-plumber-eth6.network"), "{files}");
        assert!(files.contains("60-plumber-eth6.600.network"), "{files}");
        let link = o.text("plumber-link.log");
        assert!(
            link.contains("eth6: ip link add link eth6 name eth6.600 type vlan id 600"),
            "{link}"
        );
    }

    let k = o.json("link.json");
    // Bonds, their modes and options, their members.
    let bond0 = ip_link(&k, "bond0");
    let d = &bond0["linkinfo"]["info_data"];
    assert_eq!(d["mode"], "802.3ad", "{bond0}");
    assert_eq!(d["miimon"], 100);
    assert_eq!(d["ad_lacp_rate"], "fast");
    assert_eq!(d["xmit_hash_policy"], "layer3+4");
    assert_eq!(bond0["mtu"], 9000);
    let bond1 = ip_link(&k, "bond1");
    assert_eq!(bond1["linkinfo"]["info_data"]["mode"], "active-backup");
    assert_eq!(bond1["linkinfo"]["info_data"]["primary"], "eth3");
    for (m, b) in [
        ("eth1", "bond0"),
        ("eth2", "bond0"),
        ("eth3", "bond1"),
        ("eth4", "bond1"),
    ] {
        assert_eq!(ip_link(&k, m)["master"], b, "{m} in {b}");
    }
    // VLANs on their parents, MTUs (a VLAN's under its parent's).
    for (v, parent, id, mtu) in [
        ("bond0.100", "bond0", 100, 8000),
        ("storage", "bond0", 200, 9000),
        ("pf0.1000", "pf0", 1000, 9000),
        ("pf0.1001", "pf0", 1001, 9000),
        ("eth5.300", "eth5", 300, 4000),
        ("eth6.600", "eth6", 600, 7000),
    ] {
        let l = ip_link(&k, v);
        assert_eq!(l["link"], parent, "{v}'s parent: {l}");
        assert_eq!(l["linkinfo"]["info_kind"], "vlan", "{l}");
        assert_eq!(l["linkinfo"]["info_data"]["id"], id, "{l}");
        assert_eq!(l["mtu"], mtu, "{v}'s MTU");
    }
    assert_eq!(ip_link(&k, "pf0")["mtu"], 9000);
    assert_eq!(ip_link(&k, "eth5")["mtu"], 4000);
    assert_eq!(ip_link(&k, "eth6")["mtu"], 7000);
    for n in [
        "bond0",
        "bond1",
        "bond0.100",
        "storage",
        "pf0",
        "pf0.1000",
        "pf0.1001",
        "eth5",
        "eth5.300",
        "eth6",
        "eth6.600",
    ] {
        let flags = ip_link(&k, n)["flags"].as_array().unwrap().clone();
        assert!(flags.contains(&"UP".into()), "{n} is not up: {flags:?}");
    }

    // SR-IOV: the udev rule ran the rendered helper: 4 VFs, VF 0's settings.
    assert_eq!(o.get("totalvfs"), "4");
    assert_eq!(
        o.get("numvfs"),
        "4",
        "sriov_numvfs; helper log:\n{}",
        o.text("plumber-sriov.log")
    );
    let pf = ip_link(&k, "pf0");
    assert_eq!(pf["parentbus"], "netdevsim", "{pf}");
    let vfs = pf["vfinfo_list"].as_array().unwrap();
    assert_eq!(vfs.len(), 4, "{pf}");
    let vf0 = &vfs[0];
    assert_eq!(vf0["address"], "02:00:00:00:00:20", "{vf0}");
    assert_eq!(vf0["vlan_list"][0]["vlan"], 100, "{vf0}");
    assert_eq!(vf0["vlan_list"][0]["qos"], 2, "{vf0}");
    assert_eq!(vf0["spoofchk"], false, "{vf0}");
    assert_eq!(vf0["trust"], true, "{vf0}");
    // Why the test-only rule: the PF has no PCI parent for plumber's own rule to match.
    let attrs = o.text("udev-pf0-attrs.txt");
    assert!(attrs.contains("SUBSYSTEMS==\"netdevsim\""), "{attrs}");
    assert!(!attrs.contains("SUBSYSTEMS==\"pci\""), "{attrs}");
    let helper = o.text("plumber-sriov.log");
    assert!(helper.contains("pf0: 4 VFs"), "helper log:\n{helper}");

    // Addresses and routes.
    let a = o.json("addr.json");
    let mut b0 = addrs(&a, "bond0");
    b0.sort();
    assert_eq!(b0, ["10.0.0.5/24", "fd00::5/64"]);
    assert_eq!(addrs(&a, "bond0.100"), ["10.1.0.5/24"]);
    assert_eq!(addrs(&a, "storage"), ["10.2.0.5/24"]);
    assert_eq!(addrs(&a, "bond1"), ["192.168.7.5/24"]);
    assert_eq!(addrs(&a, "eth5"), ["10.3.0.5/24"]);
    // eth6 keeps the address (and route) of the host's own file; its VLAN has the template's.
    assert_eq!(addrs(&a, "eth6"), ["10.6.0.6/24"]);
    assert_eq!(addrs(&a, "eth6.600"), ["10.60.0.6/24"]);
    let r = o.json("route4.json");
    assert!(
        has_route(
            &r,
            &[
                ("dst", "default".into()),
                ("gateway", "10.0.0.1".into()),
                ("dev", "bond0".into())
            ]
        ),
        "{r}"
    );
    assert!(
        has_route(
            &r,
            &[
                ("dst", "172.16.0.0/12".into()),
                ("gateway", "10.0.0.254".into()),
                ("metric", 100.into()),
                ("table", "100".into())
            ]
        ),
        "{r}"
    );
    assert!(
        has_route(
            &r,
            &[
                ("dst", "10.66.0.0/16".into()),
                ("gateway", "10.6.0.1".into()),
                ("dev", "eth6".into())
            ]
        ),
        "the host's own route on eth6: {r}"
    );
    assert!(
        has_route(
            &r,
            &[
                ("dst", "10.200.0.0/16".into()),
                ("gateway", "192.168.7.1".into()),
                ("dev", "bond1".into())
            ]
        ),
        "{r}"
    );

    // OVS: plumber-ovs.service at boot, the bridge on the VLAN, kernel datapath.
    assert_eq!(o.get("plumber_ovs"), "active");
    assert_eq!(o.get("ovs.br01.ports").trim(), "pf0.1000");
    assert_eq!(o.get("ovs.br01.datapath"), "system");
    let brs: Vec<&str> = o.get("ovs.bridges").split_whitespace().collect();
    assert_eq!(brs, ["br-int", "ovs-br01"]);
    assert!(
        o.text("dpctl.txt").contains(": pf0.1000"),
        "{}",
        o.text("dpctl.txt")
    );
    assert_eq!(ip_link(&k, "pf0.1000")["master"], "ovs-system");
}

#[test]
fn case2_reboot_ubuntu_netplan_without_plumber() {
    let o = boot("ubuntu");
    check("ubuntu", &o);
}

#[test]
fn case2_reboot_debian_networkd_without_plumber() {
    let o = boot("debian");
    check("debian", &o);
}
