//! The VF rule of `81-plumber-sriov.rules` (`sriovConfig.mtu` on the VFs, as HostPlumber sets it): the
//! rendered helper, run with the arguments the rendered rule gives it for a VF's interface, gives the VF
//! the MTU of the first entry that matches its PF (by name, PCI address or vendor/device ids, in the PF
//! rules' order), leaves VFs of other PFs and of PFs without an MTU alone, and refuses bad arguments
//! before writing anything. The fixture sysfs has each VF's `physfn` link as the kernel makes it.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

const TEMPLATE: &str = "apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata: {name: t}
spec:
  sriovConfig:
    - {vendorId: \"8086\", deviceId: \"158b\", numVfs: 2, mtu: 1500}
    - {pciAddr: \"0000:5e:00.1\", numVfs: 2}
    - {pfName: ens2f0, numVfs: 4, mtu: 9000}
";

/// A PF at `pci` with netdev `name` and ids `8086:device`, and its VF 0 at `vf` with netdev `vf_name`
/// at MTU `mtu`.
fn pf_with_vf(root: &Path, pci: &str, name: &str, device: &str, vf: &str, vf_name: &str, mtu: u32) {
    let devs = root.join("devices/pci0000:00");
    let pf = devs.join(pci);
    write(&pf.join("vendor"), "0x8086\n");
    write(&pf.join("device"), &format!("0x{device}\n"));
    write(&pf.join(format!("net/{name}/mtu")), "9000\n");
    write(
        &devs.join(vf).join(format!("net/{vf_name}/mtu")),
        &format!("{mtu}\n"),
    );
    symlink(format!("../{pci}"), devs.join(vf).join("physfn")).unwrap();
    fs::create_dir_all(root.join("bus/pci/devices")).unwrap();
    fs::create_dir_all(root.join("class/net")).unwrap();
    for (addr, _) in [(pci, name), (vf, vf_name)] {
        let _ = symlink(
            format!("../../../devices/pci0000:00/{addr}"),
            root.join("bus/pci/devices").join(addr),
        );
    }
    symlink(
        format!("../../devices/pci0000:00/{vf}/net/{vf_name}"),
        root.join("class/net").join(vf_name),
    )
    .unwrap();
}

fn mtu_of(root: &Path, netdev: &str) -> String {
    fs::read_to_string(root.join("class/net").join(netdev).join("mtu"))
        .unwrap()
        .trim_end()
        .to_string()
}

#[test]
fn the_vf_rule_gives_each_vf_interface_the_mtu_of_its_pfs_first_entry() {
    let src = plumber_render::Source {
        name: "t.yaml".into(),
        text: TEMPLATE.into(),
    };
    let arts = plumber_render::render_sources(
        std::slice::from_ref(&src),
        &Distro::by_name("ubuntu").unwrap(),
        None,
        None,
    )
    .unwrap();
    let helper = helper_of(&arts);
    let all = rules(&rules_of(&arts).unwrap().content, &helper.path);
    // The VF rule comes first: a VF's interface never reaches the PF rules.
    let vf_rule = &all[0];
    assert!(
        vf_rule
            .iter()
            .any(|p| p.key == "TEST" && p.value == "device/physfn"),
        "{vf_rule:?}"
    );
    assert!(all[1..]
        .iter()
        .all(|r| !r.iter().any(|p| p.value == "device/physfn")));
    let d = scratch();
    let h = install(d.path(), helper);
    for shell in shells() {
        let dir = scratch();
        let root = dir.path().join("sys");
        // ens2f0 is also an 8086:158b: its name entry comes first and wins (9000, not 1500).
        pf_with_vf(
            &root,
            "0000:5e:00.0",
            "ens2f0",
            "158b",
            "0000:5e:02.0",
            "ens2f0v0",
            1500,
        );
        pf_with_vf(
            &root,
            "0000:5e:00.1",
            "ens2f1",
            "1572",
            "0000:5e:0a.0",
            "ens2f1v0",
            1500,
        );
        pf_with_vf(
            &root,
            "0000:af:00.0",
            "ens7f0",
            "158b",
            "0000:af:02.0",
            "ens7f0v0",
            9000,
        );
        pf_with_vf(
            &root,
            "0000:d8:00.0",
            "ens9f0",
            "1572",
            "0000:d8:02.0",
            "ens9f0v0",
            1500,
        );
        let run = |vf: &str, name: &str, args: Option<Vec<String>>| {
            let args = args.unwrap_or_else(|| run_args(vf_rule, vf, name));
            let mut cmd = Command::new(&shell.path);
            cmd.args(&shell.args)
                .arg(&h)
                .args(&args)
                .env("PLUMBER_SYSFS", &root)
                .env("PLUMBER_LOGGER", "");
            let out = run_with_timeout(cmd, Duration::from_secs(60));
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (ok, log) = run("0000:5e:02.0", "ens2f0v0", None);
        assert!(ok, "{log}");
        assert_eq!(mtu_of(&root, "ens2f0v0"), "9000", "{log}");
        assert!(log.contains("(name ens2f0), at MTU 9000"), "{log}");
        // By ids, lowered.
        let (ok, log) = run("0000:af:02.0", "ens7f0v0", None);
        assert!(ok, "{log}");
        assert_eq!(mtu_of(&root, "ens7f0v0"), "1500", "{log}");
        // A PF entry without an MTU, and a PF no entry names: nothing written.
        for (vf, name) in [("0000:5e:0a.0", "ens2f1v0"), ("0000:d8:02.0", "ens9f0v0")] {
            let (ok, log) = run(vf, name, None);
            assert!(ok && !log.contains(": write "), "{log}");
            assert_eq!(mtu_of(&root, name), "1500", "{log}");
        }
        // Already right: no write.
        let (ok, log) = run("0000:5e:02.0", "ens2f0v0", None);
        assert!(ok && !log.contains(": write "), "{log}");
        // Bad arguments are refused before anything is written; a PF is no VF.
        fs::write(root.join("class/net/ens9f0v0/mtu"), "1500\n").unwrap();
        for bad in [
            "0000:d8:02.0 ens9f0v0 vf ids 8086:1572 9000 name",
            "0000:d8:02.0 ens9f0v0 vf ids 8086:1572 ninety",
            "0000:d8:02.0 ens9f0v0 vf mac 8086:1572 9000",
            "0000:d8:02.0 ens9f0v0 vf pci 5e:00.1 9000",
            "0000:d8:00.0 ens9f0 vf ids 8086:1572 9000",
        ] {
            let args = bad.split(' ').map(str::to_string).collect();
            let (ok, log) = run("", "", Some(args));
            assert!(!ok, "{bad}: {log}");
            assert_eq!(mtu_of(&root, "ens9f0v0"), "1500", "{bad}: {log}");
        }
        // And the same arguments, well-formed, do write: the refusals above were the arguments'.
        let args = "0000:d8:02.0 ens9f0v0 vf ids 8086:1572 9000"
            .split(' ')
            .map(str::to_string)
            .collect();
        let (ok, log) = run("", "", Some(args));
        assert!(ok, "{log}");
        assert_eq!(mtu_of(&root, "ens9f0v0"), "9000", "{log}");
    }
}
