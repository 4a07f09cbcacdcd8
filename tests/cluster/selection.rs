//! Label selection across nodes: a template selecting two of three nodes converges on those two (a bridge and an MTU,
//! their networkd files, `Available` with the template's generation) while the third publishes its
//! HostNetwork and applies nothing; relabelling moves the template onto a node and off another (which
//! lets go of what it made); the rollup's counts follow each step.

use serde_json::json;

use crate::harness::cluster::shared;
use crate::harness::node::{SimNode, CASE};
use crate::harness::status::{self, wait_applied, wait_counts};
use crate::harness::templates::Templates;
use crate::harness::wait;

const ROLE: &str = "test.plumber.k8s.pf9.io/role";

/// Whether the node has the template's bridge (with eth2 in it) and MTU.
fn configured(n: &SimNode) -> bool {
    n.link("br300").is_some()
        && n.link("eth2").is_some_and(|l| l["master"] == "br300")
        && n.mtu("eth1") == Some(9000)
}

#[test]
fn a_template_selecting_two_of_three_nodes_converges_there_and_follows_relabelling() {
    let Some(c) = shared() else { return };
    let admin = c.admin();
    let templates = Templates::new(&c.cp.admin);
    let net = [(CASE, "selection"), (ROLE, "net")];
    let plain = [(CASE, "selection")];
    let mut nodes = [
        c.node("sel-1", &net),
        c.node("sel-2", &net),
        c.node("sel-3", &plain),
    ];
    for n in nodes.iter_mut() {
        n.start_agent();
    }
    templates
        .apply(
            &admin,
            "sel-vlan",
            json!({
                "nodeSelector": {CASE: "selection", ROLE: "net"},
                "bridgeConfig": [{"name": "br300", "members": ["eth2"]}],
                "interfaceConfig": [{"name": "eth1", "mtu": 9000}],
            }),
        )
        .unwrap();
    for n in &nodes[..2] {
        wait_applied(&admin, &n.name, &["sel-vlan"]);
        assert!(configured(n), "{}: {:?}", n.name, n.links());
        let files = n.plumber_files();
        assert!(
            files.iter().any(|f| f.ends_with("60-plumber-br300.netdev")),
            "{}: {files:?}",
            n.name
        );
    }
    let third = status::wait_host_network(&admin, "sel-3", "published, no templates", |hn| {
        status::is(hn, "Available", "True", "NoTemplates")
    });
    assert!(status::applied(&third).is_empty());
    // Its discovered state (the fields of `plumber show`) names its NICs.
    let discovered = third["status"].to_string();
    assert!(
        discovered.contains("\"eth1\"") && discovered.contains("\"eth2\""),
        "{third}"
    );
    assert!(!configured(&nodes[2]) && nodes[2].plumber_files().is_empty());
    assert_eq!(nodes[2].mtu("eth1"), Some(1500));
    wait_counts(&admin, "sel-vlan", (2, 2, 0));

    // The template moves from sel-1 to sel-3.
    nodes[2].label(&admin, &net);
    nodes[0].label(&admin, &plain);
    wait_applied(&admin, "sel-3", &["sel-vlan"]);
    assert!(configured(&nodes[2]));
    status::wait_host_network(&admin, "sel-1", "no templates any more", |hn| {
        status::is(hn, "Available", "True", "NoTemplates")
    });
    wait::until(
        "sel-1 lets go of br300 and its files",
        status::CONVERGE,
        |last| {
            *last = format!(
                "{:?} {:?}",
                nodes[0].link("br300"),
                nodes[0].plumber_files()
            );
            (nodes[0].link("br300").is_none() && nodes[0].plumber_files().is_empty()).then_some(())
        },
    );
    wait_counts(&admin, "sel-vlan", (2, 2, 0));
    // Off one node without another taking it: the counts drop.
    nodes[1].label(&admin, &plain);
    wait_counts(&admin, "sel-vlan", (1, 1, 0));
}
