//! `maxUnavailable: 1` on the real server, with the Leases of deploy/'s namespace as the slots: a
//! template that fails on every node is tried by exactly one node (which keeps the slot, `Degraded`)
//! while the others wait (`Progressing` `WaitingForRollout`, naming the holder); the holder's agent
//! killed and restarted still holds the slot and the others still wait; fixing the template lets every
//! node converge, one at a time, and no slot is left behind; an agent killed between a successful apply
//! and giving its slot back gives it back once restarted.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::cluster::shared;
use crate::harness::deploy::NAMESPACE;
use crate::harness::kube::Kube;
use crate::harness::node::CASE;
use crate::harness::status::{self, condition, wait_applied, wait_counts};
use crate::harness::templates::Templates;
use crate::harness::wait;

const NODES: [&str; 3] = ["roll-1", "roll-2", "roll-3"];

/// The holders of template `t`'s slots (Leases labelled managed-by plumber-agent, annotated with the
/// template).
fn holders(admin: &Kube, t: &str) -> Vec<String> {
    let list = admin
        .get(&format!(
            "/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases?labelSelector=app.kubernetes.io/managed-by%3Dplumber-agent"
        ))
        .unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["metadata"]["annotations"]["plumber.k8s.pf9.io/template"] == t)
        .filter_map(|l| l["spec"]["holderIdentity"].as_str())
        .filter(|h| !h.is_empty())
        .map(String::from)
        .collect()
}

/// (the Degraded nodes, the nodes waiting for a slot held by `holder`).
fn states(admin: &Kube) -> (Vec<String>, Vec<String>, Value) {
    let mut degraded = Vec::new();
    let mut waiting = Vec::new();
    let mut all = json!({});
    for n in NODES {
        let Some(hn) = status::host_network(admin, n) else {
            continue;
        };
        all[n] = hn["status"]["conditions"].clone();
        if status::is(&hn, "Degraded", "True", "ApplyRefused") {
            degraded.push(n.to_string());
        }
        if let Some((s, r, m)) = condition(&hn, "Progressing") {
            if s == "True" && r == "WaitingForRollout" {
                waiting.push(m);
            }
        }
    }
    (degraded, waiting, all)
}

fn spec(nic: &str) -> Value {
    json!({
        "maxUnavailable": 1,
        "nodeSelector": {CASE: "rollout"},
        "interfaceConfig": [{"name": nic, "mtu": 9000}],
    })
}

/// Waits for one node failing and holding the only slot, the two others waiting for it; returns it.
fn one_fails_two_wait(admin: &Kube) -> String {
    wait::until(
        "one node failing, two waiting",
        Duration::from_secs(90),
        |last| {
            let (degraded, waiting, all) = states(admin);
            let h = holders(admin, "roll");
            *last = format!("degraded {degraded:?}, holders {h:?}, {all}");
            (degraded.len() == 1
                && h == degraded
                && waiting.len() == 2
                && waiting.iter().all(|m| m.contains(&degraded[0])))
            .then(|| degraded[0].clone())
        },
    )
}

#[test]
fn max_unavailable_stops_a_failing_template_at_one_node_and_survives_an_agent_restart() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    let templates = Templates::new(&c.cp.admin);
    let mut nodes: Vec<_> = NODES
        .iter()
        .map(|n| c.node(n, &[(CASE, "rollout")]))
        .collect();
    for n in nodes.iter_mut() {
        n.start_agent();
    }
    for n in NODES {
        status::wait_host_network(&admin, n, "up", |hn| {
            status::is(hn, "Available", "True", "NoTemplates")
        });
    }
    // eth9 is on no node: every apply is refused.
    templates.apply(&admin, "roll", spec("eth9")).unwrap();
    let holder = one_fails_two_wait(&admin);
    // Only the holder tried.
    for n in &nodes {
        let tried = n.agent_log().contains("outcome=Refused");
        assert_eq!(tried, n.name == holder, "{}\n{}", n.name, n.agent_tail(10));
    }

    // The holder's agent dies and comes back: it still holds the slot, the others still wait.
    let h = nodes.iter_mut().find(|n| n.name == holder).unwrap();
    h.kill_agent();
    let tries = h.agent_log().matches("outcome=Refused").count();
    h.start_agent();
    wait::until(
        "the restarted holder to try again",
        status::CONVERGE,
        |last| {
            *last = h.agent_tail(3);
            (h.agent_log().matches("outcome=Refused").count() > tries).then_some(())
        },
    );
    assert_eq!(one_fails_two_wait(&admin), holder);

    // Fixed: every node converges, and the slot is given back.
    templates.apply(&admin, "roll", spec("eth1")).unwrap();
    for n in NODES {
        wait_applied(&admin, n, &["roll"]);
    }
    for n in &nodes {
        assert_eq!(n.mtu("eth1"), Some(9000), "{}", n.name);
    }
    wait::until("no slot left", status::CONVERGE, |last| {
        let h = holders(&admin, "roll");
        *last = format!("{h:?}");
        h.is_empty().then_some(())
    });
    wait_counts(&admin, "roll", (3, 3, 0));

    // An agent killed after its apply succeeded and before it gave the slot back: the Lease it left
    // (as the agent writes one) is given back by the restarted agent.
    let n = nodes.iter_mut().find(|n| n.name == "roll-2").unwrap();
    n.kill_agent();
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": "roll.0",
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "plumber-agent"},
            "annotations": {"plumber.k8s.pf9.io/template": "roll"},
        },
        "spec": {"holderIdentity": "roll-2"},
    });
    admin
        .post(
            &format!("/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases"),
            &lease,
        )
        .unwrap();
    assert_eq!(holders(&admin, "roll"), ["roll-2"]);
    n.start_agent();
    wait::until(
        "the restarted agent gives its slot back",
        status::CONVERGE,
        |last| {
            let h = holders(&admin, "roll");
            *last = format!("{h:?}");
            h.is_empty().then_some(())
        },
    );
}
