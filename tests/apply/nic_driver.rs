//! A NIC's own driver at runtime, end to end (`plumber apply` on a sysfs fixture whose [`FakeKernel`]
//! takes a PF's network interface away while it is on `vfio-pci` and gives it back on `i40e`): a DPDK
//! uplink named by interface is bound to vfio-pci before OVS gets its port, a second apply (the
//! interface gone) has nothing to do, `plumber show` still names the NIC and `plumber-render`
//! resolves the uplink from that status, and a template that lets go gives the NIC back to i40e; a
//! `pfDriver: vfio-pci` PF is bound, and unbound again when a later change of the same apply fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use plumber_render::model::PciAddr;

use crate::common::*;
use crate::in_netns;
use crate::ovs::ovsdb_fixture::Ovsdb;
use crate::sysfs_fixture::*;

const NIC: &str = "0000:03:00.0";

fn nic() -> PciAddr {
    PciAddr::parse(NIC).unwrap()
}

struct Host {
    dir: tempfile::TempDir,
    sysfs: Fixture,
}

impl Host {
    /// A Debian root and a fixture with `name` at [`NIC`] on i40e (with SR-IOV when `total`).
    fn new(name: &str, total: Option<u32>) -> Host {
        let dir = tempfile::tempdir().unwrap();
        host_root(dir.path(), "ID=ubuntu\nVERSION_ID=\"24.04\"\n");
        let sysfs = Fixture::new();
        sysfs.pf(name, nic(), total, "i40e");
        Host { dir, sysfs }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn state(&self) -> PathBuf {
        self.root().join("var/lib/plumber")
    }

    fn apply(&self, spec: &str, extra: &[&str]) -> Output {
        self.apply_named("t", spec, extra)
    }

    /// `plumber apply` of one template `name` with `spec` (indented by two spaces).
    fn apply_named(&self, name: &str, spec: &str, extra: &[&str]) -> Output {
        let p = self.dir.path().join("t.yaml");
        fs::write(
            &p,
            format!("apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: {name}}}\nspec:\n{spec}"),
        )
        .unwrap();
        plumber_apply(&p, &self.root(), self.sysfs.root(), extra)
    }

    fn driver(&self) -> Option<String> {
        link_name(&self.sysfs.dev(nic()).join("driver"))
    }

    fn has_netdev(&self, name: &str) -> bool {
        fs::symlink_metadata(self.sysfs.root().join("class/net").join(name)).is_ok()
    }

    fn bound_record(&self) -> Option<serde_json::Value> {
        let text = fs::read_to_string(self.state().join("nics.json")).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }

    /// `plumber show` of the node, with the apply's state directory.
    fn show(&self, sock: &Path) -> String {
        let out = assert_cmd::Command::cargo_bin("plumber")
            .unwrap()
            .args(["show", "--ovsdb-socket"])
            .arg(sock)
            .arg("--sysfs")
            .arg(self.sysfs.root())
            .arg("--state-dir")
            .arg(self.state())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn ok(o: &Output) -> String {
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    out.into_owned()
}

const DPDK: &str = "  ovsConfig:\n    - {bridgeName: dpdk-br0, nodeInterface: eno2, dpdk: true}\n";

#[test]
fn a_dpdk_uplink_by_name_is_bound_kept_without_its_interface_and_given_back() {
    in_netns!(
        "a_dpdk_uplink_by_name_is_bound_kept_without_its_interface_and_given_back",
        || {
            veth("a0", "a1");
            settled(&["a0", "a1"]);
            let host = Host::new("eno2", None);
            let _kernel = FakeKernel::start(host.sysfs.root(), &[nic()]);
            let db = Ovsdb::start();
            let sock = db.sock.display().to_string();
            let with_db = ["--ovsdb-socket", sock.as_str()];

            let dry = ok(&host.apply(DPDK, &[&with_db[..], &["--dry-run"]].concat()));
            let lines: Vec<&str> = dry.lines().collect();
            let bind = lines
                .iter()
                .position(|l| *l == "sriov: wait for 0000:03:00.0 to be bound to vfio-pci")
                .expect(&dry);
            let bridge = lines
                .iter()
                .position(|l| l.starts_with("ovs: add bridge"))
                .expect(&dry);
            assert!(bind < bridge, "bound before OVS gets the port:\n{dry}");

            ok(&host.apply(DPDK, &with_db));
            assert_eq!(host.driver().as_deref(), Some("vfio-pci"));
            assert!(
                eventually(|| !host.has_netdev("eno2")),
                "eno2 is gone on vfio-pci"
            );
            let devargs = db.vsctl(&[
                "--bare",
                "--columns=options",
                "find",
                "Interface",
                "type=dpdk",
            ]);
            assert!(devargs.contains(NIC), "{devargs}");
            assert_eq!(
                host.bound_record().unwrap(),
                serde_json::json!({NIC: {"name": "eno2", "driver": "vfio-pci", "previous": "i40e"}})
            );
            let rules =
                fs::read_to_string(host.root().join("etc/udev/rules.d/81-plumber-sriov.rules"))
                    .unwrap();
            assert!(rules.contains("$id $name driver vfio-pci"), "{rules}");

            // eno2 has no interface now: the same template resolves it from the record, and there is
            // nothing to do.
            assert_eq!(
                ok(&host.apply(DPDK, &with_db)),
                "plumber: nothing to do (templates: t)\n"
            );

            // The status names the bound NIC, with its driver, and the renderer resolves the uplink
            // from it as from any inventory.
            let shown = host.show(&db.sock);
            let hn = plumber_render::inventory::HostNetwork::parse(&shown, "show").unwrap();
            let eno2 = hn.by_pci(&nic()).expect(&shown);
            assert_eq!(eno2.pf_name.as_deref(), Some("eno2"));
            assert_eq!(eno2.pf_driver.as_deref(), Some("vfio-pci"));
            let t = plumber_render::pipeline::load(&[plumber_render::pipeline::Source {
                name: "t.yaml".into(),
                text: format!("apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: t}}\nspec:\n{DPDK}"),
            }])
            .unwrap();
            let node = plumber_render::pipeline::node_config(&t, None, Some(&hn)).unwrap();
            assert_eq!(node.nic_drivers[0].pci, Some(nic()));

            // Another template instead of t (a wrong file): giving the NIC back is letting go, refused
            // without --prune and listed.
            let other = "  interfaceConfig:\n    - {name: a0, mtu: 1500}\n";
            let out = host.apply_named("other", other, &with_db);
            assert_eq!(out.status.code(), Some(1));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("\n  sriov: unbind 0000:03:00.0 from vfio-pci\n"),
                "{err}"
            );
            assert_eq!(host.driver().as_deref(), Some("vfio-pci"));

            // The template lets go of the uplink: the NIC goes back to i40e with its interface.
            let dry = ok(&host.apply(other, &[&with_db[..], &["--dry-run"]].concat()));
            assert!(
                dry.contains("let go: sriov: wait for 0000:03:00.0 to be bound to i40e\n"),
                "{dry}"
            );
            ok(&host.apply(other, &with_db));
            assert_eq!(host.driver().as_deref(), Some("i40e"));
            assert!(
                eventually(|| host.has_netdev("eno2")),
                "eno2 is back on i40e"
            );
            assert_eq!(
                read(&host.sysfs.dev(nic()).join("driver_override")).trim(),
                ""
            );
            assert!(host.bound_record().is_none());
            assert_eq!(db.vsctl(&["list-br"]).trim(), "");
        }
    );
}

#[test]
fn a_pf_given_to_vfio_pci_is_bound_and_unbound_again_when_the_apply_fails() {
    in_netns!(
        "a_pf_given_to_vfio_pci_is_bound_and_unbound_again_when_the_apply_fails",
        || {
            veth("a0", "a1");
            settled(&["a0", "a1"]);
            let host = Host::new("ens1f0", Some(8));
            let _kernel = FakeKernel::start(host.sysfs.root(), &[nic()]);
            let spec = |route: &str| {
                format!("  sriovConfig:\n    - {{pfName: ens1f0, pfDriver: vfio-pci}}\n  interfaceConfig:\n    - name: a0\n      ipv4:\n        address: [10.9.0.2/24]\n{route}")
            };
            // A route the kernel refuses fails the link stage, after the NIC was bound.
            hold_refused_prefix();
            let failing = spec("        routes:\n          - {to: 10.60.0.0/16, via: 10.9.0.1}\n");
            let out = host.apply(&failing, &[]);
            assert_eq!(
                out.status.code(),
                Some(3),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("rolled back the"), "{err}");
            // It was bound (the override written, then cleared by the rollback) and is back.
            assert_eq!(read(&host.sysfs.dev(nic()).join("driver_override")), "\n");
            assert_eq!(host.driver().as_deref(), Some("i40e"));
            assert!(eventually(|| host.has_netdev("ens1f0")));
            assert!(host.bound_record().is_none());

            ok(&host.apply(&spec(""), &[]));
            assert_eq!(host.driver().as_deref(), Some("vfio-pci"));
            assert!(eventually(|| !host.has_netdev("ens1f0")));
            assert_eq!(host.bound_record().unwrap()[NIC]["name"], "ens1f0");
            assert_eq!(
                ok(&host.apply(&spec(""), &[])),
                "plumber: nothing to do (templates: t)\n"
            );
        }
    );
}

/// A NIC that carries addresses (here the veth `a0`, named so in the fixture too) is never given to a
/// userspace driver: the bind would take its interface, its addresses and the routes through them
/// (the node's own, on a management NIC). Refused before any change, naming the address and the fix.
#[test]
fn a_nic_with_addresses_is_refused_for_vfio_pci_and_nothing_changes() {
    in_netns!(
        "a_nic_with_addresses_is_refused_for_vfio_pci_and_nothing_changes",
        || {
            veth("a0", "a1");
            ip(&["addr", "add", "10.9.0.2/24", "dev", "a0"]);
            let before = yaml(&settled(&["a0", "a1"]));
            let host = Host::new("a0", Some(8));
            let _kernel = FakeKernel::start(host.sysfs.root(), &[nic()]);
            for extra in [&["--dry-run"][..], &[][..]] {
                let out = host.apply(
                    "  sriovConfig:\n    - {pfName: a0, pfDriver: vfio-pci}\n",
                    extra,
                );
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    err.contains("a0 would go to vfio-pci and has addresses: 10.9.0.2/24"),
                    "{err}"
                );
            }
            assert_eq!(host.driver().as_deref(), Some("i40e"));
            assert_eq!(
                read(&host.sysfs.dev(nic()).join("driver_override")),
                "(null)\n"
            );
            assert!(host.bound_record().is_none());
            assert_eq!(
                yaml(&settled(&["a0", "a1"])),
                before,
                "the refusal changed links"
            );
        }
    );
}
