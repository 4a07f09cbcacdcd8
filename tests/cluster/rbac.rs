//! deploy/'s RBAC on the real server, with the ServiceAccount tokens the agents and the rollup run
//! with: what they are granted works, and what they are not is refused (403) — templates, other
//! namespaces' Leases, Nodes, Secrets, Pods, the other identity's subresources.

use serde_json::{json, Value};

use crate::harness::cluster::shared;
use crate::harness::deploy::NAMESPACE;
use crate::harness::kube::{Answer, Kube};
use crate::harness::node::CASE;
use crate::harness::status::{host_network_path, template_path, GROUP};
use crate::harness::templates::Templates;

fn lease(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"holderIdentity": "rbac-test"},
    })
}

fn leases(ns: &str) -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases")
}

fn template(name: &str) -> Value {
    json!({
        "apiVersion": "plumber.k8s.pf9.io/v1",
        "kind": "HostNetworkTemplate",
        "metadata": {"name": name},
        "spec": {"nodeSelector": {CASE: "rbac"}},
    })
}

/// Each request must be refused with 403.
fn forbidden(who: &str, cases: Vec<(&str, Answer)>) {
    let wrong: Vec<String> = cases
        .into_iter()
        .filter(|(_, a)| !matches!(a, Err(e) if e.code == 403))
        .map(|(what, a)| format!("{who} may {what}: {a:?}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn each_identity_gets_exactly_what_deploy_grants() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    let templates = Templates::new(&c.cp.admin);
    templates
        .apply(&admin, "rbac-t", template("rbac-t")["spec"].clone())
        .unwrap();
    let node = c.node("rbac-1", &[(CASE, "rbac")]);
    let agent = Kube::new(&c.agent_kubeconfig);
    let rollup = Kube::new(&c.rollup_kubeconfig);

    // Granted: the agent lists templates, reads its Node, applies its HostNetwork and status, and keeps
    // Leases in plumber-system.
    agent.get(&format!("{GROUP}/hostnetworktemplates")).unwrap();
    agent.get(&format!("/api/v1/nodes/{}", node.name)).unwrap();
    let hn = json!({"apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetwork",
                    "metadata": {"name": node.name}, "spec": {}});
    agent.apply(&host_network_path(&node.name), &hn).unwrap();
    agent
        .post(&leases(NAMESPACE), &lease(NAMESPACE, "rbac-slot"))
        .unwrap();
    agent
        .delete(&format!("{}/rbac-slot", leases(NAMESPACE)))
        .unwrap();
    // Granted: the rollup lists templates, Nodes and HostNetworks, and applies template status.
    rollup.get(&format!("{GROUP}/hostnetworks")).unwrap();
    rollup.get("/api/v1/nodes").unwrap();
    let status = json!({"apiVersion": "plumber.k8s.pf9.io/v1", "kind": "HostNetworkTemplate",
                        "metadata": {"name": "rbac-t"}, "status": {"nodesMatched": 0}});
    rollup
        .apply(&format!("{}/status", template_path("rbac-t")), &status)
        .unwrap();

    forbidden(
        "the agent",
        vec![
            ("create a template", agent.post(&format!("{GROUP}/hostnetworktemplates"), &template("rbac-new"))),
            ("apply a template", agent.apply(&template_path("rbac-t"), &template("rbac-t"))),
            ("write a template's status", agent.apply(&format!("{}/status", template_path("rbac-t")), &status)),
            ("delete a template", agent.delete(&template_path("rbac-t"))),
            ("create a Lease in default", agent.post(&leases("default"), &lease("default", "x"))),
            ("create a Lease in kube-system", agent.post(&leases("kube-system"), &lease("kube-system", "x"))),
            ("list Leases in kube-system", agent.try_get(&leases("kube-system"))),
            ("read Secrets in plumber-system", agent.try_get(&format!("/api/v1/namespaces/{NAMESPACE}/secrets"))),
            ("label its Node", agent.apply(&format!("/api/v1/nodes/{}", node.name),
                &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name, "labels": {"x": "y"}}}))),
            ("delete a Node", agent.delete(&format!("/api/v1/nodes/{}", node.name))),
            ("delete a HostNetwork", agent.delete(&host_network_path(&node.name))),
            ("list Pods", agent.try_get("/api/v1/pods")),
            ("create a ConfigMap", agent.post(&format!("/api/v1/namespaces/{NAMESPACE}/configmaps"),
                &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}))),
        ],
    );
    forbidden(
        "the rollup",
        vec![
            ("create a template", rollup.post(&format!("{GROUP}/hostnetworktemplates"), &template("rbac-new"))),
            ("apply a template's spec", rollup.apply(&template_path("rbac-t"), &template("rbac-t"))),
            ("write a HostNetwork", rollup.apply(&host_network_path(&node.name), &hn)),
            ("write a HostNetwork's status", rollup.apply(&format!("{}/status", host_network_path(&node.name)), &hn)),
            ("create a Lease", rollup.post(&leases(NAMESPACE), &lease(NAMESPACE, "x"))),
            ("get a Node", rollup.try_get(&format!("/api/v1/nodes/{}", node.name))),
            ("create an Event", rollup.post("/apis/events.k8s.io/v1/namespaces/default/events",
                &json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "x"},
                        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "x",
                        "reportingInstance": "x", "action": "x", "reason": "x", "type": "Normal"}))),
        ],
    );
    admin.delete(&host_network_path(&node.name)).unwrap();
}
