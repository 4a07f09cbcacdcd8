//! `sriovConfig.mtu` on the VFs at runtime (`plumber apply`): the PF's MTU, then every VF netdev's,
//! raised after the PF's and lowered before it; a VF on `vfio-pci` (no netdev) is left alone; undone
//! with the rest when the apply fails. The PF and the VF netdev are links in a network namespace (a
//! veth end and a dummy named as the sysfs fixture's netdevs); the fixture says which is a VF of which.

use std::path::Path;

use crate::common::*;
use crate::in_netns;
use crate::sysfs_fixture::*;

fn mtu(link: &str) -> u32 {
    discover().links[link].mtu
}

fn template(dir: &Path, generation: u32, spec: &str) -> std::path::PathBuf {
    let path = dir.join("t.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\n\
             metadata: {{name: vfs, generation: {generation}}}\nspec:\n{spec}"
        ),
    )
    .unwrap();
    path
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_vfs_get_the_pf_mtu_after_it_and_lose_it_with_a_rollback() {
    in_netns!(
        "the_vfs_get_the_pf_mtu_after_it_and_lose_it_with_a_rollback",
        || {
            veth("ens1f0", "peer0");
            veth("a0", "a1");
            veth("ens1f0v0", "vfpeer0");
            settled(&["ens1f0", "a0", "ens1f0v0"]);
            // PF ens1f0 with 2 VFs: VF 0 on iavf with its netdev, VF 1 on vfio-pci (no netdev).
            let f = Fixture::new();
            let pf = pci("0000:5e:00.0");
            f.pf("ens1f0", pf, Some(8), "i40e");
            let vf0 = add_vf(f.root(), pf, 0, Some("iavf"));
            add_netdev(f.root(), &f.dev(vf0), vf0, "ens1f0v0");
            add_vf(f.root(), pf, 1, Some("vfio-pci"));
            put(&f.dev(pf).join("sriov_numvfs"), "2\n");
            let dir = tempfile::tempdir().unwrap();
            let root = host_root(dir.path(), "ID=ubuntu\nVERSION_ID=\"24.04\"\n");
            let spec = |mtu: u32, extra: &str| {
                format!(
                    "  sriovConfig:\n    - pfName: ens1f0\n      numVfs: 2\n      mtu: {mtu}\n\
                     {extra}"
                )
            };

            let t = template(dir.path(), 1, &spec(9000, ""));
            let dry = plumber_apply(&t, &root, f.root(), &["--dry-run"]);
            let lines: Vec<String> = stdout(&dry)
                .lines()
                .filter(|l| l.starts_with("link:"))
                .map(str::to_string)
                .collect();
            assert_eq!(
                lines,
                [
                    "link: set mtu of ens1f0: 1500 -> 9000",
                    "link: set mtu of ens1f0v0: 1500 -> 9000",
                ],
                "{}",
                stdout(&dry)
            );
            let out = plumber_apply(&t, &root, f.root(), &[]);
            assert!(out.status.success(), "{out:?}");
            assert_eq!((mtu("ens1f0"), mtu("ens1f0v0")), (9000, 9000));
            // No vfDriver: nothing is bound (HostPlumber bound i40evf); VF 1 stays on vfio-pci.
            assert_eq!(
                link_name(&f.dev(vf_pci(pf, 1)).join("driver")).as_deref(),
                Some("vfio-pci")
            );
            let again = plumber_apply(&t, &root, f.root(), &[]);
            assert!(stdout(&again).contains("nothing to do"), "{again:?}");

            // Lowered: the VF before the PF; then a route the kernel refuses, and both are back.
            hold_refused_prefix();
            let t = template(
                dir.path(),
                2,
                &spec(
                    1500,
                    "  interfaceConfig:\n    - name: a0\n      ipv4:\n        address: [10.9.0.2/24]\n\
                     \x20       routes:\n          - {to: 10.60.0.0/16, via: 10.9.0.1}\n",
                ),
            );
            let dry = stdout(&plumber_apply(&t, &root, f.root(), &["--dry-run"]));
            let vf_at = dry.find("set mtu of ens1f0v0: 9000 -> 1500").expect(&dry);
            let pf_at = dry.find("set mtu of ens1f0: 9000 -> 1500").expect(&dry);
            assert!(vf_at < pf_at, "{dry}");
            let out = plumber_apply(&t, &root, f.root(), &[]);
            assert_eq!(out.status.code(), Some(3), "{out:?}");
            assert_eq!((mtu("ens1f0"), mtu("ens1f0v0")), (9000, 9000));
        }
    );
}
