//! `plumber-link`, the helper `81-plumber-links.rules` runs for a NIC whose addresses stay with the host:
//! run under dash and bash with the arguments the rule gives it, against a fake sysfs and an `ip` that
//! logs its arguments. It sets the MTU when it differs, brings the NIC up and creates the VLANs that do
//! not exist, and touches nothing when all is as the template says; bad arguments change nothing.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use plumber_render::distro::Distro;

const SPEC: &str = "apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata:
  name: t
spec:
  interfaceConfig:
    - name: eno2
      mtu: 9000
      vlan:
        - id: 1000
        - {id: 1001, name: storage}
";

/// The rule's arguments after `$name` and the helper's text, rendered for Debian.
fn rendered() -> (Vec<String>, String) {
    let arts = plumber_render::render_sources(
        &[plumber_render::Source {
            name: "t.yaml".into(),
            text: SPEC.into(),
        }],
        &Distro::by_name("debian").unwrap(),
        None,
        None,
    )
    .unwrap();
    let rules = arts
        .iter()
        .find(|a| a.path.ends_with("81-plumber-links.rules"))
        .expect("a links rule");
    let line = rules
        .content
        .lines()
        .find(|l| l.contains("NAME==\"eno2\""))
        .unwrap();
    let args = line.split("$name ").nth(1).unwrap().trim_end_matches('"');
    let helper = arts
        .iter()
        .find(|a| a.path.ends_with("/plumber-link"))
        .expect("the helper");
    (
        args.split(' ').map(str::to_string).collect(),
        helper.content.clone(),
    )
}

/// Runs the helper with `shell` in `dir` (fake sysfs under `dir/sys`); returns the exit code and the
/// `ip` calls, one per line.
fn run(shell: &Path, dir: &Path, helper: &str, args: &[String]) -> (i32, Vec<String>) {
    let script = dir.join("plumber-link");
    std::fs::write(&script, helper).unwrap();
    let ip = dir.join("ip");
    std::fs::write(
        &ip,
        format!("#!/bin/sh\necho \"$*\" >>{}/ip.log\n", dir.display()),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&ip).status().unwrap();
    let _ = std::fs::remove_file(dir.join("ip.log"));
    let out = Command::new(shell)
        .arg(&script)
        .arg("eno2")
        .args(args)
        .env("PLUMBER_SYSFS", dir.join("sys"))
        .env("PLUMBER_IP", &ip)
        .env("PLUMBER_LOGGER", "")
        .output()
        .unwrap();
    let log = std::fs::read_to_string(dir.join("ip.log")).unwrap_or_default();
    (
        out.status.code().unwrap_or(-1),
        log.lines().map(str::to_string).collect(),
    )
}

fn nic(dir: &Path, name: &str, mtu: u32) {
    let d = dir.join("sys/class/net").join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("mtu"), format!("{mtu}\n")).unwrap();
}

#[test]
fn the_helper_sets_the_mtu_and_creates_missing_vlans_once() {
    let (args, helper) = rendered();
    assert_eq!(args, ["9000", "1000", "eno2.1000", "1001", "storage"]);
    for shell in ["dash", "bash"] {
        let shell = require_tool(shell);
        let dir = scratch();
        nic(dir.path(), "eno2", 1500);
        nic(dir.path(), "storage", 1500);
        let (code, calls) = run(&shell, dir.path(), &helper, &args);
        assert_eq!(code, 0, "{}", shell.display());
        assert_eq!(
            calls,
            [
                "link set dev eno2 mtu 9000",
                "link set dev eno2 up",
                "link add link eno2 name eno2.1000 type vlan id 1000",
            ],
            "{}: storage exists and is left as it is",
            shell.display()
        );
        // As the template says: only the (idempotent) up.
        nic(dir.path(), "eno2", 9000);
        nic(dir.path(), "eno2.1000", 9000);
        let (code, calls) = run(&shell, dir.path(), &helper, &args);
        assert_eq!((code, calls), (0, vec!["link set dev eno2 up".to_string()]));
    }
}

#[test]
fn bad_arguments_change_nothing() {
    let (_, helper) = rendered();
    let shell = require_tool("dash");
    for bad in [
        vec!["9000", "5000", "eno2.5000"],
        vec!["9000", "10", "bad name"],
        vec!["9000", "10"],
        vec!["jumbo"],
    ] {
        let dir = scratch();
        nic(dir.path(), "eno2", 1500);
        let args: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
        let (code, calls) = run(&shell, dir.path(), &helper, &args);
        assert_eq!(code, 1, "{bad:?}");
        assert!(calls.is_empty(), "{bad:?}: {calls:?}");
    }
}
