//! Reading input as Kubernetes reads it: YAML 1.1 booleans. End to end through `plumber-render`.

use assert_cmd::Command;
use std::path::Path;

use crate::common::*;
use plumber_render::node::LinkKind;

fn render(args: &[&Path]) -> std::process::Output {
    let mut c = Command::cargo_bin("plumber-render").unwrap();
    c.args(["--distro", "ubuntu"]);
    for a in args {
        c.arg(a);
    }
    c.output().unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const TEMPLATE: &str = "apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata:
  name: worker-net
spec:
  sriovConfig:
    - pfName: eno2
      numVfs: 4
      vfs:
        - {id: 0, spoofchk: off, trust: yes}
        - {id: 1, spoofchk: On, trust: N}
";

/// `spoofchk: off` is false to the API server (go-yaml v2 reads YAML 1.1); the rule must say so.
#[test]
fn yaml_1_1_booleans_render_as_kubernetes_reads_them() {
    let dir = scratch();
    let f = dir.path().join("t.yaml");
    std::fs::write(&f, TEMPLATE).unwrap();
    let o = render(&[&f]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("vf 0 spoofchk off trust on vf 1 spoofchk on trust off"),
        "{out}"
    );

    // Every boolean field of the API takes the words.
    let node = plumber_render::node_config_of_spec(
        "  bridgeConfig:\n    - {name: br0, members: [eno3], stp: on}\n  interfaceConfig:\n    - name: br0\n      ipv4: {dhcp: yes}\n  ovsConfig:\n    - {bridgeName: ovs0, dpdk: YES}\n",
    )
    .unwrap();
    assert!(
        matches!(
            node.links["br0"].kind,
            LinkKind::Bridge {
                stp: Some(true),
                ..
            }
        ),
        "{:?}",
        node.links["br0"].kind
    );
    assert!(node.links["br0"].ipv4.as_ref().unwrap().dhcp);
    assert!(node.ovs[0].dpdk);
}
