//! Best effort, as HostPlumber promises ("applied globally on each host, best effort"): a template
//! entry for a device a node does not have is left out on that node and reported, and the rest of the
//! template applies. With an inventory, the merge leaves out every `sriovConfig` entry whose `pfName`,
//! `pciAddr` or `vendorId`/`deviceId` matches no NIC, or only NICs without SR-IOV capability (no
//! `sriov_totalvfs`), and lists it in [`NodeConfig::skipped`] with the reason.
//!
//! All or nothing where it is asked for: the command line's `--strict` (every template), or a template
//! annotated [`STRICT`]`: "true"` (its own entries). Then a skipped entry is an error naming the
//! template, the entry and the selector, and nothing is applied or rendered ([`check`]).
//!
//! A link plumber must create (VLAN, bond, bridge) on a parent the node lacks stays an error: that
//! is not an entry that selects devices, it names one.

use crate::error::{Error, FieldError, Origin, Result};
use crate::node::{NodeConfig, Skipped};
use crate::parse::Loaded;

pub use crate::model::STRICT;

/// Whether template `t` asks for all or nothing ([`STRICT`]: `"true"`).
pub fn is_strict(t: &Loaded) -> bool {
    t.template
        .metadata
        .annotations
        .get(STRICT)
        .is_some_and(|v| v == "true")
}

/// The skipped entries that are refusals: all of them under `strict`, else those of templates
/// annotated [`STRICT`].
pub fn refused<'a>(node: &'a NodeConfig, templates: &[&Loaded], strict: bool) -> Vec<&'a Skipped> {
    node.skipped
        .iter()
        .filter(|s| {
            strict
                || templates
                    .iter()
                    .any(|t| t.name() == s.template && is_strict(t))
        })
        .collect()
}

/// Refuses `node` when an entry it skipped was to be applied all or nothing ([`refused`]): one error
/// per entry, at the entry, naming its selector and why.
pub fn check(node: &NodeConfig, templates: &[&Loaded], strict: bool) -> Result<()> {
    let errors: Vec<FieldError> = refused(node, templates, strict)
        .into_iter()
        .map(|s| FieldError {
            origin: templates
                .iter()
                .find(|t| t.name() == s.template)
                .map(|t| t.origin.clone())
                .unwrap_or_else(|| Origin {
                    template: Some(s.template.clone()),
                    ..Origin::default()
                }),
            path: s.path.clone(),
            message: format!(
                "{} {}; strict ({}): nothing is applied",
                s.selector,
                s.reason,
                if strict {
                    "--strict".to_string()
                } else {
                    format!("annotation {STRICT}")
                }
            ),
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

/// One line per skipped entry, for warnings.
pub fn lines(node: &NodeConfig) -> Vec<String> {
    node.skipped
        .iter()
        .map(|s| format!("skipped {s} (best effort: the rest is applied)"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::HostNetwork;
    use crate::pipeline::{load, node_config, Source};

    const INVENTORY: &str = "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetwork\nmetadata: {name: n1}\nstatus:\n  interfaceStatus:\n    - {pfName: ens1f0, pciAddr: \"0000:3b:00.0\", vendorId: \"8086\", deviceId: \"158b\", sriovStatus: {totalVfs: 64}}\n";

    fn templates(annotated: bool) -> Vec<Loaded> {
        let ann = if annotated {
            "\n  annotations: {plumber.k8s.pf9.io/strict: \"true\"}"
        } else {
            ""
        };
        let text = format!(
            "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata:\n  name: fleet{ann}\nspec:\n  interfaceConfig:\n    - {{name: eth0, mtu: 9000}}\n  sriovConfig:\n    - {{pfName: ens9f0, numVfs: 4}}\n    - {{pciAddr: \"0000:99:00.0\", numVfs: 4}}\n    - {{vendorId: \"15b3\", deviceId: \"1017\", numVfs: 4}}\n    - {{pfName: ens1f0, numVfs: 8}}\n---\napiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: other}}\nspec:\n  interfaceConfig:\n    - {{name: eth1, mtu: 9000}}\n"
        );
        load(&[Source {
            name: "t.yaml".into(),
            text,
        }])
        .unwrap()
    }

    fn refs(t: &[Loaded]) -> Vec<&Loaded> {
        t.iter().collect()
    }

    fn inventory() -> HostNetwork {
        HostNetwork::parse(INVENTORY, "inv.yaml").unwrap()
    }

    #[test]
    fn the_three_selector_kinds_that_match_nothing_are_skipped_and_the_rest_kept() {
        let t = templates(false);
        let node = node_config(&t, None, Some(&inventory())).unwrap();
        let got: Vec<(&str, &str, &str)> = node
            .skipped
            .iter()
            .map(|s| (s.template.as_str(), s.path.as_str(), s.selector.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("fleet", "spec.sriovConfig[0]", "pfName ens9f0"),
                ("fleet", "spec.sriovConfig[1]", "pciAddr 0000:99:00.0"),
                (
                    "fleet",
                    "spec.sriovConfig[2]",
                    "vendorId 15b3 deviceId 1017"
                ),
            ]
        );
        assert!(node
            .skipped
            .iter()
            .all(|s| s.reason == "matches no PCI NIC of this node"));
        // The PF the node has, and the links, are kept.
        assert_eq!(node.sriov.len(), 1);
        assert_eq!(node.sriov[0].name.as_deref(), Some("ens1f0"));
        assert_eq!(node.links["eth0"].mtu, Some(9000));
        assert!(check(&node, &refs(&t), false).is_ok());
        assert_eq!(
            lines(&node)[0],
            "skipped template fleet spec.sriovConfig[0] (pfName ens9f0): matches no PCI NIC of this node (best effort: the rest is applied)"
        );
        // Without an inventory nothing is resolved, so nothing is skipped.
        assert!(node_config(&t, None, None).unwrap().skipped.is_empty());
    }

    #[test]
    fn strict_refuses_every_skipped_entry_naming_template_entry_and_selector() {
        let t = templates(false);
        let node = node_config(&t, None, Some(&inventory())).unwrap();
        let e = check(&node, &refs(&t), true).unwrap_err().to_string();
        assert_eq!(
            e.lines().collect::<Vec<_>>(),
            [
                "t.yaml#1 (fleet): spec.sriovConfig[0]: pfName ens9f0 matches no PCI NIC of this node; strict (--strict): nothing is applied",
                "t.yaml#1 (fleet): spec.sriovConfig[1]: pciAddr 0000:99:00.0 matches no PCI NIC of this node; strict (--strict): nothing is applied",
                "t.yaml#1 (fleet): spec.sriovConfig[2]: vendorId 15b3 deviceId 1017 matches no PCI NIC of this node; strict (--strict): nothing is applied",
            ]
        );
    }

    #[test]
    fn the_annotation_makes_its_own_template_strict() {
        let t = templates(true);
        let node = node_config(&t, None, Some(&inventory())).unwrap();
        assert_eq!(refused(&node, &refs(&t), false).len(), 3);
        let e = check(&node, &refs(&t), false).unwrap_err().to_string();
        assert!(
            e.contains("strict (annotation plumber.k8s.pf9.io/strict)"),
            "{e}"
        );
        // Another template's annotation does not make fleet's entries strict.
        let mut t = templates(false);
        t[1].template
            .metadata
            .annotations
            .insert(STRICT.into(), "true".into());
        let node = node_config(&t, None, Some(&inventory())).unwrap();
        assert!(check(&node, &refs(&t), false).is_ok());
    }

    /// A NIC the node has but that cannot have VFs is no PF: each selector kind skips it as one that
    /// matches nothing, with a reason that says so, and --strict refuses it.
    #[test]
    fn a_nic_without_sriov_is_skipped_alike_for_every_selector_kind() {
        let inv = HostNetwork::parse(
            &format!("{INVENTORY}    - {{pfName: eno2, pciAddr: \"0000:05:00.0\", vendorId: \"8086\", deviceId: \"1572\", sriovEnabled: false}}\n    - {{pfName: eno3, pciAddr: \"0000:05:00.1\", vendorId: \"8086\", deviceId: \"158b\", sriovEnabled: false}}\n"),
            "inv.yaml",
        )
        .unwrap();
        let text = "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {name: t}\nspec:\n  sriovConfig:\n    - {pfName: eno2, numVfs: 4}\n    - {pciAddr: \"0000:05:00.0\", numVfs: 4}\n    - {vendorId: \"8086\", deviceId: \"1572\", numVfs: 4}\n    - {vendorId: \"8086\", deviceId: \"158b\", numVfs: 2}\n";
        let t = load(&[Source {
            name: "t.yaml".into(),
            text: text.into(),
        }])
        .unwrap();
        let node = node_config(&t, None, Some(&inv)).unwrap();
        assert_eq!(
            lines(&node),
            [
                "skipped template t spec.sriovConfig[0] (pfName eno2): is a NIC of this node without SR-IOV capability (no sriov_totalvfs in sysfs) (best effort: the rest is applied)",
                "skipped template t spec.sriovConfig[1] (pciAddr 0000:05:00.0): is eno2, a NIC of this node without SR-IOV capability (no sriov_totalvfs in sysfs) (best effort: the rest is applied)",
                "skipped template t spec.sriovConfig[2] (vendorId 8086 deviceId 1572): matches only NICs of this node without SR-IOV capability: eno2 (no sriov_totalvfs in sysfs) (best effort: the rest is applied)",
            ]
        );
        // Of a model with both, only the port that can have VFs is a PF.
        let pfs: Vec<_> = node.sriov.iter().map(|p| p.name.as_deref()).collect();
        assert_eq!(pfs, [Some("ens1f0")]);
        let e = check(&node, &refs(&t), true).unwrap_err().to_string();
        assert_eq!(e.lines().count(), 3, "{e}");
        assert!(
            e.contains("t.yaml#1 (t): spec.sriovConfig[0]: pfName eno2 is a NIC of this node without SR-IOV capability (no sriov_totalvfs in sysfs); strict (--strict): nothing is applied"),
            "{e}"
        );
    }
}
