//! Injection: hostile text in every place a user can type it. Names that become interface names, file
//! names or rule values are refused by validation; free text (the template name) only reaches comments,
//! where it is quoted onto one line. The per-syntax escapers are tested on their own next to each
//! renderer; here the whole pipeline is.

use assert_cmd::Command;

use crate::common::*;
use plumber_render::distro::Distro;
use plumber_render::{render_sources, Source};

const HOSTILE: &[&str] = &[
    "a;reboot",
    "$(reboot)",
    "`reboot`",
    "a'b",
    "a\"b",
    "a\nb",
    "../../etc/x",
    "a b",
    "a\\b",
    "a%kb",
    "a$b",
    "a#b",
    "a=b",
    "a,b",
    "a[b]",
    "a{b}",
];

fn template(name: &str, body: &str) -> String {
    format!(
        "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata:\n  name: {}\nspec:\n{body}",
        serde_json::to_string(name).unwrap()
    )
}

const FULL: &str = "  sriovConfig:\n    - pfName: eno2\n      numVfs: 2\n      vfDriver: vfio-pci\n  interfaceConfig:\n    - name: eno2\n      mtu: 9000\n      vlan:\n        - id: 10\n      ipv4:\n        address: [10.0.0.2/24]\n  ovsConfig:\n    - bridgeName: br0\n      nodeInterface: eno2.10\n";

#[test]
fn hostile_template_names_stay_inside_one_comment_line() {
    for name in HOSTILE {
        let src = Source {
            name: "t.yaml".into(),
            text: template(name, FULL),
        };
        for d in Distro::all() {
            let arts = match render_sources(std::slice::from_ref(&src), &d, None, None) {
                Ok(a) => a,
                // Control characters cannot be shown faithfully anywhere: refused up front.
                Err(e) if name.chars().any(char::is_control) => {
                    assert!(e.to_string().contains("metadata.name: "), "{e}");
                    continue;
                }
                Err(e) => panic!("{name:?} on {}: {e}", d.name),
            };
            for a in &arts {
                assert!(!a.path.contains(".."), "{}", a.path);
                let quoted = plumber_render::escape::printable(name);
                let mut found = false;
                for line in a.content.lines() {
                    if line.contains(&quoted) {
                        assert!(
                            line.starts_with("# "),
                            "{name:?} outside a comment in {}: {line}",
                            a.path
                        );
                        found = true;
                    }
                }
                if a.symlink.is_none() {
                    assert!(
                        found,
                        "{name:?}: header of {} does not name the template:\n{}",
                        a.path, a.content
                    );
                }
                // No line of any file is the tail of a split name.
                if name.contains('\n') {
                    assert!(!a.content.lines().any(|l| l == "b"), "{}", a.content);
                }
            }
        }
    }
}

#[test]
fn hostile_interface_and_driver_names_are_refused_by_validation() {
    let places = [
        ("  interfaceConfig:\n    - name: {}\n", "spec.interfaceConfig[0].name"),
        ("  interfaceConfig:\n    - name: eno2\n      vlan:\n        - id: 5\n          name: {}\n", "spec.interfaceConfig[0].vlan[0].name"),
        ("  sriovConfig:\n    - pfName: {}\n", "spec.sriovConfig[0].pfName"),
        ("  sriovConfig:\n    - pfName: eno2\n      vfDriver: {}\n", "spec.sriovConfig[0].vfDriver"),
        ("  bondConfig:\n    - name: {}\n      mode: 802.3ad\n      members: [eno1]\n", "spec.bondConfig[0].name"),
        ("  bridgeConfig:\n    - name: br0\n      members: [{}]\n", "spec.bridgeConfig[0].members[0]"),
        ("  ovsConfig:\n    - bridgeName: {}\n", "spec.ovsConfig[0].bridgeName"),
        ("  ovsConfig:\n    - bridgeName: br0\n      nodeInterface: {}\n", "spec.ovsConfig[0].nodeInterface"),
    ];
    for (body, path) in places {
        for bad in HOSTILE {
            let body = body.replace("{}", &serde_json::to_string(bad).unwrap());
            let src = Source {
                name: "t.yaml".into(),
                text: template("t", &body),
            };
            let err = render_sources(&[src], &Distro::by_name("ubuntu").unwrap(), None, None);
            // `a,b` is a valid two-interface list for nodeInterface; everything else must fail here.
            if *bad == "a,b" && path.ends_with("nodeInterface") {
                continue;
            }
            let e = err
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted at {path}"))
                .to_string();
            assert!(e.contains(path), "{bad:?} at {path}: {e}");
        }
    }
}

#[test]
fn hostile_node_names_in_fleet_mode_cannot_leave_the_output_directory() {
    let dir = scratch();
    let nodes = dir.path().join("nodes.yaml");
    std::fs::write(
        &nodes,
        "apiVersion: v1\nkind: List\nitems:\n  - metadata:\n      name: ../../escape\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let r = Command::cargo_bin("plumber-render")
        .unwrap()
        .args(["--distro", "ubuntu", "--nodes"])
        .arg(&nodes)
        .arg("--out")
        .arg(&out)
        .arg(repo_root().join("examples/comprehensive.yaml"))
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("is not a Kubernetes node name"));
    assert!(!dir.path().join("escape").exists() && !out.exists());
}
