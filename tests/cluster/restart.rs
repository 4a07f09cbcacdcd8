//! The API server stopped for 30 s and started again (same port, same etcd): the agents and the rollup
//! keep running, reconnect (new watches in the audit log), write nothing when nothing changed, and then
//! take a template change as before, with no duplicate writes. On an API server of its own.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::audit::{self, user};
use crate::harness::cluster::{assets, Cluster, AGENT_SA, ROLLUP_SA};
use crate::harness::node::CASE;
use crate::harness::status::{wait_applied, wait_counts};
use crate::harness::templates::Templates;
use crate::harness::wait;

const DOWN: Duration = Duration::from_secs(30);

fn spec(mtu: u32) -> Value {
    json!({
        "nodeSelector": {CASE: "restart"},
        "interfaceConfig": [{"name": "eth1", "mtu": mtu}],
    })
}

/// Waits until `users` have made no write for 3 s; returns their writes so far.
fn settled(log: &std::path::Path, users: &[String]) -> Vec<Value> {
    let mut seen = (audit::writes_by(log, users).len(), Instant::now());
    wait::until("no more writes", Duration::from_secs(60), |last| {
        let n = audit::writes_by(log, users).len();
        if n != seen.0 {
            seen = (n, Instant::now());
        }
        *last = format!("{n} writes");
        (seen.1.elapsed() >= Duration::from_secs(3)).then_some(())
    });
    audit::writes_by(log, users)
}

#[test]
fn agents_and_rollup_reconnect_after_the_api_server_is_down_for_30_s() {
    let Some(assets) = assets() else { return };
    let mut c = Cluster::start(&assets);
    c.start_rollup();
    let admin = c.admin();
    let templates = Templates::new(&c.cp.admin);
    let names = ["restart-1", "restart-2"];
    let mut nodes: Vec<_> = names
        .iter()
        .map(|n| c.node(n, &[(CASE, "restart")]))
        .collect();
    for n in nodes.iter_mut() {
        n.start_agent();
    }
    templates.apply(&admin, "restart-mtu", spec(9000)).unwrap();
    for n in names {
        wait_applied(&admin, n, &["restart-mtu"]);
    }
    wait_counts(&admin, "restart-mtu", (2, 2, 0));
    let log = c.cp.audit_log.clone();
    let users = [user(AGENT_SA), user(ROLLUP_SA)];
    let before = settled(&log, &users);
    let watches = |u: &str| audit::watches_by(&log, u).len();
    let (agent_w, rollup_w) = (watches(&users[0]), watches(&users[1]));

    c.cp.stop_apiserver();
    let down = Instant::now();
    while down.elapsed() < DOWN {
        for n in nodes.iter_mut() {
            assert!(n.agent_running(), "{}", n.agent_tail(20));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    c.cp.start_apiserver();

    // Every watch is back: each agent's Node watch and template watch, the rollup's three.
    wait::until("the watches back", Duration::from_secs(120), |last| {
        let a = audit::watches_by(&log, &users[0]);
        let r = audit::watches_by(&log, &users[1]);
        let (a, r) = (&a[agent_w..], &r[rollup_w..]);
        *last = format!("agent {a:?}, rollup {r:?}");
        let nodes_back = names.iter().all(|n| {
            a.iter()
                .any(|u| u.contains(&format!("metadata.name%3D{n}")))
        });
        let templates_back = a
            .iter()
            .filter(|u| u.contains("hostnetworktemplates"))
            .count()
            >= 2;
        let rollup_back = ["hostnetworktemplates", "/nodes", "hostnetworks?"]
            .iter()
            .all(|k| r.iter().any(|u| u.contains(k)));
        (nodes_back && templates_back && rollup_back).then_some(())
    });
    // Nothing changed: nothing is written.
    let after = settled(&log, &users);
    assert_eq!(
        after.len(),
        before.len(),
        "writes after the restart with nothing changed:\n{}",
        audit::describe(&after[before.len()..])
    );

    // A change goes through as before, without duplicates: per node, a Progressing and a final
    // status, and one Event; the rollup, at most one status write per step it saw.
    templates.apply(&admin, "restart-mtu", spec(8000)).unwrap();
    for n in names {
        wait_applied(&admin, n, &["restart-mtu"]);
    }
    for n in &nodes {
        assert_eq!(n.mtu("eth1"), Some(8000), "{}", n.name);
    }
    wait_counts(&admin, "restart-mtu", (2, 2, 0));
    let change = settled(&log, &users);
    let new = &change[after.len()..];
    for n in names {
        let status = new
            .iter()
            .filter(|e| {
                e["requestURI"]
                    .as_str()
                    .unwrap_or("")
                    .contains(&format!("hostnetworks/{n}/status"))
            })
            .count();
        assert!(
            (1..=2).contains(&status),
            "{n}: {status} status writes for one change:\n{}",
            audit::describe(new)
        );
    }
    let rollup = new
        .iter()
        .filter(|e| e["user"]["username"] == users[1].as_str())
        .count();
    assert!(
        (1..=3).contains(&rollup),
        "the rollup wrote {rollup} times for one change:\n{}",
        audit::describe(new)
    );
    let other: Vec<Value> = new
        .iter()
        .filter(|e| {
            let u = e["requestURI"].as_str().unwrap_or("");
            !u.contains("/status") && !u.contains("/events")
        })
        .cloned()
        .collect();
    assert!(
        other.is_empty(),
        "unexpected writes:\n{}",
        audit::describe(&other)
    );
}
