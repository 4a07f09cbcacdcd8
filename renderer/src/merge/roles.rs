//! The roles the templates give one NIC by name, and the combinations no node can have: a DPDK uplink
//! is taken from the kernel (bound to `vfio-pci`, its network interface gone), so the same name cannot
//! also be an SR-IOV PF, a VLAN parent, an OVS or Linux bond/bridge member, a configured link or the
//! DPDK uplink of a second bridge.
//!
//! Checked on the templates as written, before DPDK uplinks are resolved to PCI addresses, so a
//! template that contradicts itself is refused for the contradiction (naming every role and where it was
//! set) on every node, with or without an inventory. HostPlumber's README has such an example: its
//! `ovsConfig` makes `eno2` an SR-IOV PF, a DPDK uplink and a member of a kernel OVS bond at once.
//!
//! ```yaml
//! sriovConfig:
//!   - pfName: eno2            # SR-IOV PF (spec.sriovConfig[0])
//!     numVfs: 8
//! ovsConfig:
//!   - bridgeName: dpdk-br01
//!     nodeInterface: eno2     # DPDK uplink (spec.ovsConfig[0]): refused, eno2 has another role
//!     dpdk: true
//! ```

use std::collections::BTreeMap;

use crate::error::{FieldError, Origin};
use crate::model::Uplink;
use crate::parse::Loaded;

/// One role of a NIC name, and where a template gave it.
struct Role {
    what: String,
    dpdk: bool,
    origin: Origin,
    template: String,
    path: String,
}

impl Role {
    fn describe(&self, several_templates: bool) -> String {
        if several_templates {
            format!("{} ({} {})", self.what, self.template, self.path)
        } else {
            format!("{} ({})", self.what, self.path)
        }
    }
}

/// Every role each NIC name has in `templates`, in merge order.
fn roles(templates: &[&Loaded]) -> BTreeMap<String, Vec<Role>> {
    let mut out: BTreeMap<String, Vec<Role>> = BTreeMap::new();
    for t in templates {
        let spec = &t.template.spec;
        let mut add = |name: &str, what: String, dpdk: bool, path: String| {
            out.entry(name.to_string()).or_default().push(Role {
                what,
                dpdk,
                origin: t.origin.clone(),
                template: t.name().to_string(),
                path,
            });
        };
        for (i, s) in spec.sriov_config.iter().enumerate() {
            // pfName is the selector used whenever it is given (HostPlumber's order).
            if let Some(n) = &s.pf_name {
                let what = "an SR-IOV PF".to_string();
                add(
                    n.as_str(),
                    what,
                    false,
                    format!("spec.sriovConfig[{i}].pfName"),
                );
            }
        }
        for (i, ic) in spec.interface_config.iter().enumerate() {
            let path = format!("spec.interfaceConfig[{i}]");
            if !ic.vlan.is_empty() {
                add(
                    ic.name.as_str(),
                    "a VLAN parent".into(),
                    false,
                    path.clone(),
                );
            }
            if ic.mtu.is_some() || ic.ipv4.is_some() || ic.ipv6.is_some() {
                let what = "a link with an MTU or addresses".to_string();
                add(ic.name.as_str(), what, false, path);
            }
        }
        for (i, b) in spec.bond_config.iter().enumerate() {
            for (j, m) in b.members.iter().enumerate() {
                let what = format!("a member of Linux bond {}", b.name);
                add(
                    m.as_str(),
                    what,
                    false,
                    format!("spec.bondConfig[{i}].members[{j}]"),
                );
            }
        }
        for (i, b) in spec.bridge_config.iter().enumerate() {
            for (j, m) in b.members.iter().enumerate() {
                let what = format!("a member of Linux bridge {}", b.name);
                add(
                    m.as_str(),
                    what,
                    false,
                    format!("spec.bridgeConfig[{i}].members[{j}]"),
                );
            }
        }
        for (i, o) in spec.ovs_config.iter().enumerate() {
            let Some(ni) = &o.node_interface else {
                continue;
            };
            let bond = ni.0.len() > 1;
            for u in &ni.0 {
                let Uplink::Name(n) = u else { continue };
                let what = match (o.dpdk, bond) {
                    (true, false) => format!("the DPDK uplink of OVS bridge {}", o.bridge_name),
                    (true, true) => format!("a DPDK bond member of OVS bridge {}", o.bridge_name),
                    (false, false) => format!("the OVS port of bridge {}", o.bridge_name),
                    (false, true) => format!("an OVS bond member of bridge {}", o.bridge_name),
                };
                add(
                    n.as_str(),
                    what,
                    o.dpdk,
                    format!("spec.ovsConfig[{i}].nodeInterface"),
                );
            }
        }
    }
    out
}

/// An error for every NIC name that is a DPDK uplink and has any other role too, naming all of them.
pub(super) fn check(templates: &[&Loaded]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (name, rs) in roles(templates) {
        let Some(first_dpdk) = rs.iter().find(|r| r.dpdk) else {
            continue;
        };
        if rs.len() < 2 {
            continue;
        }
        let several = rs.iter().any(|r| r.template != rs[0].template);
        let listed: Vec<String> = rs.iter().map(|r| r.describe(several)).collect();
        errors.push(FieldError {
            origin: first_dpdk.origin.clone(),
            path: first_dpdk.path.clone(),
            message: format!(
                "{name} has roles that exclude each other: {}. A DPDK uplink is bound to vfio-pci and \
                 has no network interface, so it can have no other role: keep {name} in one of them",
                listed.join(", ")
            ),
        });
    }
    errors
}

#[cfg(test)]
mod tests {
    use crate::parse::parse_templates;

    fn check(yaml: &str) -> Vec<String> {
        let ts = parse_templates(yaml, "t.yaml").unwrap();
        let refs: Vec<_> = ts.iter().collect();
        super::check(&refs)
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

    const HEAD: &str = "
apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata: {name: a}
spec:
  interfaceConfig:
    - name: eno2
      vlan: [{id: 1000}]
  ovsConfig:
    - bridgeName: dpdk-br01
      nodeInterface: eno2
      dpdk: true
";

    #[test]
    fn a_dpdk_uplink_that_is_also_a_vlan_parent_is_refused_naming_both() {
        let e = check(HEAD);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("spec.ovsConfig[0].nodeInterface: eno2 has roles"),
            "{e:?}"
        );
        assert!(
            e[0].contains("a VLAN parent (spec.interfaceConfig[0])"),
            "{e:?}"
        );
        assert!(
            e[0].contains("the DPDK uplink of OVS bridge dpdk-br01"),
            "{e:?}"
        );
    }

    #[test]
    fn roles_from_two_templates_name_each_template() {
        let two = "
apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata: {name: dpdk}
spec:
  ovsConfig:
    - bridgeName: dpdk-br01
      nodeInterface: eno3,eno4
      dpdk: true
---
apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata: {name: vfs}
spec:
  sriovConfig:
    - pfName: eno4
      numVfs: 4
";
        let e = check(two);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("eno4 has roles"), "{e:?}");
        assert!(
            e[0].contains(
                "a DPDK bond member of OVS bridge dpdk-br01 (dpdk spec.ovsConfig[0].nodeInterface)"
            ),
            "{e:?}"
        );
        assert!(
            e[0].contains("an SR-IOV PF (vfs spec.sriovConfig[0].pfName)"),
            "{e:?}"
        );
    }

    #[test]
    fn kernel_roles_without_dpdk_are_not_contradictions() {
        // An SR-IOV PF that is also a VLAN parent, with an MTU, and an OVS port: all on the kernel's netdev.
        let ok = "
apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata: {name: a}
spec:
  sriovConfig:
    - pfName: eno2
      numVfs: 4
  interfaceConfig:
    - name: eno2
      mtu: 9000
      vlan: [{id: 1000}]
  ovsConfig:
    - bridgeName: br0
      nodeInterface: eno2
";
        assert!(check(ok).is_empty());
        // A DPDK uplink named once is no contradiction either.
        let one = HEAD
            .replace("      vlan: [{id: 1000}]\n", "")
            .replace("    - name: eno2\n", "");
        let one = one.replace("  interfaceConfig:\n", "");
        assert!(check(&one).is_empty(), "{:?}", check(&one));
    }
}
