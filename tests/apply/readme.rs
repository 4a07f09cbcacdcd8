//! The README's transcripts of `plumber` on a node, run on one: a network namespace, a sysfs fixture, a
//! private OVSDB and a root directory stand for the node, and the README's command gets `--root`,
//! `--sysfs` and `--ovsdb-socket` appended (on a real node they default to `/`, `/sys` and the system
//! OVSDB). What it prints must be what the README shows. The `plumber-render` transcripts are run by
//! tests/render/readme.rs, which also fails on a transcript no test runs.

use std::fs;
use std::path::Path;

use plumber_render::model::PciAddr;

use crate::common::*;
use crate::in_netns;
use crate::ovs::ovsdb_fixture::Ovsdb;
use crate::sysfs_fixture::Fixture;

mod transcript {
    include!("../support/readme.rs");
}
use transcript::*;

/// The README's transcript whose first command starts with `prefix`.
fn block(prefix: &str) -> Vec<Step> {
    let mut found: Vec<_> = transcripts()
        .into_iter()
        .filter(|b| b[0].command.starts_with(prefix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "README.md: transcripts starting with `{prefix}`"
    );
    found.remove(0)
}

/// A scratch working directory that sees the repository's examples, and the node's root in it.
fn workdir(os_release: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let top = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::os::unix::fs::symlink(top.join("examples"), dir.path().join("examples")).unwrap();
    let root = host_root(&dir.path().join("node"), os_release);
    (dir, root)
}

/// HostPlumber's comprehensive example, dry run, on a RHEL 9 node whose eno2 is an i40e PF.
#[test]
fn the_readme_dry_run_of_the_comprehensive_example() {
    in_netns!("the_readme_dry_run_of_the_comprehensive_example", || {
        veth("eno2", "eno2peer");
        settled(&["eno2", "eno2peer"]);
        let (dir, root) = workdir("ID=rhel\nVERSION_ID=\"9.4\"\n");
        let sysfs = Fixture::new();
        sysfs.pf(
            "eno2",
            PciAddr::parse("0000:03:00.0").unwrap(),
            Some(8),
            "i40e",
        );
        let db = Ovsdb::start();
        let steps = block("plumber apply --dry-run");
        assert_eq!(steps.len(), 1);
        let cmd = format!(
            "{} --root {} --sysfs {} --ovsdb-socket {}",
            steps[0].command,
            root.display(),
            sysfs.root().display(),
            db.sock.display()
        );
        compare(&steps[0], &run_shell(&cmd, dir.path())).unwrap_or_else(|d| panic!("{d}"));
    });
}

/// The selection guard's refusal: `node.yaml` (template `node`, for `node-role.kubernetes.io/worker`,
/// with bridge br-mgmt of a1) was applied; the README's command mistypes the label.
#[test]
fn the_readme_selection_mistake_is_refused() {
    in_netns!("the_readme_selection_mistake_is_refused", || {
        veth("a0", "a1");
        settled(&["a0", "a1"]);
        let (dir, root) = workdir("ID=ubuntu\nVERSION_ID=\"24.04\"\n");
        let sysfs = Fixture::new();
        fs::write(
            dir.path().join("node.yaml"),
            "apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata: {name: node}
spec:
  nodeSelector:
    node-role.kubernetes.io/worker: \"\"
  bridgeConfig:
    - name: br-mgmt
      members: [a1]
      stp: false
",
        )
        .unwrap();
        let node = |cmd: &str| {
            run_shell(
                &format!(
                    "{cmd} --root {} --sysfs {}",
                    root.display(),
                    sysfs.root().display()
                ),
                dir.path(),
            )
        };
        let first =
            node("plumber apply -f node.yaml --node-labels node-role.kubernetes.io/worker=");
        assert!(first.contains("applied"), "{first}");
        let steps = block("plumber apply -f node.yaml");
        assert_eq!(steps.len(), 1);
        compare(&steps[0], &node(&steps[0].command)).unwrap_or_else(|d| panic!("{d}"));
    });
}
