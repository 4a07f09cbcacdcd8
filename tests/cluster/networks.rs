//! The rollup keeps the NetworkAttachmentDefinitions the templates declare beside their pools, on a
//! real API server with Multus' CRD (`tests/crd/multus/`): written server-side by `plumber-networks`
//! in each namespace named, changed with the template, deleted when the declaration goes; one made
//! by hand (without plumber's label) is never touched.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::assets::repo;
use crate::harness::cluster::shared;
use crate::harness::deploy::established;
use crate::harness::kube::Kube;
use crate::harness::status::template_path;
use crate::harness::wait;

const CRD: &str =
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/network-attachment-definitions.k8s.cni.cncf.io";

fn nad_path(ns: &str, name: &str) -> String {
    format!("/apis/k8s.cni.cncf.io/v1/namespaces/{ns}/network-attachment-definitions/{name}")
}

fn template(vlan: Option<u16>) -> Value {
    let mut pf = json!({
        "pfName": "eno2", "numVfs": 8, "vfDriver": "iavf", "resourceName": "net_a",
    });
    if let Some(v) = vlan {
        pf["networks"] = json!([{
            "name": "sriov-net-a",
            "namespaces": ["nets-a", "nets-b"],
            "vlan": v,
            "ipam": "{\"type\": \"whereabouts\", \"range\": \"10.10.0.0/24\"}",
        }]);
    }
    json!({
        "apiVersion": "plumber.k8s.pf9.io/v1",
        "kind": "HostNetworkTemplate",
        "metadata": {"name": "networks"},
        // A label no node has: no agent applies it; only the rollup acts on it.
        "spec": {"nodeSelector": {"test.plumber.k8s.pf9.io/case": "networks-no-node"}, "sriovConfig": [pf]},
    })
}

/// The NAD's CNI configuration's VLAN, once it exists.
fn vlan_of(kube: &Kube, ns: &str) -> Option<Value> {
    let nad = kube.get(&nad_path(ns, "sriov-net-a"))?;
    let config: Value = serde_json::from_str(nad["spec"]["config"].as_str()?).ok()?;
    Some(config["vlan"].clone())
}

#[test]
fn the_rollup_keeps_the_templates_network_attachment_definitions() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    let crd = std::fs::read_to_string(
        repo().join("tests/crd/multus/network-attachment-definitions.yaml"),
    )
    .unwrap();
    admin
        .apply_yaml(CRD, &crd, false)
        .expect("Multus' CRD installs");
    established(&admin, CRD);
    for ns in ["nets-a", "nets-b"] {
        admin
            .apply(
                &format!("/api/v1/namespaces/{ns}"),
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            )
            .unwrap();
    }
    // Somebody's own definition of another name, without plumber's label.
    let theirs = json!({
        "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": "by-hand", "namespace": "nets-a"},
        "spec": {"config": "{\"type\": \"macvlan\"}"},
    });
    admin
        .apply(&nad_path("nets-a", "by-hand"), &theirs)
        .unwrap();

    admin
        .apply(&template_path("networks"), &template(Some(100)))
        .unwrap();
    for ns in ["nets-a", "nets-b"] {
        wait::until(
            &format!("{ns}/sriov-net-a written"),
            Duration::from_secs(60),
            |last| {
                let v = vlan_of(&admin, ns);
                let log =
                    std::fs::read_to_string(c.cp.dir().join("rollup.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(12).collect();
                *last = format!("{v:?}; the rollup's log ends (newest first): {tail:#?}");
                (v == Some(json!(100))).then_some(())
            },
        );
    }
    let nad = admin.get(&nad_path("nets-a", "sriov-net-a")).unwrap();
    assert_eq!(
        nad["metadata"]["annotations"]["k8s.v1.cni.cncf.io/resourceName"],
        "intel.com/net_a"
    );
    assert_eq!(
        nad["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "plumber"
    );
    let managers: Vec<&str> = nad["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["plumber-networks"], "{nad}");
    let config: Value = serde_json::from_str(nad["spec"]["config"].as_str().unwrap()).unwrap();
    assert_eq!(config["type"], "sriov");
    assert_eq!(config["ipam"]["type"], "whereabouts");

    // The template changes: so do both definitions.
    admin
        .apply(&template_path("networks"), &template(Some(200)))
        .unwrap();
    for ns in ["nets-a", "nets-b"] {
        wait::until(
            &format!("{ns}/sriov-net-a rewritten"),
            Duration::from_secs(60),
            |last| {
                let v = vlan_of(&admin, ns);
                *last = format!("{v:?}");
                (v == Some(json!(200))).then_some(())
            },
        );
    }

    // The declaration goes: both definitions go; the hand-made one stays.
    admin
        .apply(&template_path("networks"), &template(None))
        .unwrap();
    for ns in ["nets-a", "nets-b"] {
        wait::until(
            &format!("{ns}/sriov-net-a deleted"),
            Duration::from_secs(60),
            |last| {
                let v = admin.get(&nad_path(ns, "sriov-net-a"));
                *last = format!("{v:?}");
                v.is_none().then_some(())
            },
        );
    }
    assert!(
        admin.get(&nad_path("nets-a", "by-hand")).is_some(),
        "a definition plumber did not make was touched"
    );
    admin.delete(&template_path("networks")).unwrap();
}
