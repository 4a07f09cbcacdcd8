//! Real consumer: every rendered netplan file must pass netplan's own generator
//! (`/usr/lib/netplan/generate --root-dir`, from netplan.io), which writes the systemd-networkd files it
//! would use at boot; we then check those carry what the NodeConfig says.

use std::process::Command;

use crate::common::*;
use plumber_render::distro::Distro;
use plumber_render::node::LinkKind;

fn generate(root: &std::path::Path) -> std::process::Output {
    let gen = require_tool("generate");
    Command::new(gen)
        .arg("--root-dir")
        .arg(root)
        .output()
        .unwrap()
}

#[test]
fn every_rendered_netplan_file_passes_netplan_generate() {
    let ubuntu = Distro::by_name("ubuntu").unwrap();
    let mut checked = 0;
    for case in cases() {
        let arts = render_case(&case, &ubuntu);
        let Some(np) = arts.iter().find(|a| a.path.starts_with("/etc/netplan/")) else {
            continue;
        };
        let root = scratch();
        write_tree(&root.path().join("r"), std::slice::from_ref(np));
        let r = root.path().join("r");
        let out = generate(&r);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "netplan generate rejected case {}:\n{}\n--- file ---\n{}",
            case.name,
            String::from_utf8_lossy(&out.stderr),
            np.content
        );
        // What netplan will hand to networkd at boot has our links, MTUs and addresses.
        let node = case_node(&case);
        let run = r.join("run/systemd/network");
        for l in node.links.values() {
            let network = run.join(format!("10-netplan-{}.network", l.name));
            let body = std::fs::read_to_string(&network).unwrap_or_else(|_| {
                panic!("case {}: netplan made no {}", case.name, network.display())
            });
            assert!(
                body.contains(&format!("Name={}", l.name)),
                "case {}: {body}",
                case.name
            );
            for a in l.addresses() {
                assert!(
                    body.contains(&format!("Address={a}")),
                    "case {}: {} lacks {a}:\n{body}",
                    case.name,
                    l.name
                );
            }
            if !matches!(l.kind, LinkKind::Device) {
                let netdev = run.join(format!("10-netplan-{}.netdev", l.name));
                let nd = std::fs::read_to_string(&netdev).unwrap_or_else(|_| {
                    panic!("case {}: netplan made no {}", case.name, netdev.display())
                });
                if let Some(m) = l.mtu {
                    assert!(
                        nd.contains(&format!("MTUBytes={m}")),
                        "case {}: {nd}",
                        case.name
                    );
                }
                if let LinkKind::Vlan { id, .. } = l.kind {
                    assert!(nd.contains(&format!("Id={id}")), "case {}: {nd}", case.name);
                }
            }
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} cases had a netplan file");
}

/// The check above can fail: netplan rejects a file that is wrong.
#[test]
fn netplan_generate_rejects_a_broken_file() {
    let root = scratch();
    let dir = root.path().join("etc/netplan");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("60-plumber.yaml"),
        "network:\n  version: 2\n  vlans:\n    v1:\n      id: 1\n      link: missing\n",
    )
    .unwrap();
    let out = generate(root.path());
    assert!(
        !out.status.success() || !out.stderr.is_empty(),
        "netplan accepted a VLAN on an undefined link"
    );
}
