//! Two templates in conflict (the same NIC's MTU, the same priority): only the node both select is
//! `Degraded` `TemplateConflict` naming both, and applies neither; the nodes one of them selects apply it;
//! the rollup counts the failing node against both. A higher `priority` on one resolves it there.

use serde_json::json;

use crate::harness::cluster::shared;
use crate::harness::node::CASE;
use crate::harness::status::{self, condition, wait_applied, wait_counts};
use crate::harness::templates::Templates;

const A: &str = "test.plumber.k8s.pf9.io/a";
const B: &str = "test.plumber.k8s.pf9.io/b";

fn spec(label: &str, mtu: u32, priority: u32) -> serde_json::Value {
    json!({
        "priority": priority,
        "nodeSelector": {CASE: "conflict", label: "y"},
        "interfaceConfig": [{"name": "eth1", "mtu": mtu}],
    })
}

#[test]
fn only_the_nodes_both_templates_select_are_degraded_and_priority_resolves_it() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    let templates = Templates::new(&c.cp.admin);
    let mut nodes = [
        c.node("conf-1", &[(CASE, "conflict"), (A, "y")]),
        c.node("conf-2", &[(CASE, "conflict"), (A, "y"), (B, "y")]),
        c.node("conf-3", &[(CASE, "conflict"), (B, "y")]),
    ];
    for n in nodes.iter_mut() {
        n.start_agent();
    }
    templates.apply(&admin, "conf-a", spec(A, 9000, 0)).unwrap();
    templates.apply(&admin, "conf-b", spec(B, 1400, 0)).unwrap();
    wait_applied(&admin, "conf-1", &["conf-a"]);
    wait_applied(&admin, "conf-3", &["conf-b"]);
    let hn = status::wait_host_network(&admin, "conf-2", "Degraded TemplateConflict", |hn| {
        status::is(hn, "Degraded", "True", "TemplateConflict")
    });
    let (_, _, message) = condition(&hn, "Degraded").unwrap();
    assert!(
        message.contains("conf-a") && message.contains("conf-b") && message.contains("MTU of eth1"),
        "{message}"
    );
    assert!(status::applied(&hn).is_empty(), "{hn}");
    assert_eq!(nodes[0].mtu("eth1"), Some(9000));
    assert_eq!(
        nodes[1].mtu("eth1"),
        Some(1500),
        "the node in conflict applies neither"
    );
    assert_eq!(nodes[2].mtu("eth1"), Some(1400));
    for t in ["conf-a", "conf-b"] {
        let st = wait_counts(&admin, t, (2, 1, 1));
        assert_eq!(
            st["status"]["failedNodes"],
            json!(["conf-2"]),
            "{t}: {}",
            st["status"]
        );
    }
    // conf-b wins on the nodes both select.
    templates
        .apply(&admin, "conf-b", spec(B, 1400, 10))
        .unwrap();
    wait_applied(&admin, "conf-2", &["conf-a", "conf-b"]);
    assert_eq!(nodes[1].mtu("eth1"), Some(1400));
    assert_eq!(
        nodes[0].mtu("eth1"),
        Some(9000),
        "conf-1 keeps conf-a's MTU"
    );
    for t in ["conf-a", "conf-b"] {
        wait_counts(&admin, t, (2, 2, 0));
    }
    let hn = status::host_network(&admin, "conf-2").unwrap();
    assert!(status::is(&hn, "Degraded", "False", "AsExpected"), "{hn}");
}
