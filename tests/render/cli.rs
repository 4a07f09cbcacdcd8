//! The `plumber-render` command line, end to end.

use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt;

use crate::common::*;

fn cmd() -> Command {
    Command::cargo_bin("plumber-render").unwrap()
}

fn example(name: &str) -> std::path::PathBuf {
    examples_dir().join(name)
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let out = cmd().arg("--help").output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("--nodes nodes.yaml --inventories"), "{s}");
    assert!(
        s.contains("Exit codes: 0 ok / identical, 1 invalid input or error, 2 differences"),
        "{s}"
    );
}

#[test]
fn usage_errors_exit_1() {
    let out = cmd().arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = cmd().arg(example("vlans.yaml")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--distro is required"));
    let out = cmd()
        .args(["--distro", "windows"])
        .arg(example("vlans.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown distro \"windows\""));
}

#[test]
fn bad_node_labels_are_a_bad_command_line() {
    let out = cmd()
        .args(["--distro", "ubuntu", "--node-labels", "rack=r1,bad key=x"])
        .arg(example("vlans.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // plumber-render's code for a bad command line is 1 (2 means "differences" to --check/--diff),
    // with clap's message and its pointer to --help.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("invalid value 'rack=r1,bad key=x' for '--node-labels <LABELS>': "),
        "{err}"
    );
    assert!(err.contains("For more information, try '--help'."), "{err}");
}

#[test]
fn a_missing_file_is_named_with_its_cause_once() {
    let out = cmd()
        .args(["--distro", "ubuntu", "/nonexistent/plumber.yaml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "plumber-render: /nonexistent/plumber.yaml: No such file or directory (os error 2)\n"
    );
}

#[test]
fn review_output_names_every_file_with_its_mode() {
    let out = cmd()
        .args(["--distro", "ubuntu"])
        .arg(example("comprehensive.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("==> /etc/netplan/60-plumber.yaml (mode 0600) <=="),
        "{s}"
    );
    assert!(
        s.contains("==> /etc/udev/rules.d/81-plumber-sriov.rules (mode 0644) <=="),
        "{s}"
    );
    assert!(s.contains("eno2.1000:"), "{s}");
}

#[test]
fn stdin_and_directories_are_inputs() {
    let text = std::fs::read_to_string(example("ip-addresses.yaml")).unwrap();
    let a = cmd()
        .args(["--distro", "debian", "-"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert!(a.status.success());
    let dir = scratch();
    std::fs::copy(example("ip-addresses.yaml"), dir.path().join("x.yaml")).unwrap();
    std::fs::write(dir.path().join("ignored.txt"), "not yaml").unwrap();
    let b = cmd()
        .args(["--distro", "debian"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn out_writes_a_tree_with_modes_then_check_and_diff_agree() {
    let dir = scratch();
    let root = dir.path().join("root");
    let f = example("comprehensive.yaml");
    let w = cmd()
        .args(["--distro", "ubuntu", "--out"])
        .arg(&root)
        .arg(&f)
        .output()
        .unwrap();
    assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stderr));
    let np = root.join("etc/netplan/60-plumber.yaml");
    assert_eq!(
        std::fs::metadata(&np).unwrap().permissions().mode() & 0o7777,
        0o600
    );

    let check = |root: &std::path::Path| {
        cmd()
            .args(["--distro", "ubuntu", "--check"])
            .arg(root)
            .arg(&f)
            .output()
            .unwrap()
    };
    let diff = |root: &std::path::Path| {
        cmd()
            .args(["--distro", "ubuntu", "--diff"])
            .arg(root)
            .arg(&f)
            .output()
            .unwrap()
    };
    assert_eq!(check(&root).status.code(), Some(0));
    let d = diff(&root);
    assert_eq!(d.status.code(), Some(0));
    assert!(d.stdout.is_empty());

    // Someone edits the installed file: both notice, and the diff shows the line.
    let edited = std::fs::read_to_string(&np)
        .unwrap()
        .replace("mtu: 9000", "mtu: 1500");
    std::fs::write(&np, edited).unwrap();
    let c = check(&root);
    assert_eq!(c.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&c.stdout).contains("differs: /etc/netplan/60-plumber.yaml"));
    let d = diff(&root);
    assert_eq!(d.status.code(), Some(2));
    let s = String::from_utf8_lossy(&d.stdout);
    assert!(
        s.contains("-      mtu: 1500") && s.contains("+      mtu: 9000"),
        "{s}"
    );

    // A wrong mode alone is a difference too.
    let w = cmd()
        .args(["--distro", "ubuntu", "--out"])
        .arg(&root)
        .arg(&f)
        .output()
        .unwrap();
    assert!(w.status.success());
    std::fs::set_permissions(&np, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(check(&root).status.code(), Some(2));
    assert!(String::from_utf8_lossy(&diff(&root).stdout)
        .contains("mode /etc/netplan/60-plumber.yaml: 0644 -> 0600"));

    // Against an empty root everything is new.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let d = diff(&empty);
    assert_eq!(d.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&d.stdout).contains("--- /dev/null"));
}

#[test]
fn tar_is_reproducible_and_holds_the_files_with_modes() {
    let dir = scratch();
    let f = repo_root().join("tests/golden/ovs-bond-dpdk/input.yaml");
    let inv = repo_root().join("tests/golden/ovs-bond-dpdk/inventory.yaml");
    let mk = |p: &std::path::Path| {
        let o = cmd()
            .args(["--distro", "rhel9", "--inventory"])
            .arg(&inv)
            .arg("--tar")
            .arg(p)
            .arg(&f)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(p).unwrap()
    };
    let a = mk(&dir.path().join("a.tar"));
    let b = mk(&dir.path().join("b.tar"));
    assert_eq!(a, b, "two tarballs of the same input differ");
    let list = std::process::Command::new("tar")
        .arg("-tvf")
        .arg(dir.path().join("a.tar"))
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&list.stdout);
    assert!(
        s.contains("-rwxr-xr-x root/root") && s.contains("plumber-ovs"),
        "{s}"
    );
    assert!(
        s.contains("etc/systemd/system/multi-user.target.wants/plumber-ovs.service ->"),
        "{s}"
    );
    assert!(s.contains("1970-01-01"), "{s}");
}

#[test]
fn node_labels_select_templates() {
    let f = example("comprehensive.yaml");
    let yes = cmd()
        .args([
            "--distro",
            "debian",
            "--node-labels",
            "feature.node.kubernetes.io/network-sriov.capable=true,foo=bar",
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&yes.stdout).contains("60-plumber-eno2.1000.network"));
    let no = cmd()
        .args(["--distro", "debian", "--node-labels", "foo=bar"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(no.status.success());
    assert!(no.stdout.is_empty());
    assert!(String::from_utf8_lossy(&no.stderr).contains("nothing to render"));
}

#[test]
fn inventory_resolves_vendor_device_selectors() {
    let f = example("sriov-vendor-device.yaml");
    let dir = scratch();
    let inv = dir.path().join("inv.yaml");
    std::fs::write(
        &inv,
        "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetwork\nmetadata: {name: n1}\nstatus:\n  interfaceStatus:\n    - {pfName: ens1f0, pciAddr: \"0000:3b:00.0\", vendorId: \"8086\", deviceId: \"1528\", sriovStatus: {totalVfs: 63}}\n    - {pfName: ens1f1, pciAddr: \"0000:3b:00.1\", vendorId: \"8086\", deviceId: \"1528\", sriovStatus: {totalVfs: 63}}\n    - {pfName: eno1, pciAddr: \"0000:01:00.0\", vendorId: \"8086\", deviceId: \"1572\"}\n",
    )
    .unwrap();
    let o = cmd()
        .args(["--distro", "ubuntu", "--node-config", "--inventory"])
        .arg(&inv)
        .arg(&f)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        s.contains("name: ens1f0") && s.contains("name: ens1f1") && !s.contains("name: eno1"),
        "{s}"
    );
    // 32 VFs fit in 63; 64 would not.
    std::fs::write(
        &inv,
        std::fs::read_to_string(&inv)
            .unwrap()
            .replace("totalVfs: 63", "totalVfs: 16"),
    )
    .unwrap();
    let o = cmd()
        .args(["--distro", "ubuntu", "--inventory"])
        .arg(&inv)
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("spec.sriovConfig[0].numVfs: 32 is above the 16 VFs ens1f0 supports"));
}

#[test]
fn fleet_mode_renders_one_directory_per_node() {
    let dir = scratch();
    let nodes = dir.path().join("nodes.yaml");
    let mut y = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..6 {
        let rack = if i == 3 || i == 5 { "r2" } else { "r1" };
        y.push_str(&format!(
            "  - apiVersion: v1\n    kind: Node\n    metadata:\n      name: worker-{i}\n      labels:\n        node-role.kubernetes.io/worker: \"\"\n        rack: {rack}\n        kubernetes.io/hostname: worker-{i}\n"
        ));
    }
    std::fs::write(&nodes, y).unwrap();
    let out = dir.path().join("fleet");
    let o = cmd()
        .args(["--distro", "debian", "--nodes"])
        .arg(&nodes)
        .arg("--out")
        .arg(&out)
        .arg(repo_root().join("tests/golden/merge-priority/input.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    // r1 nodes, worker-1 (r1 plus its own address template), and the r2 nodes, whose rack template
    // conflicts with the base template: 3 distinct configurations, the r2 ones reported and not written.
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("6 nodes (3 distinct configurations)") && err.contains("2 nodes failed"),
        "{err}"
    );
    assert!(
        err.contains("node worker-3: conflict on the MTU of eno1: template base sets 1500"),
        "{err}"
    );
    let w1 = std::fs::read_to_string(
        out.join("worker-1/etc/systemd/network/60-plumber-eno1.10.network"),
    )
    .unwrap();
    assert!(w1.contains("Address=10.0.10.21/24"), "{w1}");
    let w0 = std::fs::read_to_string(
        out.join("worker-0/etc/systemd/network/60-plumber-eno1.10.network"),
    )
    .unwrap();
    assert!(!w0.contains("Address="), "{w0}");
    // eno1's addresses are the host's: its MTU comes from the udev rule, not a .network of plumber's.
    let w4 = std::fs::read_to_string(out.join("worker-4/etc/udev/rules.d/81-plumber-links.rules"))
        .unwrap();
    assert!(w4.contains("plumber-link $name 9000"), "{w4}");
    assert!(!out.join("worker-3").exists());

    // --no-write reports the same without touching the disk.
    let o = cmd()
        .args(["--distro", "debian", "--no-write", "--nodes"])
        .arg(&nodes)
        .arg(repo_root().join("tests/golden/merge-priority/input.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rendered, none written; 2 nodes failed"),
        "{err}"
    );
}

#[test]
fn examples_render_for_every_distro() {
    let o = cmd()
        .args(["--distro", "all", "--examples"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    for d in ["rhel8", "rhel9", "rhel10", "ubuntu", "debian", "flatcar"] {
        assert!(
            s.contains(&format!(
                "######## examples/comprehensive.yaml for {d} ########"
            )),
            "{d}"
        );
    }
    assert_eq!(s.matches("######## examples/").count(), 7 * 6);
}

/// Best effort (issue 12): with an inventory, an `sriovConfig` entry whose pfName, pciAddr or
/// vendorId/deviceId matches no NIC is left out the same way for the three selector kinds: a warning
/// naming the template, the entry and the selector, the rest rendered, exit 0; `--strict` (or the
/// template's annotation) makes each of them an error and renders nothing.
#[test]
fn inventory_skips_every_selector_kind_that_matches_nothing_alike() {
    let dir = scratch();
    let inv = dir.path().join("inv.yaml");
    std::fs::write(
        &inv,
        "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetwork\nmetadata: {name: n1}\nstatus:\n  interfaceStatus:\n    - {pfName: ens1f0, pciAddr: \"0000:3b:00.0\", vendorId: \"8086\", deviceId: \"1528\", sriovStatus: {totalVfs: 63}}\n",
    )
    .unwrap();
    let template = |annotation: &str| {
        format!(
            "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata:\n  name: fleet\n  annotations: {{{annotation}}}\nspec:\n  interfaceConfig:\n    - {{name: eth0, mtu: 9000}}\n  sriovConfig:\n    - {{pfName: ens9f0, numVfs: 4}}\n    - {{pciAddr: \"0000:99:00.0\", numVfs: 4}}\n    - {{vendorId: \"15b3\", deviceId: \"1017\", numVfs: 4}}\n    - {{pfName: ens1f0, numVfs: 8}}\n"
        )
    };
    let f = dir.path().join("fleet.yaml");
    std::fs::write(&f, template("")).unwrap();
    let selectors = [
        ("spec.sriovConfig[0]", "pfName ens9f0"),
        ("spec.sriovConfig[1]", "pciAddr 0000:99:00.0"),
        ("spec.sriovConfig[2]", "vendorId 15b3 deviceId 1017"),
    ];

    let o = cmd()
        .args(["--distro", "ubuntu", "--node-config", "--inventory"])
        .arg(&inv)
        .arg(&f)
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    for (path, sel) in selectors {
        assert!(
            err.contains(&format!(
                "plumber-render: warning: skipped template fleet {path} ({sel}): matches no PCI NIC of this node"
            )),
            "{err}"
        );
        assert!(out.contains(&format!("selector: \"{sel}\"")), "{out}");
    }
    // The rest is there: the PF the node has and the link.
    assert!(
        out.contains("name: ens1f0") && out.contains("eth0"),
        "{out}"
    );
    // The files render too, with the PF's rule and without the missing ones.
    let o = cmd()
        .args(["--distro", "ubuntu", "--inventory"])
        .arg(&inv)
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success());
    let files = String::from_utf8_lossy(&o.stdout);
    assert!(
        files.contains("0000:3b:00.0") && !files.contains("ens9f0"),
        "{files}"
    );
    assert!(
        !files.contains("0000:99:00.0") && !files.contains("15b3"),
        "{files}"
    );

    // --strict, or the template's own annotation: an error for each, nothing rendered.
    std::fs::write(
        dir.path().join("annotated.yaml"),
        template("plumber.k8s.pf9.io/strict: \"true\""),
    )
    .unwrap();
    for (args, file, how) in [
        (&["--strict"][..], f.clone(), "--strict"),
        (
            &[][..],
            dir.path().join("annotated.yaml"),
            "annotation plumber.k8s.pf9.io/strict",
        ),
    ] {
        let o = cmd()
            .args(["--distro", "ubuntu", "--inventory"])
            .arg(&inv)
            .args(args)
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(o.stdout.is_empty());
        for (path, sel) in selectors {
            assert!(
                err.contains(&format!(
                    "(fleet): {path}: {sel} matches no PCI NIC of this node; strict ({how}): nothing is applied"
                )),
                "{err}"
            );
        }
    }
}

/// Fleet mode skips alike, per node: nodes whose inventories list the same NICs share the SR-IOV part
/// of a merge, and each node's warning (or, with `--strict`, failure) is its own.
#[test]
fn fleet_mode_skips_per_node_and_strict_fails_each() {
    let dir = scratch();
    let nodes = dir.path().join("nodes.yaml");
    std::fs::write(
        &nodes,
        "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Node, metadata: {name: w1, labels: {a: b}}}\n  - {apiVersion: v1, kind: Node, metadata: {name: w2, labels: {a: b}}}\n",
    )
    .unwrap();
    let inv = dir.path().join("inv");
    std::fs::create_dir(&inv).unwrap();
    for n in ["w1", "w2"] {
        std::fs::write(
            inv.join(format!("{n}.yaml")),
            format!("apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetwork\nmetadata: {{name: {n}}}\nstatus:\n  interfaceStatus:\n    - {{pfName: ens1f0, pciAddr: \"0000:3b:00.0\"}}\n"),
        )
        .unwrap();
    }
    let t = dir.path().join("t.yaml");
    std::fs::write(
        &t,
        "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {name: fleet}\nspec:\n  interfaceConfig: [{name: eth0, mtu: 9000}]\n  sriovConfig: [{pfName: ens9f0, numVfs: 4}]\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        cmd()
            .args(["--distro", "ubuntu", "--no-write", "--nodes"])
            .arg(&nodes)
            .arg("--inventories")
            .arg(&inv)
            .args(extra)
            .arg(&t)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    for n in ["w1", "w2"] {
        assert!(
            err.contains(&format!("plumber-render: warning: node {n}: skipped template fleet spec.sriovConfig[0] (pfName ens9f0): matches no PCI NIC of this node")),
            "{err}"
        );
    }
    let o = run(&["--strict"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for n in ["w1", "w2"] {
        assert!(
            err.contains(&format!("plumber-render: node {n}: ")),
            "{err}"
        );
    }
    assert!(err.contains("2 nodes failed"), "{err}");
}

mod closed_pipe {
    include!("../support/closed_pipe.rs");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // `plumber-render --distro all --examples | head -c 64` (370 KB of output): the writer ends by
    // SIGPIPE as `cat` would, not with `Broken pipe` and exit 1.
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("plumber-render"));
    c.args(["--distro", "all", "--examples"]);
    closed_pipe::ends_quietly_on_a_closed_pipe(c, 64);
}

/// A profile whose network stack a fresh install does not run (Debian 12 runs ifupdown) says so on
/// standard error when it renders, and `--list-distros` says what every profile needs on the host.
#[test]
fn what_the_host_must_run_is_said() {
    let out = cmd()
        .args(["--distro", "debian"])
        .arg(example("vlans.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: debian files take effect only with systemd-networkd enabled")
            && err.contains("systemctl enable systemd-networkd"),
        "{err}"
    );
    let out = cmd()
        .args(["--distro", "ubuntu"])
        .arg(example("vlans.yaml"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("note:"));

    let out = cmd().arg("--list-distros").output().unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    for need in [
        "needs NetworkManager enabled",
        "needs netplan installed",
        "needs systemd-networkd enabled: Debian 12 installs ifupdown",
    ] {
        assert!(list.contains(need), "{need} not in:\n{list}");
    }
}

/// `--distro all` is for the bundled examples; with templates it says so. A directory of files that
/// share a template name (HostPlumber's examples do) says how to go on.
#[test]
fn distro_all_and_shared_names_say_what_to_do() {
    let out = cmd()
        .args(["--distro", "all"])
        .arg(example("vlans.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--distro all renders the bundled examples (--examples)"),
        "{err}"
    );

    let out = cmd()
        .args(["--distro", "ubuntu"])
        .arg(repo_root().join("examples"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "a cluster holds one template per name: rename one, or render the files one at a time"
        ),
        "{err}"
    );
}
