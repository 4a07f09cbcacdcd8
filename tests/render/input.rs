//! Reading input as Kubernetes reads it: YAML 1.1 booleans, PCI ids that must be strings, directories of
//! manifests that hold other kinds, and template names the API server would refuse. End to end through
//! `plumber-render`, so the notes and warnings on standard error are checked too.

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

/// A directory of manifests as kustomize keeps them: the other kinds and kustomize's own file are left
/// out with a note each, and the rendering is the template's alone.
#[test]
fn a_directory_leaves_out_other_kinds_with_a_note() {
    let dir = scratch();
    let t = dir.path().join("templates");
    std::fs::create_dir(&t).unwrap();
    // kustomize's file needs no kind: it is left out by name.
    std::fs::write(
        t.join("kustomization.yaml"),
        "resources: [net.yaml, cm.yaml]\n",
    )
    .unwrap();
    std::fs::write(
        t.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: v1\nkind: List\nitems:\n  - {apiVersion: k8s.cni.cncf.io/v1, kind: NetworkAttachmentDefinition, metadata: {name: n}}\n",
    )
    .unwrap();
    std::fs::write(t.join("net.yaml"), TEMPLATE).unwrap();
    let o = render(&[&t]);
    assert!(o.status.success(), "{}", stderr(&o));
    let d = t.display();
    assert_eq!(
        stderr(&o).lines().collect::<Vec<_>>(),
        [
            format!("plumber-render: note: {d}/cm.yaml#1: kind ConfigMap is not a HostNetworkTemplate; skipped"),
            format!("plumber-render: note: {d}/cm.yaml#2 items[0]: kind NetworkAttachmentDefinition is not a HostNetworkTemplate; skipped"),
            format!("plumber-render: note: {d}/kustomization.yaml: kustomize's file; skipped"),
        ]
    );
    let alone = render(&[&t.join("net.yaml")]);
    assert_eq!(o.stdout, alone.stdout);
    assert!(stderr(&alone).is_empty(), "{}", stderr(&alone));
}

/// What is most likely a broken template stays an error in a directory too. (A file named on the
/// command line that holds only other kinds: `tests/bad/not-a-template.yaml`.)
#[test]
fn broken_templates_are_errors_and_an_empty_file_is_not() {
    let dir = scratch();
    let cases = [
        (
            "apiVersion: plumber.k8s.pf9.io/v2\nkind: HostNetworkTemplate\nmetadata: {name: a}\n",
            "apiVersion: plumber.k8s.pf9.io/v2 is not plumber.k8s.pf9.io/v1",
        ),
        (
            "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplat\nmetadata: {name: a}\n",
            "kind: HostNetworkTemplat is not HostNetworkTemplate",
        ),
        ("metadata: {name: a}\nspec: {}\n", "apiVersion: is missing"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let d = dir.path().join(format!("d{i}"));
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("x.yaml"), text).unwrap();
        let o = render(&[&d]);
        assert_eq!(o.status.code(), Some(1), "{want}");
        assert!(stderr(&o).contains(want), "{want}: {}", stderr(&o));
    }
    // An empty file holds nothing of another kind: no templates (plumber apply --prune lets go of
    // everything with one), not an error.
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "# nothing yet\n").unwrap();
    let o = render(&[&empty]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Kubernetes refuses `Worker_Net`; plumber renders it (HostPlumber's examples have such names) and
/// says so.
#[test]
fn a_name_kubernetes_refuses_is_a_warning() {
    let dir = scratch();
    let f = dir.path().join("t.yaml");
    std::fs::write(&f, TEMPLATE.replace("worker-net", "Worker_Net")).unwrap();
    let o = render(&[&f]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!o.stdout.is_empty());
    assert_eq!(
        stderr(&o),
        format!(
            "plumber-render: warning: {}#1 (Worker_Net): metadata.name: Worker_Net is not a valid Kubernetes name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253): kubectl apply will refuse it (write worker-net, say)\n",
            f.display()
        )
    );
}

/// HostPlumber accepts an SR-IOV entry that names its PF several ways and uses pfName, else pciAddr,
/// else vendorId+deviceId. plumber renders exactly what the entry with the used selector alone
/// renders, and warns naming the ignored ones.
#[test]
fn several_pf_selectors_use_hostplumbers_order_with_a_warning() {
    let dir = scratch();
    let entry = |sel: &str| {
        format!(
            "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata:\n  name: sriov\n\
             spec:\n  sriovConfig:\n    - {sel}\n      numVfs: 4\n      vfDriver: vfio-pci\n"
        )
    };
    let cases = [
        (
            "pfName: ens1f0\n      pciAddr: 0000:03:00.0\n      vendorId: \"8086\"\n      deviceId: \"1572\"",
            "pfName: ens1f0",
            "pfName ens1f0, pciAddr 0000:03:00.0, vendorId 8086 deviceId 1572 each select the PF; pfName ens1f0 is used and pciAddr 0000:03:00.0 and vendorId 8086 deviceId 1572 ignored",
        ),
        (
            "pciAddr: 0000:03:00.0\n      vendorId: \"8086\"",
            "pciAddr: 0000:03:00.0",
            "pciAddr 0000:03:00.0, vendorId 8086 each select the PF; pciAddr 0000:03:00.0 is used and vendorId 8086 ignored",
        ),
    ];
    for (i, (several, used, said)) in cases.iter().enumerate() {
        let both = dir.path().join(format!("several-{i}.yaml"));
        let one = dir.path().join(format!("one-{i}.yaml"));
        std::fs::write(&both, entry(several)).unwrap();
        std::fs::write(&one, entry(used)).unwrap();
        let (o_both, o_one) = (render(&[&both]), render(&[&one]));
        assert!(o_both.status.success(), "{}", stderr(&o_both));
        assert!(o_one.status.success(), "{}", stderr(&o_one));
        assert_eq!(
            String::from_utf8_lossy(&o_both.stdout).replace("several-", "one-"),
            String::from_utf8_lossy(&o_one.stdout)
        );
        assert_eq!(stderr(&o_one), "");
        assert_eq!(
            stderr(&o_both),
            format!(
                "plumber-render: warning: {}#1 (sriov): spec.sriovConfig[0]: {said} (pfName, else pciAddr, else vendorId+deviceId, as HostPlumber does): keep only the one you mean\n",
                both.display()
            )
        );
    }
}
