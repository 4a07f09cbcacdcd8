//! `--out`, `--check`, `--diff` and fleet mode against trees that hold symlinks: every path is resolved
//! inside the directory as if it were `/` (like a chroot), so nothing outside it is ever written or read.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::common::*;

const NETPLAN: &str = "etc/netplan/60-plumber.yaml";

fn cmd() -> Command {
    Command::cargo_bin("plumber-render").unwrap()
}

fn template() -> PathBuf {
    examples_dir().join("comprehensive.yaml")
}

/// `plumber-render --distro ubuntu <mode> <dir> comprehensive.yaml`.
fn run(mode: &str, dir: &Path) -> std::process::Output {
    cmd()
        .args(["--distro", "ubuntu", mode])
        .arg(dir)
        .arg(template())
        .output()
        .unwrap()
}

fn out(dir: &Path) {
    let o = run("--out", dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A directory outside the tree, which must stay empty.
fn outside(scratch: &Path) -> PathBuf {
    let d = scratch.join("outside");
    std::fs::create_dir(&d).unwrap();
    d
}

fn assert_empty(dir: &Path) {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(entries.is_empty(), "written outside the tree: {entries:?}");
}

/// `host` (absolute) as the tree sees it: `root` + `host`.
fn inside(root: &Path, host: &Path) -> PathBuf {
    root.join(host.strip_prefix("/").unwrap())
}

/// The files the template renders, as `--out` writes them into a tree of their own.
fn reference(scratch: &Path) -> PathBuf {
    let r = scratch.join("reference");
    out(&r);
    r
}

fn copy_tree(from: &Path, to: &Path) {
    let o = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn out_resolves_an_absolute_symlink_inside_the_tree() {
    let s = scratch();
    let away = outside(s.path());
    let root = s.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    symlink(&away, root.join("etc/netplan")).unwrap();
    out(&root);
    assert_empty(&away);
    let landed = inside(&root, &away).join("60-plumber.yaml");
    let m = std::fs::symlink_metadata(&landed).unwrap();
    assert!(m.is_file(), "{landed:?}");
    assert_eq!(m.permissions().mode() & 0o7777, 0o600);
    // The link is the image's: left as it is.
    assert_eq!(std::fs::read_link(root.join("etc/netplan")).unwrap(), away);
}

#[test]
fn out_clamps_a_relative_symlink_that_climbs_out_of_the_tree() {
    let s = scratch();
    let away = outside(s.path());
    let root = s.path().join("a/root");
    std::fs::create_dir_all(&root).unwrap();
    // From root/, ../../outside is the scratch dir's outside/ on the host; inside the tree `..` stops at
    // the root, so it is root/outside.
    symlink("../../outside", root.join("etc")).unwrap();
    out(&root);
    assert_empty(&away);
    assert!(root
        .join("outside")
        .join("netplan/60-plumber.yaml")
        .is_file());
    assert!(root.join("outside/udev/rules.d").is_dir());
}

#[test]
fn out_follows_symlinks_that_stay_inside_the_tree() {
    let s = scratch();
    let root = s.path().join("root");
    // /etc -> /image/etc (absolute, as an image holds it) and /image/etc/netplan -> ../../lib/netplan.
    std::fs::create_dir_all(root.join("image/etc")).unwrap();
    std::fs::create_dir_all(root.join("lib/netplan")).unwrap();
    symlink("/image/etc", root.join("etc")).unwrap();
    symlink("../../lib/netplan", root.join("image/etc/netplan")).unwrap();
    out(&root);
    let f = root.join("lib/netplan/60-plumber.yaml");
    assert!(std::fs::symlink_metadata(&f).unwrap().is_file());
    assert!(root.join("image/etc/udev/rules.d").is_dir());
    // And the tree checks as identical through the same links.
    let c = run("--check", &root);
    assert_eq!(
        c.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&c.stdout)
    );
}

#[test]
fn out_replaces_a_final_symlink_rather_than_writing_through_it() {
    let s = scratch();
    let away = outside(s.path());
    let victim = away.join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let root = s.path().join("root");
    std::fs::create_dir_all(root.join("etc/netplan")).unwrap();
    symlink(&victim, root.join(NETPLAN)).unwrap();
    out(&root);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(std::fs::read_dir(&away).unwrap().count(), 1);
    let m = std::fs::symlink_metadata(root.join(NETPLAN)).unwrap();
    assert!(m.is_file());
    assert_eq!(m.permissions().mode() & 0o7777, 0o600);
    // No temp file left behind.
    let names: Vec<_> = std::fs::read_dir(root.join("etc/netplan"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["60-plumber.yaml"]);
}

#[test]
fn out_refuses_a_symlink_loop_naming_the_link() {
    let s = scratch();
    let root = s.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    symlink("/etc/netplan", root.join("etc/netplan")).unwrap();
    let o = run("--out", &root);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}: symlink -> /etc/netplan",
            root.join("etc/netplan").display()
        )),
        "{err}"
    );
}

#[test]
fn check_and_diff_never_read_outside_the_tree() {
    let s = scratch();
    let reference = reference(s.path());
    // Outside the tree: exactly the expected files.
    let away = outside(s.path());
    copy_tree(&reference.join("etc"), &away.join("etc"));
    let root = s.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    symlink(away.join("etc"), root.join("etc")).unwrap();
    let c = run("--check", &root);
    assert_eq!(c.status.code(), Some(2), "--check read outside the tree");
    assert!(String::from_utf8_lossy(&c.stdout).contains("differs: /etc/netplan/60-plumber.yaml"));
    let d = run("--diff", &root);
    assert_eq!(d.status.code(), Some(2), "--diff read outside the tree");
    let diff = String::from_utf8_lossy(&d.stdout);
    assert!(
        diff.contains("--- /dev/null\n+++ b/etc/netplan/60-plumber.yaml"),
        "{diff}"
    );

    // A relative link climbing out is clamped at the root the same way.
    std::fs::remove_file(root.join("etc")).unwrap();
    symlink("../outside/etc", root.join("etc")).unwrap();
    assert_eq!(run("--check", &root).status.code(), Some(2));
    assert_eq!(run("--diff", &root).status.code(), Some(2));

    // The installed file itself a symlink to an identical file outside: a symlink, not that file.
    let copy = s.path().join("copy");
    copy_tree(&reference, &copy);
    assert_eq!(run("--check", &copy).status.code(), Some(0));
    std::fs::remove_file(copy.join(NETPLAN)).unwrap();
    symlink(away.join(NETPLAN), copy.join(NETPLAN)).unwrap();
    assert_eq!(run("--check", &copy).status.code(), Some(2));
    let diff = String::from_utf8_lossy(&run("--diff", &copy).stdout).into_owned();
    // Compared as an empty file with the link's mode: every line is new.
    assert!(
        diff.contains("+++ b/etc/netplan/60-plumber.yaml\n@@ -0,0 +1,"),
        "{diff}"
    );

    // The same tree with /etc behind an absolute link that stays inside: found, identical.
    let image = s.path().join("image");
    copy_tree(&reference, &image);
    std::fs::create_dir(image.join("srv")).unwrap();
    std::fs::rename(image.join("etc"), image.join("srv/etc")).unwrap();
    symlink("/srv/etc", image.join("etc")).unwrap();
    let c = run("--check", &image);
    assert_eq!(
        c.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&c.stdout)
    );
    assert!(run("--diff", &image).stdout.is_empty());
}

#[test]
fn fleet_out_never_writes_outside_the_tree() {
    let s = scratch();
    let away = outside(s.path());
    let nodes = s.path().join("nodes.yaml");
    let mut y = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..3 {
        y.push_str(&format!(
            "  - apiVersion: v1\n    kind: Node\n    metadata:\n      name: worker-{i}\n      labels:\n        node-role.kubernetes.io/worker: \"\"\n        rack: r1\n"
        ));
    }
    std::fs::write(&nodes, y).unwrap();
    let fleet = s.path().join("fleet");
    // worker-0's /etc is an absolute link out, worker-1 is itself a link out, worker-2's network file is
    // a link to a file out.
    std::fs::create_dir_all(fleet.join("worker-0")).unwrap();
    symlink(away.join("etc"), fleet.join("worker-0/etc")).unwrap();
    symlink(&away, fleet.join("worker-1")).unwrap();
    let victim = away.join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let net2 = fleet.join("worker-2/etc/systemd/network");
    std::fs::create_dir_all(&net2).unwrap();
    symlink(&victim, net2.join("60-plumber-eno1.10.network")).unwrap();

    let o = cmd()
        .args(["--distro", "debian", "--nodes"])
        .arg(&nodes)
        .arg("--out")
        .arg(&fleet)
        .arg(repo_root().join("tests/golden/merge-priority/input.yaml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names: Vec<_> = std::fs::read_dir(&away)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["victim"], "written outside the tree");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");

    let file = "systemd/network/60-plumber-eno1.10.network";
    // worker-0: /etc resolved inside worker-0's tree.
    let w0 = inside(&fleet.join("worker-0"), &away)
        .join("etc")
        .join(file);
    assert!(std::fs::read_to_string(&w0)
        .unwrap()
        .contains("Name=eno1.10"));
    // worker-1: the node's directory resolved inside the fleet's tree.
    let w1 = inside(&fleet, &away).join("etc").join(file);
    assert!(std::fs::read_to_string(&w1)
        .unwrap()
        .contains("Name=eno1.10"));
    // worker-2: the link replaced by the file.
    let w2 = net2.join("60-plumber-eno1.10.network");
    assert!(std::fs::symlink_metadata(&w2).unwrap().is_file());
    assert!(std::fs::read_to_string(&w2)
        .unwrap()
        .contains("Name=eno1.10"));
}
