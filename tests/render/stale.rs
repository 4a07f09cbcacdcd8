//! Stale files: plumber's files in a tree that the rendering no longer contains (a VLAN dropped from a
//! template, no template selected) are differences for `--check` and `--diff`, and `--out` removes
//! them; a host's own files are never touched, a symlink is never followed out of the tree, and fleet
//! mode marks a node that fails instead of leaving its old files looking current.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use plumber_render::distro::Distro;
use plumber_render::owned::owned_files;
use plumber_render::rooted::Root;

use crate::common::*;

const NM: &str = "etc/NetworkManager/system-connections";
const VLAN_999: &str = "/etc/NetworkManager/system-connections/plumber-eno1.999.nmconnection";

fn cmd() -> Command {
    Command::cargo_bin("plumber-render").unwrap()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `plumber-render --distro rhel9 <args> <templates>`.
fn run(args: &[&str], root: &Path, templates: &[&Path]) -> Run {
    let o = cmd()
        .args(["--distro", "rhel9"])
        .args(args)
        .arg(root)
        .args(templates)
        .output()
        .unwrap();
    Run {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn vlans() -> PathBuf {
    examples_dir().join("vlans.yaml")
}

/// examples/vlans.yaml without VLAN 999 (eno1 and its only VLAN gone).
fn shrunk(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(vlans()).unwrap();
    let cut = text
        .find("    - name: eno1\n")
        .expect("vlans.yaml names eno1");
    let p = dir.join("shrunk.yaml");
    std::fs::write(&p, &text[..cut]).unwrap();
    assert!(!text[..cut].contains("999"));
    p
}

/// The tree `--out` writes for examples/vlans.yaml.
fn rendered_tree(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    let r = run(&["--out"], &root, &[&vlans()]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(root.join(&VLAN_999[1..]).exists());
    root
}

#[test]
fn a_dropped_vlan_is_stale_for_check_diff_and_out() {
    let s = scratch();
    let root = rendered_tree(s.path());
    let shrunk = shrunk(s.path());

    let r = run(&["--check"], &root, &[&shrunk]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, format!("stale: {VLAN_999}\n"));
    assert!(
        r.stderr
            .contains("render with --out ROOT, which removes them"),
        "{}",
        r.stderr
    );

    let r = run(&["--diff"], &root, &[&shrunk]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    let head = format!("--- a{VLAN_999}\n+++ /dev/null\n@@ -1,24 +0,0 @@\n");
    assert!(r.stdout.starts_with(&head), "{}", r.stdout);
    assert!(r.stdout.contains("\n-id=999\n"), "{}", r.stdout);
    assert!(r.stdout.contains("\n-autoconnect=true\n"), "{}", r.stdout);

    let r = run(&["--out"], &root, &[&shrunk]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("plumber-render: removed stale {VLAN_999}\n")),
        "{}",
        r.stderr
    );
    assert!(!root.join(&VLAN_999[1..]).exists());
    assert!(root
        .join(NM)
        .join("plumber-eno2.1000.nmconnection")
        .exists());
    let r = run(&["--check"], &root, &[&shrunk]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), ""), "{}", r.stderr);
}

#[test]
fn with_no_template_selected_every_plumber_file_is_stale() {
    let s = scratch();
    let root = rendered_tree(s.path());
    let labels = ["--node-labels", "rack=r9"];

    let r = run(&[&labels[..], &["--check"]].concat(), &root, &[&vlans()]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    let stale: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(stale.len(), 4, "{}", r.stdout);
    assert!(stale
        .iter()
        .all(|l| l.starts_with("stale: /etc/NetworkManager/")));
    assert!(
        r.stderr.contains("nothing to render (no template selected"),
        "{}",
        r.stderr
    );

    let r = run(&[&labels[..], &["--diff"]].concat(), &root, &[&vlans()]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout.matches("+++ /dev/null\n").count(),
        4,
        "{}",
        r.stdout
    );

    let r = run(&[&labels[..], &["--out"]].concat(), &root, &[&vlans()]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("removed stale /etc/").count(),
        4,
        "{}",
        r.stderr
    );
    assert!(read_tree(&root).is_empty(), "{:?}", read_tree(&root));
}

#[test]
fn a_hosts_files_beside_plumbers_are_never_reported_or_removed() {
    let s = scratch();
    let root = rendered_tree(s.path());
    let nm = root.join(NM);
    // The host's own profile, one with plumber's naming but not its header, a copy that lost its
    // header, and an ifcfg file written by the installer (rhel9 reads ifcfg too).
    std::fs::write(nm.join("eno1.nmconnection"), "[connection]\nid=eno1\n").unwrap();
    std::fs::write(
        nm.join("plumber-eno3.nmconnection"),
        "[connection]\nid=mine\n",
    )
    .unwrap();
    let ifcfg = root.join("etc/sysconfig/network-scripts");
    std::fs::create_dir_all(&ifcfg).unwrap();
    std::fs::write(ifcfg.join("ifcfg-eth0"), "DEVICE=eth0\n").unwrap();
    let before = read_tree(&root);

    let r = run(&["--check"], &root, &[&vlans()]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), ""), "{}", r.stderr);
    let r = run(&["--diff"], &root, &[&vlans()]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), ""), "{}", r.stderr);
    // Even with nothing of plumber's left to render.
    let empty = s.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let r = run(&["--out"], &root, &[&empty]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let after = read_tree(&root);
    for mine in [
        "/etc/NetworkManager/system-connections/eno1.nmconnection",
        "/etc/NetworkManager/system-connections/plumber-eno3.nmconnection",
        "/etc/sysconfig/network-scripts/ifcfg-eth0",
    ] {
        assert_eq!(after.get(mine), before.get(mine), "{mine}");
    }
    assert_eq!(after.len(), 3, "{after:?}");
}

#[test]
fn removal_never_follows_a_symlink_out_of_the_tree() {
    let s = scratch();
    let outside = s.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    // Files of plumber's outside the tree, with the name of the stale one.
    let reference = rendered_tree(s.path());
    let stale_text = std::fs::read(reference.join(&VLAN_999[1..])).unwrap();
    std::fs::write(outside.join("plumber-eno1.999.nmconnection"), &stale_text).unwrap();
    let target = outside.join("target.nmconnection");
    std::fs::write(&target, &stale_text).unwrap();

    // 1. The profiles directory a symlink out of the tree (absolute, and relative climbing above it):
    //    resolved inside the tree, so the outside file is neither reported nor removed.
    let shrunk = shrunk(s.path());
    for (i, link) in [outside.clone(), PathBuf::from("../../../../../../outside")]
        .iter()
        .enumerate()
    {
        let root = s.path().join(format!("root{i}"));
        std::fs::create_dir_all(root.join("etc/NetworkManager")).unwrap();
        symlink(link, root.join(NM)).unwrap();
        let r = run(&["--check"], &root, &[&shrunk]);
        assert!(!r.stdout.contains("stale:"), "{}", r.stdout);
        let r = run(&["--out"], &root, &[&shrunk]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert!(!r.stderr.contains("removed stale"), "{}", r.stderr);
        assert!(outside.join("plumber-eno1.999.nmconnection").exists());
    }

    // 2. A symlink with the stale file's name, to a file of plumber's outside: not plumber's file (a
    //    symlink has no header), not followed, not removed.
    let root = s.path().join("root");
    std::fs::rename(&reference, &root).unwrap();
    let link = root.join(&VLAN_999[1..]);
    std::fs::remove_file(&link).unwrap();
    symlink(&target, &link).unwrap();
    let r = run(&["--check"], &root, &[&shrunk]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), ""), "{}", r.stderr);
    let r = run(&["--out"], &root, &[&shrunk]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(std::fs::read(&target).unwrap(), stale_text);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 2);
}

/// Every file plumber renders, for every golden case and distro, is one `owned_files` recognises: the
/// naming rules follow the renderers.
#[test]
fn every_rendered_file_is_recognised_as_plumbers() {
    let s = scratch();
    for case in cases() {
        for distro in Distro::all() {
            let arts = render_case(&case, &distro);
            let root = s.path().join(format!("{}-{}", case.name, distro.name));
            write_tree(&root, &arts);
            let found: Vec<String> = owned_files(&Root::open(&root).unwrap(), &distro)
                .unwrap()
                .into_iter()
                .map(|f| f.path)
                .collect();
            let want: Vec<String> = arts.iter().map(|a| a.path.clone()).collect();
            assert_eq!(found, want, "case {} for {}", case.name, distro.name);
        }
    }
}

const NODES: &str = "apiVersion: v1
kind: List
items:
";

fn nodes_yaml(dir: &Path, names: &[&str]) -> PathBuf {
    let mut y = String::from(NODES);
    for n in names {
        y.push_str(&format!(
            "  - kind: Node\n    metadata:\n      name: {n}\n      labels:\n        \
             feature.node.kubernetes.io/network-sriov.capable: \"true\"\n        \
             kubernetes.io/hostname: {n}\n"
        ));
    }
    let p = dir.join(format!("nodes-{}.yaml", names.join("-")));
    std::fs::write(&p, y).unwrap();
    p
}

/// Two templates that disagree on w2's eno2 MTU: w2 fails to render.
fn conflict(dir: &Path) -> PathBuf {
    let mut y = String::new();
    for (name, mtu) in [("w2-a", 1500), ("w2-b", 9000)] {
        y.push_str(&format!(
            "---\napiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata:\n  name: {name}\n\
             spec:\n  nodeSelector:\n    kubernetes.io/hostname: w2\n  interfaceConfig:\n    \
             - name: eno2\n      mtu: {mtu}\n"
        ));
    }
    let p = dir.join("conflict.yaml");
    std::fs::write(&p, y).unwrap();
    p
}

fn fleet(nodes: &Path, out: &Path, templates: &[&Path]) -> Run {
    let o = cmd()
        .args(["--distro", "rhel9", "--nodes"])
        .arg(nodes)
        .arg("--out")
        .arg(out)
        .args(templates)
        .output()
        .unwrap();
    Run {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn fleet_mode_removes_stale_files_and_marks_nodes_that_fail_or_are_gone() {
    let s = scratch();
    let out = s.path().join("fleet");
    let both = nodes_yaml(s.path(), &["w1", "w2"]);
    let r = fleet(&both, &out, &[&vlans()]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let w2_before = read_tree(&out.join("w2"));
    assert!(w2_before.contains_key(VLAN_999));

    // VLAN 999 dropped for everyone, and w2's templates now conflict.
    let shrunk = shrunk(s.path());
    let conflict = conflict(s.path());
    let r = fleet(&both, &out, &[&shrunk, &conflict]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("node w1: removed stale {VLAN_999}")),
        "{}",
        r.stderr
    );
    assert!(!out.join("w1").join(&VLAN_999[1..]).exists());
    assert!(!out.join("w1/RENDER-FAILED").exists());
    // w2: its files as they were, and the marker saying they are not current.
    assert!(r.stderr.contains("node w2: conflict on"), "{}", r.stderr);
    assert!(
        r.stderr.contains("w2/RENDER-FAILED says so"),
        "{}",
        r.stderr
    );
    let mut w2 = read_tree(&out.join("w2"));
    let marker = w2.remove("/RENDER-FAILED").expect("w2 marked as failed");
    assert!(marker.contains("from an earlier run"), "{marker}");
    assert!(marker.contains("conflict on"), "{marker}");
    assert_eq!(w2, w2_before);

    // w2 no longer listed: reported, left alone.
    let w1_only = nodes_yaml(s.path(), &["w1"]);
    let r = fleet(&w1_only, &out, &[&shrunk]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("node w2 is not in")
            && r.stderr.contains("its files are from an earlier run"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("node w1 is not in"), "{}", r.stderr);
    assert!(out.join("w2/RENDER-FAILED").exists());

    // w2 back and rendering: marker and stale file gone.
    let r = fleet(&both, &out, &[&shrunk]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("node w2: removed stale {VLAN_999}")),
        "{}",
        r.stderr
    );
    assert!(!out.join("w2/RENDER-FAILED").exists());
    assert_eq!(read_tree(&out.join("w2")), read_tree(&out.join("w1")));
    assert!(!r.stderr.contains("is not in"), "{}", r.stderr);
    let _ = r.stdout;
}
