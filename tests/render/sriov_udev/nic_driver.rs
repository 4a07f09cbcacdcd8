//! The NIC-driver rules of `81-plumber-sriov.rules` (a PF's `pfDriver: vfio-pci`, a DPDK uplink): the
//! rendered helper, run with the arguments each rendered rule gives it, binds the NIC to its driver
//! (driver_override, unbind from the kernel driver, drivers_probe), loads the driver's module when the
//! kernel has no such driver, touches nothing else (no VF count, no MTU), and refuses bad arguments
//! before writing anything.

use std::os::unix::fs::symlink;

use super::*;

/// The `driver` rules of a golden case, each with the PCI address and name udev would give it.
fn driver_rules(case_name: &str) -> (Artifact, Vec<(String, String, Vec<Pair>)>) {
    let arts = render_case(&case(case_name), &Distro::by_name("ubuntu").unwrap());
    let helper = helper_of(&arts).clone();
    let rules = rules(&rules_of(&arts).unwrap().content, &helper.path);
    let found = rules
        .into_iter()
        .filter(|r| run_of(r).split(' ').nth(3) == Some("driver"))
        .filter(|r| !r.iter().any(|p| p.key == "NAME" && p.value.is_empty()))
        .map(|r| {
            let name = r
                .iter()
                .find(|p| p.key == "NAME")
                .map(|p| p.value.clone())
                .unwrap_or_else(|| "enp94s0f1".into());
            let pci = r
                .iter()
                .find(|p| p.key == "KERNELS")
                .map(|p| p.value.clone())
                .unwrap_or_else(|| "0000:3b:00.0".into());
            (pci, name, r)
        })
        .collect();
    (helper, found)
}

/// The fixture's PF, bound to the fixture's kernel driver (`ixgbevf`, whose `unbind` is recorded).
fn bound_nic(pci: &str, name: &str, loaded: &[&str]) -> Kernel {
    let k = Kernel::new(pci, name, 64, 0, 0, &[], loaded);
    write(&k.pf.join("driver_override"), "(null)\n");
    symlink("../../../bus/pci/drivers/ixgbevf", k.pf.join("driver")).unwrap();
    k
}

#[test]
fn a_nic_given_to_vfio_pci_is_bound_by_its_rule_and_nothing_else_changes() {
    let mut ran = 0;
    for case_name in ["sriov-pf-driver", "ovs-bond-dpdk"] {
        let (helper, found) = driver_rules(case_name);
        assert!(!found.is_empty(), "{case_name}: no driver rule");
        for (pci, name, rule) in found {
            let args = run_args(&rule, &pci, &name);
            assert_eq!(args[2..], ["driver", "vfio-pci"], "{case_name}: {args:?}");
            for sh in shells() {
                let d = scratch();
                let h = install(d.path(), &helper);
                let mut k = bound_nic(&pci, &name, &["vfio-pci"]);
                let r = k.run(&sh, &h, &args);
                assert!(r.ok, "{case_name} {pci}: {}", r.stderr);
                assert_eq!(k.read("driver_override"), "vfio-pci");
                let (probed, unbound) = k.probes();
                assert_eq!(probed, [pci.as_str()], "{case_name}: drivers_probe");
                assert_eq!(unbound, [pci.as_str()], "{case_name}: unbind");
                assert!(k.calls("modprobe").is_empty(), "vfio-pci is loaded");
                assert!(k.calls("ip").is_empty());
                assert_eq!(k.read("sriov_numvfs"), "0");
                assert_eq!(r.writes_to("sriov_numvfs"), Vec::<String>::new());
                assert_eq!(k.mtu(), "1500");
                ran += 1;
            }
        }
    }
    assert!(ran >= 8, "only {ran} runs");
}

#[test]
fn the_driver_is_loaded_first_and_bad_arguments_write_nothing() {
    let (helper, found) = driver_rules("sriov-pf-driver");
    let (pci, name, rule) = &found[0];
    let args = run_args(rule, pci, name);
    for sh in shells() {
        let d = scratch();
        let h = install(d.path(), &helper);
        let mut k = bound_nic(pci, name, &[]);
        let r = k.run(&sh, &h, &args);
        assert!(r.ok, "{}", r.stderr);
        assert_eq!(k.calls("modprobe"), ["vfio-pci"]);
        assert_eq!(k.probes().0, [pci.as_str()]);

        let mut k = bound_nic(pci, name, &["vfio-pci"]);
        let before = k.snapshot();
        for bad in [
            vec!["driver", "vfio pci"],
            vec!["driver", "vfio-pci", "extra"],
            vec!["driver"],
        ] {
            let mut a = args[..2].to_vec();
            a.extend(bad.iter().map(|s| s.to_string()));
            let r = k.run(&sh, &h, &a);
            assert!(!r.ok, "{a:?} accepted: {}", r.stderr);
            assert!(r.stderr.contains("invalid"), "{a:?}: {}", r.stderr);
        }
        assert_eq!(k.snapshot(), before);
        assert_eq!(k.probes(), (vec![], vec![]));
    }
}
