//! Deleting things: a deleted template is reverted on every node that applied it (its bridge, its
//! membership and its files go; the node is `Available` with no templates). A deleted Node object leaves
//! its HostNetwork in place (it has no ownerReference to the Node, by design: it is the node's own
//! record, and nothing garbage-collects it) and its agent applies nothing while the Node is gone; the
//! rollup stops counting it.

use serde_json::json;

use crate::harness::cluster::shared;
use crate::harness::node::{SimNode, CASE};
use crate::harness::status::{self, wait_applied, wait_counts};
use crate::harness::templates::Templates;
use crate::harness::wait;

fn bridged(n: &SimNode) -> bool {
    n.link("br-del").is_some() && n.link("eth2").is_some_and(|l| l["master"] == "br-del")
}

#[test]
fn deleting_a_template_reverts_it_on_every_node() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    let templates = Templates::new(&c.cp.admin);
    let mut nodes = [
        c.node("del-1", &[(CASE, "deletion")]),
        c.node("del-2", &[(CASE, "deletion")]),
    ];
    for n in nodes.iter_mut() {
        n.start_agent();
    }
    let spec = json!({
        "nodeSelector": {CASE: "deletion"},
        "bridgeConfig": [{"name": "br-del", "members": ["eth2"]}],
    });
    templates.apply(&admin, "del-bridge", spec).unwrap();
    for n in &nodes {
        wait_applied(&admin, &n.name, &["del-bridge"]);
        assert!(bridged(n) && !n.plumber_files().is_empty(), "{}", n.name);
    }
    wait_counts(&admin, "del-bridge", (2, 2, 0));
    templates.delete(&admin, "del-bridge");
    for n in &nodes {
        status::wait_host_network(&admin, &n.name, "no templates", |hn| {
            status::is(hn, "Available", "True", "NoTemplates") && status::applied(hn).is_empty()
        });
        wait::until(
            &format!("{}: br-del and the files gone", n.name),
            status::CONVERGE,
            |last| {
                *last = format!("{:?} {:?}", n.link("br-del"), n.plumber_files());
                (n.link("br-del").is_none() && n.plumber_files().is_empty()).then_some(())
            },
        );
        assert!(
            n.link("eth2").is_some_and(|l| l.get("master").is_none()),
            "{}",
            n.name
        );
    }
}

#[test]
fn deleting_a_node_orphans_its_host_network_and_its_agent_applies_nothing() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    let templates = Templates::new(&c.cp.admin);
    let mut nodes = [
        c.node("gone-1", &[(CASE, "node-deletion")]),
        c.node("gone-2", &[(CASE, "node-deletion")]),
    ];
    for n in nodes.iter_mut() {
        n.start_agent();
    }
    let spec = |mtu: u32| {
        json!({
            "nodeSelector": {CASE: "node-deletion"},
            "interfaceConfig": [{"name": "eth1", "mtu": mtu}],
        })
    };
    templates.apply(&admin, "gone-mtu", spec(9000)).unwrap();
    for n in &nodes {
        wait_applied(&admin, &n.name, &["gone-mtu"]);
    }
    wait_counts(&admin, "gone-mtu", (2, 2, 0));
    let before = status::host_network(&admin, "gone-2").unwrap();
    admin.delete("/api/v1/nodes/gone-2").unwrap();
    wait_counts(&admin, "gone-mtu", (1, 1, 0));
    // A change of the template reaches gone-1 only.
    templates.apply(&admin, "gone-mtu", spec(8000)).unwrap();
    wait_applied(&admin, "gone-1", &["gone-mtu"]);
    assert_eq!(nodes[0].mtu("eth1"), Some(8000));
    wait::until("gone-2's agent to notice", status::CONVERGE, |last| {
        *last = nodes[1].agent_tail(3);
        nodes[1]
            .agent_log()
            .contains("the Node is gone: applying nothing")
            .then_some(())
    });
    assert_eq!(nodes[1].mtu("eth1"), Some(9000), "gone-2 applied nothing");
    let after = status::host_network(&admin, "gone-2").expect("the HostNetwork stays");
    assert_eq!(
        after["metadata"]["uid"], before["metadata"]["uid"],
        "the same object"
    );
    assert!(
        after["metadata"].get("ownerReferences").is_none(),
        "{after}"
    );
    assert!(nodes[1].agent_running(), "{}", nodes[1].agent_tail(20));
    wait_counts(&admin, "gone-mtu", (1, 1, 0));
}
