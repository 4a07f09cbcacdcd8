//! Reading what the agents and the rollup publish: a node's `HostNetwork` and its conditions, a
//! template's status, and waiting for them.

use std::time::Duration;

use serde_json::Value;

use super::kube::Kube;
use super::wait;

/// The API's paths.
pub const GROUP: &str = "/apis/plumber.k8s.pf9.io/v1";

/// The path of template `name`.
pub fn template_path(name: &str) -> String {
    format!("{GROUP}/hostnetworktemplates/{name}")
}

/// The path of node `name`'s HostNetwork.
pub fn host_network_path(name: &str) -> String {
    format!("{GROUP}/hostnetworks/{name}")
}

/// A condition of an object's status: (status, reason, message).
pub fn condition(obj: &Value, kind: &str) -> Option<(String, String, String)> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            (s("status"), s("reason"), s("message"))
        })
}

/// Node `node`'s HostNetwork.
pub fn host_network(kube: &Kube, node: &str) -> Option<Value> {
    kube.get(&host_network_path(node))
}

/// The templates (name, generation) the node's HostNetwork says it applied.
pub fn applied(hn: &Value) -> Vec<(String, i64)> {
    hn["status"]["appliedTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or("").to_string(),
                t["generation"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

/// How long a node may take to converge (a pass is well under a second; the machine may be loaded).
pub const CONVERGE: Duration = Duration::from_secs(60);

/// Waits until node `node`'s HostNetwork satisfies `ok`, returning it.
pub fn wait_host_network(
    kube: &Kube,
    node: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    wait::until(&format!("{node}: {what}"), CONVERGE, |last| {
        let hn = host_network(kube, node)?;
        *last =
            hn["status"]["conditions"].to_string() + &hn["status"]["appliedTemplates"].to_string();
        ok(&hn).then_some(hn)
    })
}

/// Whether condition `kind` has `status` and `reason`.
pub fn is(obj: &Value, kind: &str, status: &str, reason: &str) -> bool {
    condition(obj, kind).is_some_and(|(s, r, _)| s == status && r == reason)
}

/// Waits until the node is `Available` having applied exactly `templates` at their current
/// generations.
pub fn wait_applied(kube: &Kube, node: &str, templates: &[&str]) -> Value {
    let want: Vec<(String, i64)> = templates
        .iter()
        .map(|t| {
            let g = kube.get(&template_path(t)).expect("the template exists")["metadata"]
                ["generation"]
                .as_i64()
                .unwrap();
            (t.to_string(), g)
        })
        .collect();
    wait_host_network(kube, node, &format!("Available with {want:?}"), |hn| {
        let mut got = applied(hn);
        got.sort();
        let mut w = want.clone();
        w.sort();
        condition(hn, "Available").is_some_and(|(s, _, _)| s == "True") && got == w
    })
}

/// The template's status counts: (nodesMatched, nodesApplied, nodesFailed).
pub fn counts(t: &Value) -> (i64, i64, i64) {
    let s = &t["status"];
    let n = |k: &str| s[k].as_i64().unwrap_or(0);
    (n("nodesMatched"), n("nodesApplied"), n("nodesFailed"))
}

/// Waits until template `name`'s status has `want` counts at its current generation.
pub fn wait_counts(kube: &Kube, name: &str, want: (i64, i64, i64)) -> Value {
    wait::until(
        &format!("template {name} counts {want:?}"),
        CONVERGE,
        |last| {
            let t = kube.get(&template_path(name))?;
            *last = t["status"].to_string();
            let current = t["status"]["observedGeneration"] == t["metadata"]["generation"];
            (current && counts(&t) == want).then_some(t)
        },
    )
}
