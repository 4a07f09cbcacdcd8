//! NICs whose addresses stay with the host: `81-plumber-links.rules` and its helper `plumber-link`.
//!
//! A template that names a NIC only for its MTU, or for VLANs on it, and states no `ipv4`/`ipv6` leaves
//! the NIC's L3 configuration to the host's own files (cloud-init's netplan, the installer's
//! NetworkManager profile, an administrator's `.network`). The network formats differ in how plumber can
//! then say what the template does state without taking the NIC over:
//!
//! | format | MTU | VLANs on the NIC |
//! |---|---|---|
//! | netplan | in plumber's YAML: netplan merges definitions of one interface across files | the same |
//! | NetworkManager keyfile, ifcfg | this rule: a profile for the NIC would replace the host's | plumber's VLAN profiles name their parent; no parent profile needed |
//! | systemd-networkd | this rule: one `.network` applies per link, the first by name | this rule: networkd creates a VLAN only from its parent's `.network`, which is the host's |
//!
//! So this file exists on the distros whose format cannot express the rest: one rule pair per such NIC,
//! running the helper when the NIC appears (at boot, on hotplug, on `udevadm trigger`):
//!
//! ```text
//! plumber-link $name MTU [VLAN_ID VLAN_NAME]...
//! ```

use serde::Serialize;
use std::collections::BTreeSet;

use crate::distro::{Distro, NetworkFormat};
use crate::error::Result;
use crate::node::{Link, LinkKind, NodeConfig};

use super::{header, render_template, Artifact};

#[derive(Serialize)]
struct RulesCtx {
    helper: String,
    links: Vec<LinkCtx>,
    /// Whether any rule creates VLANs (for the file's explanation).
    vlans: bool,
}

#[derive(Serialize)]
struct LinkCtx {
    name: String,
    /// The helper's arguments after `$name`.
    args: Vec<String>,
}

#[derive(Serialize)]
struct HelperCtx {}

/// The VLANs (id, name) the templates put on `parent`.
fn vlans_on<'a>(node: &'a NodeConfig, parent: &'a str) -> impl Iterator<Item = (u16, &'a str)> {
    node.links.values().filter_map(move |l| match &l.kind {
        LinkKind::Vlan { parent: p, id } if p == parent => Some((*id, l.name.as_str())),
        _ => None,
    })
}

/// The helper's arguments for `l`, or `None` when the format says everything itself.
fn args(node: &NodeConfig, l: &Link, format: NetworkFormat) -> Option<Vec<String>> {
    if !l.host_keeps_l3() || format == NetworkFormat::Netplan {
        return None;
    }
    let vlans: Vec<(u16, &str)> = if format == NetworkFormat::Networkd {
        vlans_on(node, &l.name).collect()
    } else {
        Vec::new()
    };
    if l.mtu.is_none() && vlans.is_empty() {
        return None;
    }
    let mut a = vec![l.mtu.map(|m| m.to_string()).unwrap_or_else(|| "-".into())];
    for (id, name) in vlans {
        a.push(id.to_string());
        a.push(name.to_string());
    }
    Some(a)
}

/// Whether the VLAN `l` is created by this rule rather than by the network format's own files
/// (systemd-networkd, parent left to the host).
pub fn vlan_made_by_rule(node: &NodeConfig, l: &Link, format: NetworkFormat) -> bool {
    format == NetworkFormat::Networkd
        && matches!(&l.kind, LinkKind::Vlan { parent, .. }
            if node.links.get(parent).is_some_and(Link::host_keeps_l3))
}

pub fn render(node: &NodeConfig, distro: &Distro) -> Result<Vec<Artifact>> {
    let mut owners: BTreeSet<&str> = BTreeSet::new();
    let mut links = Vec::new();
    let mut vlans = false;
    for l in node.links.values() {
        if let Some(args) = args(node, l, distro.network) {
            owners.extend(l.owners.iter().map(String::as_str));
            vlans |= args.len() > 1;
            links.push(LinkCtx {
                name: l.name.clone(),
                args,
            });
        }
    }
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let head = header(owners.iter().copied());
    let helper = format!("{}/plumber-link", distro.paths.helpers);
    let rules_path = format!("{}/81-plumber-links.rules", distro.paths.udev_rules);
    let rules = render_template(
        "links.rules.j2",
        &rules_path,
        &head,
        &RulesCtx {
            helper: helper.clone(),
            links,
            vlans,
        },
    )?;
    let script = render_template("plumber-link.sh.j2", &helper, &head, &HelperCtx {})?;
    Ok(vec![
        Artifact::file(rules_path, 0o644, rules),
        Artifact::file(helper, 0o755, script),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(spec: &str) -> NodeConfig {
        crate::node_config_of_spec(spec).unwrap()
    }

    fn distro(name: &str) -> Distro {
        Distro::all().into_iter().find(|d| d.name == name).unwrap()
    }

    const MTU_AND_VLANS: &str = "  interfaceConfig:\n    - name: eno2\n      mtu: 9000\n      vlan:\n        - id: 1000\n        - {id: 1001, name: storage}\n";

    #[test]
    fn networkd_gets_the_mtu_and_the_vlans() {
        let arts = render(&node(MTU_AND_VLANS), &distro("debian")).unwrap();
        assert_eq!(arts[0].path, "/etc/udev/rules.d/81-plumber-links.rules");
        assert_eq!(arts[1].path, "/usr/lib/plumber/plumber-link");
        assert!(
            arts[0].content.contains(
                r#"NAME=="eno2", RUN+="/usr/lib/plumber/plumber-link $name 9000 1000 eno2.1000 1001 storage""#
            ),
            "{}",
            arts[0].content
        );
    }

    #[test]
    fn networkmanager_gets_the_mtu_only_and_netplan_nothing() {
        let arts = render(&node(MTU_AND_VLANS), &distro("rhel9")).unwrap();
        assert!(arts[0]
            .content
            .contains(r#"RUN+="/usr/libexec/plumber/plumber-link $name 9000""#));
        assert!(render(&node(MTU_AND_VLANS), &distro("ubuntu"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_nic_with_stated_addresses_is_the_format_files_business() {
        let n = node(
            "  interfaceConfig:\n    - name: eno2\n      mtu: 9000\n      ipv4: {dhcp: true}\n",
        );
        assert!(render(&n, &distro("debian")).unwrap().is_empty());
        // VLANs only, on NetworkManager: the VLAN profiles name their parent, no rule needed.
        let n = node("  interfaceConfig:\n    - name: eno2\n      vlan: [{id: 5}]\n");
        assert!(render(&n, &distro("rhel8")).unwrap().is_empty());
    }
}
