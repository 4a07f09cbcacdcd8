//! Idle means silent: with nothing changing for 60 s, neither the agents (whose resync runs every 15 s
//! here, four times in the window) nor the rollup make a single write request, counted from the API
//! server's audit log. On its own API server, so that no other test's writes are in the count.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::audit::{self, user};
use crate::harness::cluster::{assets, Cluster, AGENT_SA, ROLLUP_SA};
use crate::harness::node::CASE;
use crate::harness::status::{wait_applied, wait_counts};
use crate::harness::templates::Templates;
use crate::harness::wait;

/// The window.
const IDLE: Duration = Duration::from_secs(60);

#[test]
fn idle_agents_and_rollup_make_no_write_for_60_s() {
    let Some(assets) = assets() else { return };
    let mut c = Cluster::start(&assets);
    c.start_rollup();
    let admin = c.admin();
    let templates = Templates::new(&c.cp.admin);
    let mut nodes = [
        c.node("idle-1", &[(CASE, "idle")]),
        c.node("idle-2", &[(CASE, "idle")]),
    ];
    for n in nodes.iter_mut() {
        n.start_agent_with(&["--resync-secs", "15"]);
    }
    let spec = json!({
        "nodeSelector": {CASE: "idle"},
        "bridgeConfig": [{"name": "br-idle", "members": ["eth2"]}],
        "interfaceConfig": [{"name": "eth1", "mtu": 9000}],
    });
    templates.apply(&admin, "idle-net", spec).unwrap();
    for n in &nodes {
        wait_applied(&admin, &n.name, &["idle-net"]);
    }
    wait_counts(&admin, "idle-net", (2, 2, 0));
    let users = [user(AGENT_SA), user(ROLLUP_SA)];
    // Settled: no write of theirs for 3 s.
    let mut seen = (
        audit::writes_by(&c.cp.audit_log, &users).len(),
        Instant::now(),
    );
    wait::until("no more writes", Duration::from_secs(60), |last| {
        let n = audit::writes_by(&c.cp.audit_log, &users).len();
        if n != seen.0 {
            seen = (n, Instant::now());
        }
        *last = format!("{n} writes");
        (seen.1.elapsed() >= Duration::from_secs(3)).then_some(())
    });
    let before = audit::writes_by(&c.cp.audit_log, &users);
    assert!(
        before
            .iter()
            .any(|e| e["user"]["username"] == users[0].as_str())
            && before
                .iter()
                .any(|e| e["user"]["username"] == users[1].as_str()),
        "the audit log records both identities' writes:\n{}",
        audit::describe(&before)
    );
    let start = Instant::now();
    let passes = |n: &crate::harness::node::SimNode| {
        n.agent_log().matches("pass done trigger=resync").count()
    };
    let resyncs: Vec<usize> = nodes.iter().map(passes).collect();
    // The window: fail at the first write.
    while start.elapsed() < IDLE {
        let now = audit::writes_by(&c.cp.audit_log, &users);
        assert_eq!(
            now.len(),
            before.len(),
            "writes while idle, after {:?}:\n{}",
            start.elapsed(),
            audit::describe(&now[before.len()..])
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    for (n, r) in nodes.iter().zip(resyncs) {
        assert!(
            passes(n) >= r + 3,
            "{}: the resync ran in the window ({} then {})",
            n.name,
            r,
            passes(n)
        );
    }
}
