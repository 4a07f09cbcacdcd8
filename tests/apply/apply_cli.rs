//! `plumber apply` end to end, as a user runs it: the binary, in a network namespace made for the test,
//! with a root directory for the files and a sysfs fixture tree (with [`FakeKernel`] playing the kernel
//! for SR-IOV). Each test checks files, the namespace, sysfs and the state directory's record after an
//! apply, a second apply, and a failing apply that must leave everything as it was.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use plumber::node::state::CurrentState;
use plumber_render::model::PciAddr;

use crate::common::*;
use crate::in_netns;
use crate::sysfs_fixture::*;

/// A root with an os-release, a sysfs fixture, and a templates dir.
struct Host {
    dir: tempfile::TempDir,
    sysfs: Fixture,
}

impl Host {
    fn new(os_release: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        host_root(dir.path(), os_release);
        Host {
            dir,
            sysfs: Fixture::new(),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Writes template `name` (spec YAML indented by two spaces) and returns its path.
    fn template(&self, name: &str, generation: u32, spec: &str) -> PathBuf {
        let p = self.dir.path().join(format!("{name}.yaml"));
        fs::write(
            &p,
            format!(
                "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: {name}, generation: {generation}}}\nspec:\n{spec}"
            ),
        )
        .unwrap();
        p
    }

    fn plumber(&self, template: &Path, extra: &[&str]) -> Output {
        plumber_apply(template, &self.root(), self.sysfs.root(), extra)
    }

    fn file(&self, path: &str) -> Option<(String, u32)> {
        let p = self.root().join(path.trim_start_matches('/'));
        let text = fs::read_to_string(&p).ok()?;
        Some((
            text,
            fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
        ))
    }

    fn record(&self) -> serde_json::Value {
        let p = self.root().join("var/lib/plumber/last-apply.json");
        serde_json::from_slice(&fs::read(p).expect("a last-apply.json")).unwrap()
    }

    /// Every file under the root but the state dir, with its content and mode.
    fn tree(&self) -> Vec<(String, String, u32)> {
        let mut out = Vec::new();
        walk(&self.root(), &self.root(), &mut out);
        out.retain(|(p, _, _)| {
            !p.starts_with("/var/lib/plumber") && !HOST_STACK.contains(&p.as_str())
        });
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String, u32)>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let m = fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            walk(root, &p, out);
        } else {
            let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
            let content = fs::read_to_string(&p).unwrap_or_default();
            out.push((rel, content, m.permissions().mode() & 0o7777));
        }
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_code(o: &Output, code: i32) {
    let (out, err) = text(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{out}\nstderr:\n{err}"
    );
}

const UBUNTU: &str = "ID=ubuntu\nVERSION_ID=\"24.04\"\n";

const NET: &str = "  bridgeConfig:
    - name: br0
      members: [a1]
  interfaceConfig:
    - name: a0
      mtu: 9000
      ipv4:
        address: [10.9.0.2/24]
        routes:
          - {to: 10.50.0.0/16, via: 10.9.0.1}
      ipv6:
        address: ['fd00:9::2/64']
    - name: br0
      ipv4:
        address: [10.10.0.1/24]
";

#[test]
fn apply_converges_files_and_runtime_and_a_second_apply_does_nothing() {
    in_netns!(
        "apply_converges_files_and_runtime_and_a_second_apply_does_nothing",
        || {
            veth("a0", "a1");
            settled(&["a0", "a1"]);
            let host = Host::new(UBUNTU);
            let t = host.template("net", 4, NET);

            // The dry run names every change the apply then makes.
            let dry = host.plumber(&t, &["--dry-run"]);
            assert_code(&dry, 0);
            let planned: Vec<String> = text(&dry)
                .0
                .lines()
                .filter_map(|l| l.strip_prefix("link: ").map(str::to_string))
                .collect();
            assert!(
                planned.contains(&"create br0: bridge stp off".to_string()),
                "{planned:?}"
            );

            let out = host.plumber(&t, &[]);
            assert_code(&out, 0);
            let (stdout, _) = text(&out);
            let done: Vec<String> = stdout
                .lines()
                .filter_map(|l| l.strip_prefix("done: ").map(str::to_string))
                .collect();
            assert_eq!(done, planned, "the apply did what the dry run said");
            assert!(
                stdout.contains("plumber: applied 1 file changes"),
                "{stdout}"
            );

            let (netplan, mode) = host.file("/etc/netplan/60-plumber.yaml").unwrap();
            assert_eq!(mode, 0o600);
            assert!(netplan.contains("HostNetworkTemplate net"), "{netplan}");

            let s = discover();
            assert_eq!(s.links["a0"].mtu, 9000);
            assert_eq!(cidrs(&s, "a0"), ["10.9.0.2/24", "fd00:9::2/64"]);
            assert_eq!(s.links["a1"].controller.as_deref(), Some("br0"));
            assert_eq!(cidrs(&s, "br0"), ["10.10.0.1/24"]);
            assert!(routes(&s, "a0")
                .iter()
                .any(|r| r.starts_with("10.50.0.0/16 via 10.9.0.1")));

            let rec = host.record();
            assert_eq!(rec["result"], "applied");
            assert_eq!(rec["templates"][0]["name"], "net");
            assert_eq!(rec["templates"][0]["generation"], 4);
            let digest = rec["digest"].as_str().unwrap().to_string();
            assert_eq!(digest.len(), 64);
            let record_path = host.root().join("var/lib/plumber/last-apply.json");
            let written = fs::metadata(&record_path).unwrap().modified().unwrap();

            // Again: nothing to do, nothing written, not even the record.
            let files = host.tree();
            let state = yaml(&settled(&["a0", "a1", "br0"]));
            let again = host.plumber(&t, &[]);
            assert_code(&again, 0);
            assert_eq!(text(&again).0, "plumber: nothing to do (templates: net)\n");
            assert_eq!(host.tree(), files);
            assert_eq!(yaml(&discover()), state);
            assert_eq!(
                fs::metadata(&record_path).unwrap().modified().unwrap(),
                written
            );
            let dry = host.plumber(&t, &["--dry-run"]);
            assert_eq!(
                text(&dry).0,
                "# distro ubuntu, templates: net\n# nothing to do\n"
            );

            // JSON output is the record.
            let json = host.plumber(&t, &["-o", "json"]);
            let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
            assert_eq!(v["result"], "unchanged");
            assert_eq!(v["digest"], digest.as_str());
        }
    );
}

mod py {
    include!("../support/pyyaml.rs");
}

/// One schema for what an apply changes: `--dry-run -o json`'s `changes` are the record's
/// (`last-apply.json`, and `-o json`'s) entry for entry, each with `stage`, `op`, `object` and `values`;
/// file modes are octal strings; the time is RFC 3339; `-o yaml` is the same data for any YAML reader.
#[test]
fn dry_run_and_record_list_the_same_changes() {
    in_netns!("dry_run_and_record_list_the_same_changes", || {
        veth("a0", "a1");
        settled(&["a0", "a1"]);
        let host = Host::new(UBUNTU);
        let t = host.template("net", 1, NET);
        let json = |o: &Output| -> serde_json::Value {
            assert_code(o, 0);
            serde_json::from_slice(&o.stdout).unwrap()
        };

        let dry = json(&host.plumber(&t, &["--dry-run", "-o", "json"]));
        let planned = dry["changes"].as_array().unwrap().clone();
        let netplan = planned
            .iter()
            .find(|c| c["object"] == "/etc/netplan/60-plumber.yaml")
            .expect("the netplan file among the changes");
        assert_eq!(
            (
                &netplan["stage"],
                &netplan["op"],
                &netplan["values"]["mode"]
            ),
            (&"file".into(), &"create".into(), &"0600".into()),
            "{netplan}"
        );
        let mtu = planned
            .iter()
            .find(|c| c["op"] == "setMtu")
            .expect("a setMtu change");
        assert_eq!(
            (&mtu["stage"], &mtu["object"], &mtu["values"]["mtu"]),
            (&"link".into(), &"a0".into(), &9000.into()),
            "{mtu}"
        );
        let yaml = host.plumber(&t, &["--dry-run", "-o", "yaml"]);
        assert_code(&yaml, 0);
        py::assert_pyyaml_reads(&text(&yaml).0, &dry);

        let printed = json(&host.plumber(&t, &["-o", "json"]));
        let rec = host.record();
        assert_eq!(rec, printed, "-o json prints the record");
        assert_eq!(rec["result"], "applied");
        assert_eq!(rec["changes"].as_array().unwrap(), &planned);
        let time = rec["time"].as_str().expect("time is a string");
        let parsed: k8s_openapi::jiff::Timestamp = time.parse().expect("time is RFC 3339");
        assert!(time.ends_with('Z'), "{time}");
        let now = k8s_openapi::jiff::Timestamp::now();
        assert!((now.as_second() - parsed.as_second()).abs() < 600, "{time}");
        assert!(rec["duration_ms"].is_u64(), "{rec}");
    });
}

#[test]
fn a_failed_apply_puts_files_and_namespace_back_and_exits_3() {
    in_netns!(
        "a_failed_apply_puts_files_and_namespace_back_and_exits_3",
        || {
            veth("a0", "a1");
            settled(&["a0", "a1"]);
            let host = Host::new(UBUNTU);
            let t = host.template("net", 1, NET);
            assert_code(&host.plumber(&t, &[]), 0);
            // A route an administrator added by hand (`proto boot`), which generation 2 removes: the
            // rollback must put it back as it was, `proto boot` and all.
            sh("route add 10.88.0.0/16 via 10.9.0.1 dev a0");
            hold_refused_prefix();
            let files = host.tree();
            let state = yaml(&bridge_link_local_dropped(settled(&["a0", "a1", "br0"])));
            assert!(state.contains("proto: boot"), "{state}");

            // Generation 2 changes the MTU and the addresses, and adds a route the kernel refuses
            // (REFUSED_PREFIX): the last op fails (EEXIST) after everything else was done.
            let t = host.template(
                "net",
                2,
                "  interfaceConfig:
    - name: a0
      mtu: 1400
      ipv4:
        address: [10.9.1.2/24]
        routes:
          - {to: 10.60.0.0/16, via: 10.9.1.1}
",
            );
            let out = host.plumber(&t, &[]);
            assert_code(&out, 3);
            let (_, err) = text(&out);
            assert!(
                err.contains("add route 10.60.0.0/16 via 10.9.1.1 dev a0")
                    && err.contains("rolled back the"),
                "{err}"
            );
            assert_eq!(host.tree(), files, "the files are as they were");
            assert_eq!(
                yaml(&bridge_link_local_dropped(settled(&["a0", "a1", "br0"]))),
                state,
                "the namespace is as it was"
            );
            let rec = host.record();
            assert_eq!(rec["result"], "rolled-back");
            assert_eq!(rec["templates"][0]["generation"], 2);
            assert!(rec["error"].as_str().unwrap().contains("10.60.0.0/16"));

            // A refused apply (a NIC that is not there) changes nothing and exits 1.
            let t = host.template(
                "net",
                3,
                "  interfaceConfig:\n    - name: nosuch0\n      mtu: 9000\n",
            );
            let out = host.plumber(&t, &[]);
            assert_code(&out, 1);
            assert!(text(&out).1.contains("nosuch0 does not exist on this node"));
            assert_eq!(host.tree(), files);
            assert_eq!(host.record()["result"], "refused");

            // A file plumber does not own is never overwritten: refused before any change.
            fs::remove_dir_all(host.root().join("var/lib/plumber")).unwrap();
            fs::write(host.root().join("etc/netplan/60-plumber.yaml"), "# mine\n").unwrap();
            let t = host.template("net", 4, NET);
            let out = host.plumber(&t, &[]);
            assert_code(&out, 1);
            assert!(
                text(&out).1.contains(
                    "/etc/netplan/60-plumber.yaml exists and was not installed by plumber"
                ),
                "{}",
                text(&out).1
            );
            assert_eq!(
                yaml(&bridge_link_local_dropped(settled(&["a0", "a1", "br0"]))),
                state
            );
        }
    );
}

#[test]
fn files_only_and_runtime_only_touch_only_their_half() {
    in_netns!("files_only_and_runtime_only_touch_only_their_half", || {
        veth("a0", "a1");
        let before = yaml(&settled(&["a0", "a1"]));
        let host = Host::new("ID=rhel\nVERSION_ID=\"9.4\"\n");
        let t = host.template("net", 1, NET);
        assert_code(&host.plumber(&t, &["--files-only"]), 0);
        assert!(host
            .file("/etc/NetworkManager/system-connections/plumber-a0.nmconnection")
            .is_some());
        assert_eq!(
            yaml(&settled(&["a0", "a1"])),
            before,
            "--files-only changed links"
        );

        let host2 = Host::new("ID=rhel\nVERSION_ID=\"9.4\"\n");
        assert_code(&host2.plumber(&t, &["--runtime-only"]), 0);
        assert_eq!(
            host2.tree(),
            [(
                "/etc/os-release".to_string(),
                "ID=rhel\nVERSION_ID=\"9.4\"\n".to_string(),
                0o644
            )]
        );
        assert_eq!(discover().links["a0"].mtu, 9000);

        let bad = host.plumber(&t, &["--files-only", "--runtime-only"]);
        assert_code(&bad, 2);
    });
}

/// A Debian 12 host runs ifupdown, not systemd-networkd: the debian profile's files would configure the
/// node now and be ignored at the next boot. The apply refuses before changing anything, naming the fix;
/// `--runtime-only` (the boot files left to the host) goes through.
#[test]
fn files_the_host_would_ignore_are_refused() {
    in_netns!("files_the_host_would_ignore_are_refused", || {
        veth("a0", "a1");
        let before = yaml(&settled(&["a0", "a1"]));
        let host = Host::new("ID=debian\nVERSION_ID=\"12\"\n");
        for link in HOST_STACK {
            fs::remove_file(host.root().join(link.trim_start_matches('/'))).unwrap();
        }
        let t = host.template("net", 1, NET);
        for extra in [&[][..], &["--dry-run"][..]] {
            let out = host.plumber(&t, extra);
            assert_code(&out, 1);
            let (_, err) = text(&out);
            assert!(
                err.contains("the debian files would be ignored on this host")
                    && err.contains("systemctl enable systemd-networkd")
                    && err.contains("--runtime-only"),
                "{err}"
            );
        }
        assert_eq!(
            yaml(&settled(&["a0", "a1"])),
            before,
            "a refusal changed links"
        );
        assert!(host
            .file("/etc/systemd/network/60-plumber-a0.network")
            .is_none());

        // Enabled the way `systemctl enable` does it: the files go in.
        let wants = host
            .root()
            .join("etc/systemd/system/multi-user.target.wants");
        std::os::unix::fs::symlink(
            "/lib/systemd/system/systemd-networkd.service",
            wants.join("systemd-networkd.service"),
        )
        .unwrap();
        assert_code(&host.plumber(&t, &[]), 0);
        assert!(host
            .file("/etc/systemd/network/60-plumber-a0.network")
            .is_some());
    });
}

const PF: &str = "0000:03:00.0";

fn pf_pci() -> PciAddr {
    PciAddr::parse(PF).unwrap()
}

/// VF drivers of the fixture's PF, by VF index.
fn vf_drivers(host: &Host) -> Vec<Option<String>> {
    let n = count_vfs(host.sysfs.root(), pf_pci()) as u32;
    (0..n)
        .map(|k| link_name(&host.sysfs.dev(vf_pci(pf_pci(), k)).join("driver")))
        .collect()
}

#[test]
fn sriov_vfs_are_created_bound_and_rolled_back_with_the_rest() {
    in_netns!(
        "sriov_vfs_are_created_bound_and_rolled_back_with_the_rest",
        || {
            veth("a0", "a1");
            settled(&["a0", "a1"]);
            let host = Host::new(UBUNTU);
            host.sysfs.pf("ens1f0", pf_pci(), Some(8), "i40e");
            let kernel = FakeKernel::start(host.sysfs.root(), &[pf_pci()]);
            let spec = |n: u32, extra: &str| {
                format!(
                    "  sriovConfig:
    - pfName: ens1f0
      numVfs: {n}
      vfDriver: vfio-pci
  interfaceConfig:
    - name: a0
      ipv4:
        address: [10.9.0.2/24]
{extra}"
                )
            };
            let t = host.template("sriov", 1, &spec(4, ""));
            let out = host.plumber(&t, &[]);
            assert_code(&out, 0);
            assert_eq!(vf_drivers(&host), vec![Some("vfio-pci".to_string()); 4]);
            assert!(host
                .file("/etc/udev/rules.d/81-plumber-sriov.rules")
                .is_some());
            assert_code(&host.plumber(&t, &[]), 0);
            assert_eq!(
                text(&host.plumber(&t, &["--dry-run"])).0,
                "# distro ubuntu, templates: sriov\n# nothing to do\n"
            );

            // 4 -> 2 VFs goes through 0, then a route the kernel refuses: everything is undone, the
            // count goes back (through 0 again) and the re-created VFs are bound as before.
            let files = host.tree();
            hold_refused_prefix();
            let t = host.template(
                "sriov",
                2,
                &spec(
                    2,
                    "        routes:\n          - {to: 10.60.0.0/16, via: 10.9.0.1}\n",
                ),
            );
            let out = host.plumber(&t, &[]);
            assert_code(&out, 3);
            assert_eq!(vf_drivers(&host), vec![Some("vfio-pci".to_string()); 4]);
            assert_eq!(host.tree(), files);
            let seen: Vec<u32> = kernel.seen().iter().map(|(_, n)| *n).collect();
            assert_eq!(seen, [4, 0, 2, 0, 4]);
            assert!(kernel.violations.lock().unwrap().is_empty());
        }
    );
}

#[test]
fn ovs_bridges_are_applied_shown_and_refused_without_ovsdb() {
    use crate::ovs::ovsdb_fixture::Ovsdb;
    in_netns!(
        "ovs_bridges_are_applied_shown_and_refused_without_ovsdb",
        || {
            veth("a0", "a1");
            settled(&["a0", "a1"]);
            let db = Ovsdb::start();
            let sock = db.sock.display().to_string();
            let host = Host::new(UBUNTU);
            let spec = |extra: &str| {
                format!(
                    "  ovsConfig:
    - bridgeName: br-ex
      nodeInterface: a1
  interfaceConfig:
    - name: a0
      ipv4:
        address: [10.9.0.2/24]
{extra}"
                )
            };
            let t = host.template("ovs", 1, &spec(""));
            let out = host.plumber(&t, &["--ovsdb-socket", &sock]);
            assert_code(&out, 0);
            assert!(
                text(&out)
                    .0
                    .contains("done: add bridge br-ex (datapath_type system)"),
                "{}",
                text(&out).0
            );
            assert_eq!(db.vsctl(&["list-br"]).trim(), "br-ex");
            assert_eq!(db.port_interfaces("a1"), ["a1"]);
            assert!(
                host.tree()
                    .iter()
                    .any(|(p, _, mode)| p.ends_with("/plumber-ovs") && *mode == 0o755),
                "the boot script is installed"
            );

            // Again: nothing; and `plumber show` publishes the bridge.
            let again = host.plumber(&t, &["--ovsdb-socket", &sock]);
            assert_eq!(text(&again).0, "plumber: nothing to do (templates: ovs)\n");
            let show = assert_cmd::Command::cargo_bin("plumber")
                .unwrap()
                .args(["show", "--ovsdb-socket", &sock, "--sysfs"])
                .arg(host.sysfs.root())
                .output()
                .unwrap();
            let hn = plumber_render::inventory::HostNetwork::parse(
                &String::from_utf8_lossy(&show.stdout),
                "show",
            )
            .unwrap();
            assert_eq!(hn.status.ovs_bridges.len(), 1);
            assert_eq!(hn.status.ovs_bridges[0].name, "br-ex");

            // A failure before the OVS stage leaves OVSDB untouched and everything else rolled back.
            let dump = db.dump();
            hold_refused_prefix();
            let files = host.tree();
            let t2 = host.template(
                "ovs",
                2,
                &spec("        routes:\n          - {to: 10.60.0.0/16, via: 10.9.0.1}\n")
                    .replace("bridgeName: br-ex", "bridgeName: br-new"),
            );
            assert_code(&host.plumber(&t2, &["--ovsdb-socket", &sock]), 3);
            assert_eq!(db.dump(), dump);
            assert_eq!(host.tree(), files);

            // OVSDB not reachable: refused before any change, saying why.
            let out = host.plumber(&t2, &["--ovsdb-socket", "/nonexistent/db.sock"]);
            assert_code(&out, 1);
            let (_, err) = text(&out);
            assert!(
                err.contains("the templates configure OVS bridges (br-new) but"),
                "{err}"
            );
            assert_eq!(host.tree(), files);

            // Templates that no longer list OVS: plumber's bridge goes, unless other software has a
            // port on it, in which case only plumber's port goes.
            db.vsctl(&["add-port", "br-ex", "tap-vm0"]);
            let t3 = host.template(
                "ovs",
                3,
                &spec("").replace(
                    "  ovsConfig:\n    - bridgeName: br-ex\n      nodeInterface: a1\n",
                    "",
                ),
            );
            let out = host.plumber(&t3, &["--ovsdb-socket", &sock]);
            assert_code(&out, 0);
            assert!(
                text(&out).0.contains("done: delete port a1"),
                "{}",
                text(&out).0
            );
            assert_eq!(db.vsctl(&["list-br"]).trim(), "br-ex");
            assert_eq!(db.port_interfaces("tap-vm0"), ["tap-vm0"]);
            // Once the bridge is plumber's alone again (OVS listed, then not), it goes.
            // (Host::template rewrites the one file: `t` now reads as generation 3.)
            db.vsctl(&["del-port", "br-ex", "tap-vm0"]);
            let t4 = host.template("ovs", 4, &spec(""));
            assert_code(&host.plumber(&t4, &["--ovsdb-socket", &sock]), 0);
            assert_eq!(db.port_interfaces("a1"), ["a1"]);
            let t5 = host.template(
                "ovs",
                5,
                &spec("").replace(
                    "  ovsConfig:\n    - bridgeName: br-ex\n      nodeInterface: a1\n",
                    "",
                ),
            );
            let out = host.plumber(&t5, &["--ovsdb-socket", &sock]);
            assert_code(&out, 0);
            assert!(
                text(&out).0.contains("done: delete bridge br-ex"),
                "{}",
                text(&out).0
            );
            assert_eq!(db.vsctl(&["list-br"]).trim(), "");
        }
    );
}

#[test]
fn watch_repairs_drift_in_links_and_files_until_sigterm() {
    in_netns!(
        "watch_repairs_drift_in_links_and_files_until_sigterm",
        || {
            use std::time::{Duration, Instant};
            veth("a0", "a1");
            settled(&["a0", "a1"]);
            let host = Host::new(UBUNTU);
            let t = host.template("net", 1, NET);
            let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("plumber"))
                .arg("apply")
                .arg("-f")
                .arg(&t)
                .arg("--root")
                .arg(host.root())
                .arg("--sysfs")
                .arg(host.sysfs.root())
                .args(["--node-name", "node-1", "--watch", "--debounce-ms", "50"])
                .args(["--resync-secs", "1"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // Polls `f` for up to 10 s (a bound for a hung watch, not a speed goal: BENCHMARKS.md has
            // the latencies) and returns how long it took.
            let wait_for = |what: &str, f: &dyn Fn() -> bool| {
                let start = Instant::now();
                while !f() {
                    assert!(start.elapsed() < Duration::from_secs(10), "{what}");
                    std::thread::sleep(Duration::from_millis(5));
                }
                start.elapsed()
            };
            wait_for("the first apply", &|| {
                discover().links.contains_key("br0")
                    && routes(&discover(), "a0")
                        .iter()
                        .any(|r| r.starts_with("10.50.0.0/16"))
            });

            // A managed address (and the route through it, which the kernel flushes with it).
            sh("addr del 10.9.0.2/24 dev a0");
            let took = wait_for("the address back", &|| {
                let s = discover();
                cidrs(&s, "a0").contains(&"10.9.0.2/24".to_string())
                    && routes(&s, "a0")
                        .iter()
                        .any(|r| r.starts_with("10.50.0.0/16"))
            });
            eprintln!("address and route repaired in {took:?}");
            // The bridge, with its member.
            sh("link del br0");
            let took = wait_for("the bridge back", &|| {
                discover()
                    .links
                    .get("a1")
                    .and_then(|l| l.controller.clone())
                    == Some("br0".into())
            });
            eprintln!("bridge repaired in {took:?}");
            // A rendered file someone removed: no netlink event, the resync puts it back.
            let netplan = host.root().join("etc/netplan/60-plumber.yaml");
            fs::remove_file(&netplan).unwrap();
            wait_for("the file back", &|| netplan.exists());
            // A link the templates do not name, and its address, are left alone.
            veth("u0", "u1");
            sh("addr add 10.77.0.1/24 dev u0");
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(cidrs(&discover(), "u0"), ["10.77.0.1/24"]);

            std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            assert!(err.contains("plumber watch: stopped after"), "{err}");
        }
    );
}

#[test]
fn what_templates_stop_naming_is_let_go_and_comes_back_on_rollback() {
    in_netns!(
        "what_templates_stop_naming_is_let_go_and_comes_back_on_rollback",
        || {
            veth("a0", "a1");
            veth("n0", "n1");
            settled(&["a0", "a1", "n0", "n1"]);
            let host = Host::new(UBUNTU);
            // Two templates: the network one, and one for n0 that will be deleted.
            let net = host.template("net", 1, NET);
            let extra = host.template(
                "extra",
                1,
                "  interfaceConfig:\n    - name: n0\n      ipv4:\n        address: [10.70.0.1/24]\n",
            );
            let both = host.dir.path().join("both");
            fs::create_dir(&both).unwrap();
            fs::copy(&net, both.join("net.yaml")).unwrap();
            fs::copy(&extra, both.join("extra.yaml")).unwrap();
            assert_code(&host.plumber(&both, &[]), 0);
            sh("addr add 10.71.0.1/24 dev n0"); // someone else's, on the same link
                                                // br0 too: plumber created it, and its link-local address comes asynchronously after it
                                                // has carrier (a snapshot taken before that raced the one after the rollback in CI).
            let full = yaml(&bridge_link_local_dropped(settled(&[
                "a0", "a1", "n0", "n1", "br0",
            ])));

            // `extra` deleted and the bridge dropped from `net`, and a route the kernel refuses
            // (REFUSED_PREFIX): the failure puts back everything, the bridge with its member and
            // address included.
            hold_refused_prefix();
            fs::remove_file(both.join("extra.yaml")).unwrap();
            let bad = NET
                .replace(
                    "  bridgeConfig:\n    - name: br0\n      members: [a1]\n",
                    "",
                )
                .replace(
                    "    - name: br0\n      ipv4:\n        address: [10.10.0.1/24]\n",
                    "",
                )
                .replace(
                    "via: 10.9.0.1}",
                    "via: 10.9.0.1}\n          - {to: 10.60.0.0/16, via: 10.9.0.254}",
                );
            fs::write(
                both.join("net.yaml"),
                format!("apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: net, generation: 2}}\nspec:\n{bad}"),
            )
            .unwrap();
            // `extra` no longer given: letting go of it is asked for.
            let dry = host.plumber(&both, &["--dry-run", "--prune"]);
            assert_code(&dry, 0);
            let (plan, _) = text(&dry);
            for line in [
                "link: remove address 10.70.0.1/24 from n0",
                "link: release a1 from br0",
                "link: delete br0 (bridge stp off)",
            ] {
                assert!(plan.contains(line), "{line} not in:\n{plan}");
            }
            assert_code(&host.plumber(&both, &["--prune"]), 3);
            assert_eq!(
                yaml(&bridge_link_local_dropped(settled(&[
                    "a0", "a1", "n0", "n1", "br0"
                ]))),
                full
            );

            // Without the bad route it goes through: br0 is gone, a1 free, n0 keeps only the address
            // plumber did not put there; a0 is as templated.
            let good = bad.replace("\n          - {to: 10.60.0.0/16, via: 10.9.0.254}", "");
            fs::write(
                both.join("net.yaml"),
                format!("apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: net, generation: 3}}\nspec:\n{good}"),
            )
            .unwrap();
            assert_code(&host.plumber(&both, &["--prune"]), 0);
            let s = discover();
            assert!(!s.links.contains_key("br0"));
            assert_eq!(s.links["a1"].controller, None);
            assert_eq!(cidrs(&s, "n0"), ["10.71.0.1/24"]);
            assert_eq!(cidrs(&s, "a0"), ["10.9.0.2/24", "fd00:9::2/64"]);
            assert_eq!(
                text(&host.plumber(&both, &[])).0,
                "plumber: nothing to do (templates: net)\n"
            );
        }
    );
}

/// The state with br0's one IPv6 link-local address dropped. Kernel quirk: the rollback re-creates the
/// bridge, and the kernel derives the new bridge's link-local address from whichever MAC address it
/// has when it gets carrier: a new bridge's random one or its first member's (see
/// `netns::a_deleted_bridge_is_recreated_as_it_was`). Everything plumber manages is compared exactly.
fn bridge_link_local_dropped(mut s: CurrentState) -> CurrentState {
    let br = s.links.get_mut("br0").unwrap();
    assert_eq!(br.addresses.iter().filter(|a| a.is_link_local()).count(), 1);
    br.addresses.retain(|a| !a.is_link_local());
    s
}

/// A node's template: an address on a0, the bridge br-mgmt with a1, its address and a route. (Not the
/// default route: cutting that is the connectivity guard's business, `tests/apply/guard.rs`.)
const NODE: &str = "  nodeSelector:
    node-role.kubernetes.io/worker: \"\"
  bridgeConfig:
    - name: br-mgmt
      members: [a1]
  interfaceConfig:
    - name: a0
      ipv4:
        address: [10.9.0.2/24]
    - name: br-mgmt
      ipv4:
        address: [10.20.0.5/24]
        routes:
          - {to: 10.50.0.0/16, via: 10.20.0.1}
";

/// The a0 entry of [`NODE`].
const A0: &str = "    - name: a0\n      ipv4:\n        address: [10.9.0.2/24]\n";

/// What selecting nothing lets go of besides the bridge.
const GONE_FILE: &str = "  file: remove /etc/netplan/60-plumber.yaml\n";
const GONE_ADDRESS: &str = "  link: remove address 10.9.0.2/24 from a0\n";

const WORKER: &str = "node-role.kubernetes.io/worker=";
const TYPO: &str = "node-role.kubernetes.io/wroker=";

/// The state directory's records of what plumber made and for which templates.
fn ownership(host: &Host) -> Vec<Option<String>> {
    ["runtime.json", "templates.json", "manifest.json"]
        .iter()
        .map(|f| fs::read_to_string(host.root().join("var/lib/plumber").join(f)).ok())
        .collect()
}

#[test]
fn a_selection_mistake_changes_nothing_without_prune() {
    in_netns!("a_selection_mistake_changes_nothing_without_prune", || {
        veth("a0", "a1");
        settled(&["a0", "a1"]);
        let host = Host::new(UBUNTU);
        let node = host.template("node", 1, NODE);
        assert_code(&host.plumber(&node, &["--node-labels", WORKER]), 0);
        let files = host.tree();
        assert!(files
            .iter()
            .any(|(p, _, _)| p == "/etc/netplan/60-plumber.yaml"));
        let state = yaml(&settled(&["a0", "a1", "br-mgmt"]));
        assert!(routes(&discover(), "br-mgmt")
            .iter()
            .any(|r| r.starts_with("10.50.0.0/16 via 10.20.0.1")));
        let records = ownership(&host);
        let unchanged = |what: &str| {
            assert_eq!(host.tree(), files, "{what}: the files changed");
            assert_eq!(yaml(&discover()), state, "{what}: the node changed");
            assert_eq!(ownership(&host), records, "{what}: the records changed");
            assert_eq!(host.record()["result"], "refused", "{what}");
        };
        let refused = |what: &str, out: &Output, says: &[&str]| {
            assert_code(out, 1);
            let (_, err) = text(out);
            for s in says.iter().chain(&[
                "without --prune",
                "this apply would let go of:\n  template node (applied before, not selected now)\n",
                "  link: delete br-mgmt (bridge stp off)\n",
                "nothing was changed: pass --prune to let go of these",
            ]) {
                assert!(err.contains(s), "{what}: no {s:?} in:\n{err}");
            }
            unchanged(what);
        };

        // (a) A mistyped label selects nothing.
        let out = host.plumber(&node, &["--node-labels", TYPO]);
        let unmatched = "  template node: nodeSelector node-role.kubernetes.io/worker= \
                         does not match (no label node-role.kubernetes.io/worker)\n";
        let says = [
            "no template selects this node (labels node-role.kubernetes.io/wroker=)\n",
            unmatched,
            GONE_FILE,
            GONE_ADDRESS,
        ];
        refused("a typo", &out, &says);
        // (b) An empty file.
        let empty = host.dir.path().join("empty.yaml");
        fs::write(&empty, "").unwrap();
        let out = host.plumber(&empty, &["--node-labels", WORKER]);
        let says = [
            "no template selects this node (labels node-role.kubernetes.io/worker=); \
             the files given hold no templates\n",
            GONE_FILE,
            GONE_ADDRESS,
        ];
        refused("an empty file", &out, &says);
        // (c) Another file: its template is selected, node's is not given.
        let other = host.template(
            "other",
            1,
            "  interfaceConfig:\n    - name: a0\n      mtu: 1400\n",
        );
        let out = host.plumber(&other, &["--node-labels", WORKER]);
        refused(
            "another file",
            &out,
            &[
                "template node applied before and not selected now (selected: other)\n",
                "  template node: not in the files given\n",
            ],
        );
        // The same without --node-labels (every template given is used).
        refused("another file, no labels", &host.plumber(&other, &[]), &[]);

        // An entry dropped from a template that is still selected is let go without --prune.
        let fewer = host.template("node", 2, &NODE.replace(A0, ""));
        assert_code(&host.plumber(&fewer, &["--node-labels", WORKER]), 0);
        assert!(cidrs(&discover(), "a0").is_empty());
        let node = host.template("node", 3, NODE);
        assert_code(&host.plumber(&node, &["--node-labels", WORKER]), 0);
        assert_eq!(cidrs(&discover(), "a0"), ["10.9.0.2/24"]);

        // (d) With --prune, the typo lets go of everything node made, as asked.
        let out = host.plumber(&node, &["--node-labels", TYPO, "--prune"]);
        assert_code(&out, 0);
        assert!(
            text(&out).0.contains("(templates: none)"),
            "{}",
            text(&out).0
        );
        let s = discover();
        assert!(!s.links.contains_key("br-mgmt"));
        assert_eq!(s.links["a1"].controller, None);
        assert!(cidrs(&s, "a0").is_empty());
        assert!(!s.routes.iter().any(|r| r.dst.to_string() == "10.50.0.0/16"));
        assert!(host.file("/etc/netplan/60-plumber.yaml").is_none());
        // Nothing is applied now: selecting nothing again is nothing to do.
        let again = host.plumber(&node, &["--node-labels", TYPO]);
        assert_code(&again, 0);
        assert_eq!(text(&again).0, "plumber: nothing to do (templates: none)\n");
    });
}

#[test]
fn a_dry_run_marks_what_is_let_go_and_shows_the_refusal() {
    in_netns!(
        "a_dry_run_marks_what_is_let_go_and_shows_the_refusal",
        || {
            veth("a0", "a1");
            settled(&["a0", "a1"]);
            let host = Host::new(UBUNTU);
            let node = host.template("node", 1, NODE);
            assert_code(&host.plumber(&node, &["--node-labels", WORKER]), 0);
            let files = host.tree();
            let state = yaml(&settled(&["a0", "a1", "br-mgmt"]));
            let let_go = [
                "# distro ubuntu, templates: (none select this node)",
                "let go: template node (applied before, not selected now)",
                "let go: file: remove /etc/netplan/60-plumber.yaml",
                "let go: link: remove address 10.9.0.2/24 from a0",
                "let go: link: release a1 from br-mgmt",
                "let go: link: delete br-mgmt (bridge stp off)",
            ];
            // Without --prune: the plan, then the refusal the apply would meet.
            let dry = host.plumber(&node, &["--dry-run", "--node-labels", TYPO]);
            assert_code(&dry, 1);
            let (plan, err) = text(&dry);
            assert_eq!(plan.lines().collect::<Vec<_>>(), let_go, "{plan}");
            assert!(
                err.contains(
                    "no template selects this node (labels node-role.kubernetes.io/wroker=)"
                ) && err.contains("--prune"),
                "{err}"
            );
            // With --prune: the same plan, and no refusal.
            let dry = host.plumber(&node, &["--dry-run", "--node-labels", TYPO, "--prune"]);
            assert_code(&dry, 0);
            let (plan, err) = text(&dry);
            assert_eq!(plan.lines().collect::<Vec<_>>(), let_go, "{plan}");
            assert_eq!(err, "");
            // An entry dropped from a selected template is marked too; nothing is refused.
            let fewer = host.template("node", 2, &NODE.replace(A0, ""));
            let dry = host.plumber(&fewer, &["--dry-run", "--node-labels", WORKER]);
            assert_code(&dry, 0);
            assert_eq!(
                text(&dry).0,
                "# distro ubuntu, templates: node\n\
                 file: update /etc/netplan/60-plumber.yaml\n\
                 let go: link: remove address 10.9.0.2/24 from a0\n"
            );
            assert_eq!(host.tree(), files);
            assert_eq!(yaml(&discover()), state);
        }
    );
}

/// Best effort (issue 11): a template whose `sriovConfig` entry selects no PF of this node (by
/// pfName, by pciAddr, by vendorId/deviceId alike) is applied for the rest (here an MTU on a0), and the
/// entry is listed as skipped in the output, the dry run and the record; `--strict`, or the template's
/// annotation, refuses it instead (exit 1), naming the entry and its selector, and changes nothing.
#[test]
fn an_sriov_entry_for_a_pf_the_node_lacks_is_skipped_unless_strict() {
    in_netns!(
        "an_sriov_entry_for_a_pf_the_node_lacks_is_skipped_unless_strict",
        || {
            veth("a0", "a1");
            settled(&["a0", "a1"]);
            let mtu = || discover().links["a0"].mtu;
            for (entry, selector) in [
                ("pfName: ens9f0", "pfName ens9f0"),
                ("pciAddr: \"0000:99:00.0\"", "pciAddr 0000:99:00.0"),
                (
                    "vendorId: \"15b3\"\n      deviceId: \"1017\"",
                    "vendorId 15b3 deviceId 1017",
                ),
            ] {
                ip(&["link", "set", "a0", "mtu", "1500"]);
                let host = Host::new(UBUNTU);
                // The node has a PF, and it is not the one selected.
                host.sysfs.pf("ens1f0", pf_pci(), Some(8), "i40e");
                let spec = format!(
                    "  sriovConfig:
    - {entry}
      numVfs: 4
      vfDriver: vfio-pci
  interfaceConfig:
    - name: a0
      mtu: 9000
"
                );
                let t = host.template("fleet", 1, &spec);
                let skipped = format!(
                    "template fleet spec.sriovConfig[0] ({selector}): matches no PCI NIC of this node"
                );

                // All or nothing: refused, nothing changed.
                let refusal = format!(
                    "spec.sriovConfig[0]: {selector} matches no PCI NIC of this node; strict (--strict): nothing is applied"
                );
                let out = host.plumber(&t, &["--strict"]);
                assert_code(&out, 1);
                assert!(text(&out).1.contains(&refusal), "{}", text(&out).1);
                assert_eq!(mtu(), 1500);
                assert!(host.tree().iter().all(|(p, _, _)| p == "/etc/os-release"));
                assert_eq!(host.record()["result"], "refused");
                let out = host.plumber(&t, &["--strict", "--dry-run"]);
                assert_code(&out, 1);
                assert!(text(&out).1.contains(&refusal), "{}", text(&out).1);

                // The template's annotation does the same without --strict.
                let annotated = host.dir.path().join("annotated.yaml");
                fs::write(
                    &annotated,
                    format!(
                        "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata:\n  name: fleet\n  annotations: {{plumber.k8s.pf9.io/strict: \"true\"}}\nspec:\n{spec}"
                    ),
                )
                .unwrap();
                let out = host.plumber(&annotated, &[]);
                assert_code(&out, 1);
                assert!(
                    text(&out).1.contains(&format!(
                        "spec.sriovConfig[0]: {selector} matches no PCI NIC of this node; strict (annotation plumber.k8s.pf9.io/strict)"
                    )),
                    "{}",
                    text(&out).1
                );
                assert_eq!(mtu(), 1500);

                // Best effort: the rest is applied, the entry reported.
                let out = host.plumber(&t, &["--dry-run"]);
                assert_code(&out, 0);
                assert!(
                    text(&out).0.contains(&format!("skipped: {skipped}\n")),
                    "{}",
                    text(&out).0
                );
                let out = host.plumber(&t, &[]);
                assert_code(&out, 0);
                let (stdout, _) = text(&out);
                assert!(
                    stdout.contains(&format!("skipped: {skipped}\n")),
                    "{stdout}"
                );
                assert!(
                    stdout.contains("done: set mtu of a0: 1500 -> 9000"),
                    "{stdout}"
                );
                assert_eq!(mtu(), 9000);
                // No VF was made on the PF the node has.
                assert_eq!(count_vfs(host.sysfs.root(), pf_pci()), 0);
                let rec = host.record();
                assert_eq!(rec["result"], "applied");
                assert_eq!(
                    rec["skipped"],
                    serde_json::json!([{
                        "template": "fleet",
                        "path": "spec.sriovConfig[0]",
                        "selector": selector,
                        "reason": "matches no PCI NIC of this node",
                    }])
                );
                // Again: nothing to do, still said.
                let out = host.plumber(&t, &[]);
                assert_code(&out, 0);
                let (stdout, _) = text(&out);
                assert!(
                    stdout.contains(&format!("skipped: {skipped}\n")),
                    "{stdout}"
                );
                assert!(stdout.contains("plumber: nothing to do"), "{stdout}");
                assert_eq!(host.record()["skipped"][0]["selector"], selector);
            }
        }
    );
}

mod closed_pipe {
    include!("../support/closed_pipe.rs");
}

#[test]
fn show_and_a_dry_run_end_quietly_on_a_closed_pipe() {
    in_netns!("show_and_a_dry_run_end_quietly_on_a_closed_pipe", || {
        // Enough links that each JSON (the HostNetwork, the plan) outgrows the pipe's 64 KiB buffer
        // after the reader has gone.
        let mut spec = String::from("  interfaceConfig:\n");
        for i in 0..300 {
            sh(&format!("link add q{i} type veth peer name r{i}"));
            spec += &format!(
                "    - name: q{i}\n      mtu: 9000\n      ipv4: {{address: [10.{}.{}.1/24]}}\n",
                i / 250,
                i % 250
            );
        }
        let host = Host::new(UBUNTU);
        let t = host.template("net", 1, &spec);
        for args in [
            vec!["show".to_string(), "-o".into(), "json".into()],
            [
                "apply",
                "--dry-run",
                "-o",
                "json",
                "--node-name",
                "node-1",
                "--root",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain([
                host.root().display().to_string(),
                "--sysfs".into(),
                host.sysfs.root().display().to_string(),
                "-f".into(),
                t.display().to_string(),
            ])
            .collect(),
        ] {
            let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("plumber"));
            c.args(&args);
            closed_pipe::ends_quietly_on_a_closed_pipe(c, 1);
        }
    });
}

/// `plumber apply -f` reads input as `plumber-render` does (plumber_render::read_input): a file named
/// on the command line that holds only other kinds is refused before the node is looked at, and a
/// directory's other kinds are notes (both checked in detail in tests/render/input.rs).
#[test]
fn a_file_of_other_kinds_is_refused_and_a_directory_s_are_notes() {
    let host = Host::new(UBUNTU);
    let dir = host.dir.path().join("manifests");
    fs::create_dir(&dir).unwrap();
    let cm = dir.join("cm.yaml");
    fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    )
    .unwrap();
    let out = host.plumber(&cm, &[]);
    assert_code(&out, 1);
    let (_, err) = text(&out);
    assert!(
        err.contains("cm.yaml: holds no HostNetworkTemplate (#1 is a ConfigMap)"),
        "{err}"
    );
    assert!(host.tree().iter().all(|(p, _, _)| p == "/etc/os-release"));
    // Next to a template, the ConfigMap is a note (a dry run: nothing is changed).
    fs::write(
        dir.join("net.yaml"),
        "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {name: net}\nspec:\n  interfaceConfig:\n    - {name: plumber-nx0, mtu: 1400}\n",
    )
    .unwrap();
    let out = host.plumber(&dir, &["--dry-run"]);
    let (_, err) = text(&out);
    let note = format!(
        "plumber: note: {}#1: kind ConfigMap is not a HostNetworkTemplate; skipped\n",
        cm.display()
    );
    assert!(err.starts_with(&note), "{err}");
}

/// The comprehensive example of HostPlumber's README at luigi's HEAD makes `eno2` an SR-IOV PF, a DPDK
/// uplink and a member of a kernel OVS bond at once (`tests/bad/hostplumber-head-eno2-three-roles.yaml`,
/// which the renderer's bad-input corpus refuses too): `plumber apply` refuses it for that contradiction,
/// naming every role, and changes nothing, on a node whose eno2 is a real SR-IOV PF.
#[test]
fn hostplumbers_head_example_with_eno2_in_three_roles_is_refused_naming_them() {
    in_netns!(
        "hostplumbers_head_example_with_eno2_in_three_roles_is_refused_naming_them",
        || {
            veth("eno2", "peer2");
            let before = yaml(&settled(&["eno2", "peer2"]));
            let host = Host::new("ID=\"rhel\"\nVERSION_ID=\"9.4\"\n");
            host.sysfs.pf("eno2", pf_pci(), Some(64), "i40e");
            let example = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/bad/hostplumber-head-eno2-three-roles.yaml");
            let tree = host.tree();
            for extra in [&["--dry-run"][..], &[][..]] {
                let out = host.plumber(&example, extra);
                assert_code(&out, 1);
                let (_, err) = text(&out);
                assert!(
                err.contains("eno2 has roles that exclude each other: an SR-IOV PF (spec.sriovConfig[0].pfName), the DPDK uplink of OVS bridge dpdk-br01 (spec.ovsConfig[1].nodeInterface), an OVS bond member of bridge ovs-bond01 (spec.ovsConfig[2].nodeInterface)"),
                "{err}"
            );
            }
            assert_eq!(host.tree(), tree, "a refusal wrote files");
            assert_eq!(
                yaml(&settled(&["eno2", "peer2"])),
                before,
                "a refusal changed links"
            );
            assert_eq!(
                count_vfs(host.sysfs.root(), pf_pci()),
                0,
                "a refusal made VFs"
            );
        }
    );
}

/// Device plugin pools end to end on a node: `plumber apply` installs the device plugin's
/// configuration with the VFs, and `plumber show` publishes each pool with exactly the VFs the device
/// plugin will advertise (its PF, its VF range, its driver); a second apply changes nothing.
#[test]
fn pools_are_installed_and_shown_with_their_vfs() {
    in_netns!("pools_are_installed_and_shown_with_their_vfs", || {
        veth("a0", "a1");
        settled(&["a0", "a1"]);
        let host = Host::new(UBUNTU);
        host.sysfs.pf("ens1f0", pf_pci(), Some(8), "i40e");
        let _kernel = FakeKernel::start(host.sysfs.root(), &[pf_pci()]);
        let t = host.template(
            "pools",
            1,
            "  sriovConfig:
    - pfName: ens1f0
      numVfs: 4
      vfDriver: vfio-pci
      resourceName: dpdk_a
      vfs:
        - id: 3
          resourceName: dpdk_b
          resourcePrefix: example.com
",
        );
        assert_code(&host.plumber(&t, &[]), 0);
        let (config, mode) = host
            .file("/etc/pcidp/config.json")
            .expect("the device plugin's configuration is installed");
        assert_eq!(mode, 0o644);
        // On the node the PF's PCI address is known: the pool names it (rootDevices), not its name.
        assert!(config.contains(&format!("\"{PF}#0-2\"")), "{config}");
        assert!(!config.contains("ens1f0#"), "{config}");
        assert_eq!(
            text(&host.plumber(&t, &["--dry-run"])).0,
            "# distro ubuntu, templates: pools\n# nothing to do\n"
        );
        let show = assert_cmd::Command::cargo_bin("plumber")
            .unwrap()
            .args(["show", "--node-name", "node-1", "--root"])
            .arg(host.root())
            .arg("--sysfs")
            .arg(host.sysfs.root())
            .output()
            .unwrap();
        assert!(
            show.status.success(),
            "{}",
            String::from_utf8_lossy(&show.stderr)
        );
        let hn = plumber_render::inventory::HostNetwork::parse(
            &String::from_utf8_lossy(&show.stdout),
            "show",
        )
        .unwrap();
        let got: Vec<(String, Vec<String>)> = hn
            .status
            .pools
            .iter()
            .map(|p| (p.resource.clone(), p.devices.clone()))
            .collect();
        let vfs = |r: std::ops::Range<u32>| r.map(|k| vf_pci(pf_pci(), k).to_string()).collect();
        assert_eq!(
            got,
            vec![
                ("example.com/dpdk_b".to_string(), vfs(3..4)),
                ("intel.com/dpdk_a".to_string(), vfs(0..3)),
            ]
        );
    });
}
/// On a RHEL 8 node HostPlumber ran on, its `ifcfg-<vlan>` file (exactly its four lines) for a VLAN a
/// template names is replaced by plumber's (the dry run names the update, the apply makes it; files
/// only), and
/// its file for a VLAN no template names stays as it was: not plumber's, not removed.
#[test]
fn hostplumbers_vlan_file_is_replaced_on_rhel8() {
    in_netns!("hostplumbers_vlan_file_is_replaced_on_rhel8", || {
        veth("a0", "a1");
        let host = Host::new("ID=rhel\nVERSION_ID=\"8.9\"\n");
        let scripts = host.root().join("etc/sysconfig/network-scripts");
        fs::create_dir_all(&scripts).unwrap();
        let theirs = |vlan: &str| format!("DEVICE={vlan}\nBOOTPROTO=none\nONBOOT=yes\nVLAN=yes\n");
        fs::write(scripts.join("ifcfg-a0.100"), theirs("a0.100")).unwrap();
        fs::write(scripts.join("ifcfg-a0.200"), theirs("a0.200")).unwrap();
        let t = host.template(
            "vlans",
            1,
            "  interfaceConfig:\n    - name: a0\n      vlan:\n        - id: 100\n",
        );
        // The files only: the VLAN itself needs 8021q, which not every test kernel has.
        let dry = host.plumber(&t, &["--dry-run", "--files-only"]);
        assert_code(&dry, 0);
        let (out, _) = text(&dry);
        assert!(
            out.contains("/etc/sysconfig/network-scripts/ifcfg-a0.100"),
            "{out}"
        );
        assert_eq!(
            fs::read_to_string(scripts.join("ifcfg-a0.100")).unwrap(),
            theirs("a0.100")
        );
        assert_code(&host.plumber(&t, &["--files-only"]), 0);
        let (ours, _) = host
            .file("/etc/sysconfig/network-scripts/ifcfg-a0.100")
            .unwrap();
        assert!(
            ours.starts_with("# Generated by plumber-render") && ours.contains("VLAN_ID=100"),
            "{ours}"
        );
        assert_eq!(
            fs::read_to_string(scripts.join("ifcfg-a0.200")).unwrap(),
            theirs("a0.200")
        );
    });
}

/// A node HostPlumber configured: its OVS bridges (made as its controller made them, `add-br` and
/// `add-port BRIDGE IFACE`, with `mtu_request` on the bridge's own interface) are adopted, not
/// refused nor re-created, by the first apply of a template that names them: the same rows, nothing
/// deleted (only the empty `datapath_type` is said: `system`), and `runtime.json` records them as plumber's, so that a template that stops naming one
/// later lets it go (HostPlumber's finalizer did that). A HostPlumber bridge no template names stays
/// unowned and untouched.
#[test]
fn hostplumbers_ovs_bridges_are_adopted_by_the_first_apply_naming_them() {
    use crate::ovs::ovsdb_fixture::Ovsdb;
    in_netns!(
        "hostplumbers_ovs_bridges_are_adopted_by_the_first_apply_naming_them",
        || {
            veth("a0", "a1");
            settled(&["a0", "a1"]);
            let db = Ovsdb::start();
            let sock = db.sock.display().to_string();
            db.vsctl(&["add-br", "br-hp"]);
            db.vsctl(&["add-port", "br-hp", "a1"]);
            db.vsctl(&["set", "interface", "br-hp", "mtu_request=9000"]);
            db.vsctl(&["add-br", "br-left"]);
            db.vsctl(&["add-port", "br-left", "eno9"]);
            let host = Host::new(UBUNTU);
            let owned = || -> serde_json::Value {
                let p = host.root().join("var/lib/plumber/runtime.json");
                serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
            };
            let ovs = "  ovsConfig:\n    - bridgeName: br-hp\n      nodeInterface: a1\n";
            let rest = "  interfaceConfig:\n    - name: a0\n      mtu: 1500\n";
            let t = host.template("ovs", 1, &format!("{ovs}{rest}"));
            let uuids = || {
                [
                    ["bridge", "br-hp"],
                    ["port", "a1"],
                    ["interface", "a1"],
                    ["interface", "br-hp"],
                ]
                .map(|[table, row]| db.get(&[table, row, "_uuid"]))
            };
            let before = uuids();
            assert!(before.iter().all(|u| !u.is_empty()), "{before:?}");
            let out = host.plumber(&t, &["--ovsdb-socket", &sock]);
            assert_code(&out, 0);
            let (said, _) = text(&out);
            // HostPlumber's add-br left datapath_type empty (OVS's system default): plumber says it.
            assert!(
                said.contains("done: set bridge br-hp datapath_type \"\" -> system")
                    && !said.contains("add ")
                    && !said.contains("delete "),
                "{said}"
            );
            assert_eq!(uuids(), before, "the same rows: nothing re-created");
            assert_eq!(db.get(&["interface", "br-hp", "mtu_request"]), "9000");
            assert_eq!(owned()["ovsBridges"], serde_json::json!(["br-hp"]));
            assert_eq!(owned()["ovsPorts"], serde_json::json!([["br-hp", "a1"]]));

            // The template stops naming it: plumber lets it go, as HostPlumber's finalizer did; the
            // bridge no template named is still there.
            let t = host.template("ovs", 2, rest);
            let out = host.plumber(&t, &["--ovsdb-socket", &sock]);
            assert_code(&out, 0);
            assert!(
                text(&out).0.contains("delete bridge br-hp"),
                "{}",
                text(&out).0
            );
            assert_eq!(db.vsctl(&["list-br"]).trim(), "br-left");
            assert_eq!(db.port_interfaces("eno9"), ["eno9"]);
        }
    );
}

/// The published status (what `plumber show` prints) leaves out what the kernel derives by itself on
/// every IPv6 link: the `fe80::/64` route and, in `links`, the link-local address. A NIC keeps its
/// link-local address in `interfaceStatus`, as HostPlumber published it; any other `fe80::` route (one
/// someone added) is listed.
#[test]
fn show_leaves_out_the_kernel_s_link_local_routes_and_link_addresses() {
    in_netns!(
        "show_leaves_out_the_kernel_s_link_local_routes_and_link_addresses",
        || {
            veth("ens1f0", "peer0");
            // The kernel adds each link-local address, and its fe80::/64 route, after carrier:
            // wait for the addresses (its own state), then for the routes in the same way.
            settled(&["ens1f0", "peer0"]);
            sh("address add 2001:db8::5/64 dev peer0");
            sh("route add fe80::/64 dev peer0 table 100");
            let start = std::time::Instant::now();
            while discover()
                .routes
                .iter()
                .filter(|r| r.dst.to_string() == "fe80::/64" && r.table == 254)
                .count()
                < 2
            {
                assert!(start.elapsed() < std::time::Duration::from_secs(5));
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let host = Host::new(UBUNTU);
            host.sysfs.pf(
                "ens1f0",
                PciAddr::parse("0000:01:00.0").unwrap(),
                None,
                "i40e",
            );
            let show = assert_cmd::Command::cargo_bin("plumber")
                .unwrap()
                .args(["show", "-o", "json", "--node-name", "node-1", "--sysfs"])
                .arg(host.sysfs.root())
                .output()
                .unwrap();
            assert!(show.status.success(), "{show:?}");
            let hn: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
            let s = &hn["status"];
            let link = |name: &str| {
                s["links"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|l| l["name"] == name)
                    .unwrap()
                    .clone()
            };
            assert_eq!(
                link("peer0")["ipv6"]["address"],
                serde_json::json!(["2001:db8::5/64"])
            );
            assert!(link("ens1f0").get("ipv6").is_none(), "{s}");
            let nic = &s["interfaceStatus"][0];
            assert_eq!(nic["pfName"], "ens1f0");
            let lla = nic["ipv6"]["address"][0].as_str().unwrap();
            assert!(lla.starts_with("fe80::"), "{nic}");
            let v6: Vec<String> = s["routes"]["ipv6"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| format!("{} {} {}", r["dev"], r["dst"], r["table"]))
                .collect();
            assert!(
                v6.contains(&"\"peer0\" \"2001:db8::/64\" null".to_string()),
                "{v6:?}"
            );
            assert!(
                v6.contains(&"\"peer0\" \"fe80::/64\" 100".to_string()),
                "{v6:?}"
            );
            assert_eq!(
                v6.iter().filter(|r| r.contains("fe80::/64")).count(),
                1,
                "{v6:?}"
            );
        }
    );
}
