//! `plumber-render --networks`: the NetworkAttachmentDefinitions of every template's pools as YAML,
//! compared with `tests/networks/expected.yaml` (`PLUMBER_BLESS=1` rewrites it), read back by a YAML
//! reader as the objects, and a conflict between two declarations refused naming both.

use assert_cmd::Command;

use crate::common::*;

#[test]
fn networks_are_printed_as_yaml_objects() {
    let dir = repo_root().join("tests/networks");
    let r = Command::cargo_bin("plumber-render")
        .unwrap()
        .arg("--networks")
        .arg(dir.join("input.yaml"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let got = String::from_utf8(r.stdout).unwrap();
    let expected = dir.join("expected.yaml");
    if bless() {
        std::fs::write(&expected, &got).unwrap();
    }
    let want = std::fs::read_to_string(&expected).unwrap();
    assert_eq!(
        got, want,
        "--networks output differs from tests/networks/expected.yaml (PLUMBER_BLESS=1 rewrites it)"
    );
    // Three objects: sriov-net-a in team-a (from both templates) and team-b, dpdk-b in default.
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&got)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let names: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["metadata"]["namespace"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        ["default/dpdk-b", "team-a/sriov-net-a", "team-b/sriov-net-a"]
    );
    assert!(
        got.contains("from HostNetworkTemplate gpu-workers, workers."),
        "{got}"
    );
}

#[test]
fn two_declarations_of_one_network_that_differ_are_refused() {
    let dir = repo_root().join("tests/networks");
    let text = std::fs::read_to_string(dir.join("input.yaml"))
        .unwrap()
        .replacen("vlan: 100", "vlan: 101", 1);
    let r = Command::cargo_bin("plumber-render")
        .unwrap()
        .args(["--networks", "-"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("conflict on NetworkAttachmentDefinition team-a/sriov-net-a")
            && err.contains("spec.sriovConfig[0].networks[0]"),
        "{err}"
    );
}
