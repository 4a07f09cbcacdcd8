//! Case 5: plumber's NetworkManager keyfiles (`--distro rhel9`, as RHEL 9 and 10 read them) on a booting
//! NetworkManager (Debian 12's 1.42), with no plumber in the guest. The systemd VM boots with
//! NetworkManager on and networkd off. pf0, the netdevsim port (an Ethernet device to NetworkManager), has
//! the host's own profile with its address and a route; the template names pf0 for its MTU and two VLANs
//! only, and adds a bridge. After the boot pf0 must still have the host's address and route (its own
//! profile active on it, none of plumber's), the MTU from `81-plumber-links.rules`, and the VLANs and the
//! bridge from plumber's profiles with their addresses.

use std::process::Command;

use serde_json::Value;

use crate::harness::*;

fn addrs(addr: &Value, name: &str) -> Vec<String> {
    let mut v: Vec<String> = ip_link(addr, name)["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["scope"] == "global")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect();
    v.sort();
    v
}

fn has_route(routes: &Value, dst: &str, gateway: &str, dev: &str) -> bool {
    routes
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["dst"] == dst && r["gateway"] == gateway && r["dev"] == dev)
}

#[test]
fn case5_networkmanager_keyfiles_leave_the_nics_own_profile_in_charge() {
    let p = Payload::empty("case5");
    let files = p.dir.join("files");
    let st = Command::new(plumber_render())
        .args(["--distro", "rhel9", "--out"])
        .arg(&files)
        .arg(top().join("tests/vm/case5/net.yaml"))
        .status()
        .expect("plumber-render");
    assert!(st.success(), "plumber-render --distro rhel9 failed");
    let conns = files.join("etc/NetworkManager/system-connections");
    assert!(
        !conns.join("plumber-pf0.nmconnection").exists(),
        "a profile for pf0 would replace the host's"
    );
    // The host's own profile (mode 0600, or NetworkManager ignores it).
    let host = conns.join("host-pf0.nmconnection");
    std::fs::copy(top().join("tests/vm/case5/host-pf0.nmconnection"), &host).unwrap();
    use std::os::unix::fs::{symlink, PermissionsExt};
    std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o600)).unwrap();
    // NetworkManager on, networkd and netplan's generator off (the image has them the other way round).
    let sys = files.join("etc/systemd/system");
    std::fs::create_dir_all(sys.join("multi-user.target.wants")).unwrap();
    symlink(
        "/lib/systemd/system/NetworkManager.service",
        sys.join("multi-user.target.wants/NetworkManager.service"),
    )
    .unwrap();
    for u in ["systemd-networkd.service", "systemd-networkd.socket"] {
        symlink("/dev/null", sys.join(u)).unwrap();
    }
    let g = files.join("etc/systemd/system-generators");
    std::fs::create_dir_all(&g).unwrap();
    symlink("/dev/null", g.join("netplan")).unwrap();
    std::fs::copy(top().join("tests/vm/case5/case.sh"), p.dir.join("case.sh")).unwrap();

    let disk = p.root_disk(&files);
    let o = p.run_systemd(&disk, 240);
    eprintln!(
        "case5: VM {:.1} s (case.sh started {} s after boot, settled at {} s)",
        o.elapsed.as_secs_f64(),
        o.results.get("case_start_s").map_or("?", |s| s),
        o.results.get("settled_s").map_or("?", |s| s)
    );
    assert_eq!(o.rc, 0, "the guest script failed; see {}", o.dir.display());
    assert_eq!(o.get("done"), "1");
    assert_eq!(o.get("nm"), "active");
    assert_ne!(o.get("networkd"), "active");
    assert_eq!(
        o.get("settled"),
        "1",
        "not every profile became active ({}); see {}/connections.txt and journal.txt",
        o.get("active"),
        o.dir.display()
    );
    // Which profile is on which device: the host's on pf0, plumber's on the rest.
    let devices = o.text("devices.txt");
    for (dev, conn) in [
        ("pf0", "host-pf0"),
        ("pf0.1000", "plumber-pf0.1000"),
        ("pf0.1001", "plumber-pf0.1001"),
        ("br0", "plumber-br0"),
    ] {
        assert!(
            devices
                .lines()
                .any(|l| l.starts_with(&format!("{dev}:")) && l.ends_with(&format!(":{conn}"))),
            "{dev} should have {conn}:\n{devices}"
        );
    }

    let k = o.json("link.json");
    assert_eq!(
        ip_link(&k, "pf0")["mtu"],
        9000,
        "pf0's MTU from the udev rule"
    );
    for (v, id, mtu) in [("pf0.1000", 1000, 9000), ("pf0.1001", 1001, 1500)] {
        let l = ip_link(&k, v);
        assert_eq!(l["link"], "pf0", "{v}: {l}");
        assert_eq!(l["linkinfo"]["info_data"]["id"], id, "{l}");
        assert_eq!(l["mtu"], mtu, "{v}'s MTU");
    }
    assert_eq!(ip_link(&k, "br0")["linkinfo"]["info_kind"], "bridge");

    let a = o.json("addr.json");
    assert_eq!(
        addrs(&a, "pf0"),
        ["10.6.0.6/24"],
        "the host's address on pf0"
    );
    assert_eq!(addrs(&a, "pf0.1000"), ["10.60.0.6/24"]);
    assert!(addrs(&a, "pf0.1001").is_empty());
    assert_eq!(addrs(&a, "br0"), ["10.61.0.6/24", "fd00:61::6/64"]);
    let r = o.json("route4.json");
    assert!(
        has_route(&r, "10.66.0.0/16", "10.6.0.1", "pf0"),
        "the host's route: {r}"
    );
    assert!(
        has_route(&r, "10.70.0.0/16", "10.60.0.1", "pf0.1000"),
        "{r}"
    );
    let link = o.text("plumber-link.log");
    assert!(link.contains("pf0: ip link set dev pf0 mtu 9000"), "{link}");
}
