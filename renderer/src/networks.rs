//! NetworkAttachmentDefinitions (Multus) for the templates' device plugin pools: one per `networks`
//! entry and namespace, an SR-IOV CNI configuration whose VFs come from the pool it is declared beside
//! (annotation `k8s.v1.cni.cncf.io/resourceName`). Cluster objects, not node files: `plumber-render
//! --networks` writes them as YAML for GitOps, and the rollup keeps them in the cluster.
//!
//! ```yaml
//! apiVersion: k8s.cni.cncf.io/v1
//! kind: NetworkAttachmentDefinition
//! metadata:
//!   name: sriov-net-a
//!   namespace: team-a
//!   annotations:
//!     k8s.v1.cni.cncf.io/resourceName: intel.com/net_a
//!   labels:
//!     app.kubernetes.io/managed-by: plumber
//! spec:
//!   config: '{"cniVersion":"0.3.1","ipam":{},"name":"sriov-net-a","spoofchk":"on","type":"sriov","vlan":100}'
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::error::{Conflict, ConflictSide, Error, Result};
use crate::model::{NetworkConfig, ResourceName, ResourcePrefix, DEFAULT_RESOURCE_PREFIX};
use crate::parse::Loaded;

/// The label on every NetworkAttachmentDefinition plumber makes; the rollup deletes only those.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "plumber");

/// The annotation Multus reads to ask the device plugin for a VF of the pool.
pub const RESOURCE_ANNOTATION: &str = "k8s.v1.cni.cncf.io/resourceName";

/// The SR-IOV CNI configuration's version.
const CNI_VERSION: &str = "0.3.1";

/// One NetworkAttachmentDefinition.
#[derive(Debug, Clone, PartialEq)]
pub struct Nad {
    pub namespace: String,
    pub name: String,
    /// The pool, `intel.com/net_a`.
    pub resource: String,
    /// The SR-IOV CNI configuration (`spec.config`, as JSON text).
    pub config: String,
    /// The templates that declare it.
    pub templates: BTreeSet<String>,
}

impl Nad {
    /// The Kubernetes object.
    pub fn object(&self) -> Value {
        json!({
            "apiVersion": "k8s.cni.cncf.io/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "annotations": {RESOURCE_ANNOTATION: self.resource},
                "labels": {MANAGED_BY.0: MANAGED_BY.1},
            },
            "spec": {"config": self.config},
        })
    }
}

/// The namespaces a `networks` entry names, `default` when none.
pub fn namespaces(n: &NetworkConfig) -> Vec<&str> {
    if n.namespaces.is_empty() {
        vec!["default"]
    } else {
        n.namespaces.iter().map(|l| l.as_str()).collect()
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// The SR-IOV CNI configuration of a `networks` entry.
fn cni_config(n: &NetworkConfig) -> String {
    let mut c = json!({
        "cniVersion": CNI_VERSION,
        "name": n.name.as_str(),
        "type": "sriov",
        "ipam": n.ipam.as_ref().map(|i| i.value()).unwrap_or_else(|| json!({})),
    });
    if let Some(v) = n.vlan {
        c["vlan"] = json!(v.get());
    }
    if let Some(s) = n.spoofchk {
        c["spoofchk"] = json!(on_off(s));
    }
    if let Some(t) = n.trust {
        c["trust"] = json!(on_off(t));
    }
    c.to_string()
}

/// Where one NetworkAttachmentDefinition was declared, for a conflict.
struct Declared {
    nad: Nad,
    template: String,
    path: String,
    priority: i32,
}

/// Every NetworkAttachmentDefinition the templates declare, sorted by namespace and name; two
/// declarations of one namespace and name that differ are a conflict naming both.
pub fn networks(templates: &[&Loaded]) -> Result<Vec<Nad>> {
    let mut out: BTreeMap<(String, String), Declared> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for t in templates {
        let spec = &t.template.spec;
        let mut pools: Vec<(
            String,
            &ResourceName,
            Option<&ResourcePrefix>,
            &[NetworkConfig],
        )> = Vec::new();
        for (i, s) in spec.sriov_config.iter().enumerate() {
            let p = format!("spec.sriovConfig[{i}]");
            if let Some(r) = &s.resource_name {
                pools.push((p.clone(), r, s.resource_prefix.as_ref(), &s.networks));
            }
            for (j, vf) in s.vfs.iter().enumerate() {
                if let Some(r) = &vf.resource_name {
                    let vp = format!("{p}.vfs[{j}]");
                    pools.push((vp, r, vf.resource_prefix.as_ref(), &vf.networks));
                }
            }
        }
        for (p, name, prefix, networks) in pools {
            let prefix = prefix.map_or(DEFAULT_RESOURCE_PREFIX, |p| p.as_str());
            let resource = format!("{prefix}/{}", name.as_str());
            for (k, n) in networks.iter().enumerate() {
                let config = cni_config(n);
                for ns in namespaces(n) {
                    let nad = Nad {
                        namespace: ns.to_string(),
                        name: n.name.as_str().to_string(),
                        resource: resource.clone(),
                        config: config.clone(),
                        templates: BTreeSet::from([t.name().to_string()]),
                    };
                    let here = Declared {
                        nad,
                        template: t.name().to_string(),
                        path: format!("{p}.networks[{k}]"),
                        priority: spec.priority(),
                    };
                    let key = (here.nad.namespace.clone(), here.nad.name.clone());
                    match out.get_mut(&key) {
                        None => {
                            out.insert(key, here);
                        }
                        Some(first) => {
                            let same = first.nad.resource == here.nad.resource
                                && first.nad.config == here.nad.config;
                            if same {
                                first.nad.templates.insert(here.template);
                            } else {
                                conflicts.push(conflict(first, &here));
                            }
                        }
                    }
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::Conflicts(conflicts));
    }
    Ok(out.into_values().map(|d| d.nad).collect())
}

fn conflict(a: &Declared, b: &Declared) -> Conflict {
    let side = |d: &Declared| ConflictSide {
        template: d.template.clone(),
        path: d.path.clone(),
        value: format!("{} {}", d.nad.resource, d.nad.config),
        priority: d.priority,
    };
    Conflict {
        field: format!(
            "NetworkAttachmentDefinition {}/{}",
            a.nad.namespace, a.nad.name
        ),
        first: side(a),
        second: side(b),
    }
}

/// The NetworkAttachmentDefinitions as YAML documents for `kubectl apply -f` or GitOps, each after
/// a comment naming the templates it comes from. The CNI configuration never holds a line break (it
/// is serde_json's compact text), so one single-quoted YAML scalar carries it exactly.
pub fn to_yaml(nads: &[Nad]) -> String {
    let mut out = String::new();
    for n in nads {
        let names: Vec<String> = n
            .templates
            .iter()
            .map(|t| crate::escape::comment(t))
            .collect();
        out.push_str("---\n");
        out.push_str(&format!(
            "# Generated by plumber-render {} from HostNetworkTemplate {}.\n",
            env!("CARGO_PKG_VERSION"),
            names.join(", ")
        ));
        // The CNI configuration is JSON text: single-quoted, it reads as the JSON it is.
        let mut obj = n.object();
        if let Some(o) = obj.as_object_mut() {
            o.remove("spec");
        }
        out.push_str(&crate::yaml::to_string(&obj).expect("a JSON value is YAML"));
        out.push_str(&format!(
            "spec:\n  config: '{}'\n",
            n.config.replace('\'', "''")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_templates;
    use serde::Deserialize;

    const T: &str = "
apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata: {name: a}
spec:
  sriovConfig:
    - pfName: eno2
      numVfs: 8
      resourceName: net_a
      networks:
        - name: sriov-a
          namespaces: [team-a, team-b]
          vlan: 100
          spoofchk: false
      vfs:
        - id: 6-7
          resourceName: dpdk_b
          resourcePrefix: example.com
          networks:
            - name: dpdk-b
              ipam: '{\"type\": \"host-local\", \"subnet\": \"10.1.0.0/24\"}'
";

    #[test]
    fn one_definition_per_network_and_namespace_with_its_pool() {
        let ts = parse_templates(T, "t.yaml").unwrap();
        let refs: Vec<&Loaded> = ts.iter().collect();
        let n = networks(&refs).unwrap();
        let got: Vec<(&str, &str, &str)> = n
            .iter()
            .map(|n| (n.namespace.as_str(), n.name.as_str(), n.resource.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("default", "dpdk-b", "example.com/dpdk_b"),
                ("team-a", "sriov-a", "intel.com/net_a"),
                ("team-b", "sriov-a", "intel.com/net_a"),
            ]
        );
        assert_eq!(
            n[1].config,
            r#"{"cniVersion":"0.3.1","ipam":{},"name":"sriov-a","spoofchk":"off","type":"sriov","vlan":100}"#
        );
        assert_eq!(
            n[0].object()["spec"]["config"],
            r#"{"cniVersion":"0.3.1","ipam":{"subnet":"10.1.0.0/24","type":"host-local"},"name":"dpdk-b","type":"sriov"}"#
        );
    }

    #[test]
    fn the_yaml_reads_back_as_the_objects() {
        let ts = parse_templates(
            &T.replace(
                "spoofchk: false",
                "spoofchk: false\n          ipam: '{\"note\": \"it''s\"}'",
            ),
            "t.yaml",
        )
        .unwrap();
        let refs: Vec<&Loaded> = ts.iter().collect();
        let n = networks(&refs).unwrap();
        let text = to_yaml(&n);
        let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|d| serde_json::to_value(serde_yaml::Value::deserialize(d).unwrap()).unwrap())
            .collect();
        let want: Vec<Value> = n.iter().map(Nad::object).collect();
        assert_eq!(docs, want, "{text}");
        assert!(text.contains("it''s"), "{text}");
    }

    #[test]
    fn two_different_declarations_of_one_definition_conflict() {
        let two = format!(
            "{T}---\n{}",
            T.replace("name: a}", "name: b}")
                .replace("vlan: 100", "vlan: 200")
        );
        let ts = parse_templates(&two, "t.yaml").unwrap();
        let refs: Vec<&Loaded> = ts.iter().collect();
        let e = networks(&refs).unwrap_err().to_string();
        assert!(
            e.contains("NetworkAttachmentDefinition team-a/sriov-a"),
            "{e}"
        );
        assert!(e.contains("spec.sriovConfig[0].networks[0]"), "{e}");
        // The same declaration in two templates is one object from both.
        let same = format!("{T}---\n{}", T.replace("name: a}", "name: b}"));
        let ts = parse_templates(&same, "t.yaml").unwrap();
        let refs: Vec<&Loaded> = ts.iter().collect();
        let n = networks(&refs).unwrap();
        assert_eq!(n[1].templates, BTreeSet::from(["a".into(), "b".into()]));
    }
}
