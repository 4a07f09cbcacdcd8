//! The fleet measurement of issue 14 (`bench/cluster.sh N`; ignored by `cargo test`): N agents, each in
//! its own node namespace, and the rollup against one API server of their own, with deploy/'s RBAC.
//! Phases, each measured from the audit log (requests per agent, told apart by the address each node's
//! relay connects from) and from /proc (CPU and memory of the API server, etcd, the rollup, the agents):
//!
//! 1. start: N agents start with no template selecting them, until every node published its
//!    HostNetwork (`Available`, `NoTemplates`) and no write came for a while;
//! 2. rollout: a template selecting all N nodes, until the rollup counts all N applied;
//! 3. rollout with `maxUnavailable` (`PLUMBER_FLEET_MAX_UNAVAILABLE`, 25 %): the template changed, the
//!    same until all N applied its new generation and no slot is left;
//! 4. idle: `PLUMBER_FLEET_IDLE_SECS` (300: longer than the 290 s a kube-rs watch lasts, so each watch
//!    is renewed once in the window) with nothing changing and the agents resyncing every 60 s (their
//!    default).
//!
//! It prints a table (markdown) of the numbers; BENCHMARKS.md keeps them. Not a timed test: it asserts
//! only that the fleet converged in each phase and that every agent request came from a node's
//! address.

mod phase;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::audit::{self, user};
use crate::harness::cluster::{assets, Cluster, AGENT_SA, ROLLUP_SA};
use crate::harness::kube::Kube;
use crate::harness::load;
use crate::harness::node::{SimNode, CASE};
use crate::harness::status::{self, counts, template_path};
use crate::harness::templates::Templates;
use crate::harness::wait;
use phase::{spread, Phase, Pids};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Waits until no write of the agents or the rollup for `quiet` (at most `limit`).
fn settle(c: &Cluster, quiet: Duration, limit: Duration) {
    let users = [user(AGENT_SA), user(ROLLUP_SA)];
    let mut seen = (usize::MAX, Instant::now());
    wait::until("the fleet to settle", limit, |last| {
        let n = audit::writes_by(&c.cp.audit_log, &users).len();
        if n != seen.0 {
            seen = (n, Instant::now());
        }
        *last = format!("{n} writes");
        (seen.1.elapsed() >= quiet).then_some(())
    });
}

/// Waits until template `name`'s status counts all `n` nodes applied at its current generation.
fn wait_all_applied(admin: &Kube, name: &str, n: i64, limit: Duration) {
    wait::until(&format!("{name}: {n} nodes applied"), limit, |last| {
        let t = admin.get(&template_path(name))?;
        *last = t["status"].to_string();
        let current = t["status"]["observedGeneration"] == t["metadata"]["generation"];
        (current && counts(&t) == (n, n, 0)).then_some(())
    });
}

fn template(max_unavailable: Option<&str>, nics: &[&str]) -> Value {
    let mut spec = json!({
        "nodeSelector": {CASE: "fleet"},
        "interfaceConfig": nics.iter().map(|n| json!({"name": n, "mtu": 9000})).collect::<Vec<_>>(),
    });
    if let Some(m) = max_unavailable {
        spec["maxUnavailable"] = m.parse::<u64>().map_or(json!(m), |n| json!(n));
    }
    spec
}

#[test]
#[ignore = "a measurement: bench/cluster.sh runs it"]
fn fleet_load() {
    let n: usize = env_or("PLUMBER_FLEET_NODES", 20);
    let idle = Duration::from_secs(env_or("PLUMBER_FLEET_IDLE_SECS", 300));
    let max_unavailable: String = env_or("PLUMBER_FLEET_MAX_UNAVAILABLE", "25%".to_string());
    let limit = Duration::from_secs(60 + 10 * n as u64);
    let assets = assets().expect("the fleet measurement needs the Kubernetes binaries");
    let t0 = Instant::now();
    let mut c = Cluster::start(&assets);
    c.start_rollup();
    let admin = c.admin();
    let templates = Templates::new(&c.cp.admin);
    let mut nodes: Vec<SimNode> = (1..=n)
        .map(|i| c.node(&format!("fleet-{i}"), &[(CASE, "fleet")]))
        .collect();
    eprintln!("{n} nodes made after {:?}", t0.elapsed());

    // The start phase counts requests from before the first agent ran.
    let before = load::mark(&c.cp.audit_log);
    for node in nodes.iter_mut() {
        node.start_agent();
    }
    let pids = Pids::of(&c, &nodes);
    let mut phases: Vec<Phase> = Vec::new();
    let p = phase::start(&c, &pids, "start (N agents, no template)").since(before);
    for node in &nodes {
        wait::until(&format!("{} published", node.name), limit, |last| {
            let hn = status::host_network(&admin, &node.name)?;
            *last = hn["status"]["conditions"].to_string();
            status::is(&hn, "Available", "True", "NoTemplates").then_some(())
        });
    }
    settle(&c, Duration::from_secs(5), limit);
    phases.push(p.end(&c, &pids, &nodes));
    eprintln!("started after {:?}", t0.elapsed());

    let p = phase::start(&c, &pids, "rollout, all at once");
    templates
        .apply(&admin, "fleet-net", template(None, &["eth1"]))
        .unwrap();
    wait_all_applied(&admin, "fleet-net", n as i64, limit);
    settle(&c, Duration::from_secs(5), limit);
    phases.push(p.end(&c, &pids, &nodes));
    for node in &nodes {
        assert_eq!(node.mtu("eth1"), Some(9000), "{}", node.name);
    }

    let p = phase::start(
        &c,
        &pids,
        &format!("rollout, maxUnavailable {max_unavailable}"),
    );
    templates
        .apply(
            &admin,
            "fleet-net",
            template(Some(&max_unavailable), &["eth1", "eth2"]),
        )
        .unwrap();
    wait_all_applied(&admin, "fleet-net", n as i64, limit * 3);
    settle(&c, Duration::from_secs(5), limit);
    phases.push(p.end(&c, &pids, &nodes));
    for node in &nodes {
        assert_eq!(node.mtu("eth2"), Some(9000), "{}", node.name);
    }

    let p = phase::start(&c, &pids, "idle");
    std::thread::sleep(idle);
    phases.push(p.end(&c, &pids, &nodes));
    for node in nodes.iter_mut() {
        assert!(node.agent_running(), "{}", node.agent_tail(20));
    }

    let agents_ua = load::user_agents(&c.cp.audit_log, &user(AGENT_SA));
    print_table(n, &phases);
    println!("\nUser-Agent of the agents' requests: {agents_ua:?}");
    println!("whole run: {:.0?}", t0.elapsed());
}

fn mb(kb: u64) -> String {
    format!("{:.0}", kb as f64 / 1024.0)
}

fn print_table(n: usize, phases: &[Phase]) {
    println!("\nFleet of {n} agents (bench/cluster.sh):\n");
    println!("| phase | time | agent requests: total (get+list / watch / write) | per agent min / median / max | writes per agent min / median / max | per agent per minute | rollup requests (writes) | API server CPU, RSS end / peak | etcd CPU, RSS end | rollup CPU, RSS | agents CPU, RSS sum |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for p in phases {
        let t = &p.agents_total;
        let mins = p.time.as_secs_f64() / 60.0;
        let per_min = t.all() as f64 / n as f64 / mins;
        let cpu = |i: usize| {
            format!(
                "{:.1} s ({:.0} %)",
                p.cpu[i].as_secs_f64(),
                100.0 * p.cpu[i].as_secs_f64() / p.time.as_secs_f64()
            )
        };
        println!(
            "| {} | {:.0} s | {} ({} / {} / {}) | {} | {} | {:.2} ({:.2} / {:.2} / {:.2}) | {} ({}) | {}, {} / {} MB | {}, {} MB | {}, {} MB | {}, {} MB |",
            p.name,
            p.time.as_secs_f64(),
            t.all(),
            t.reads(),
            t.watches(),
            t.writes(),
            spread(p.agents.iter().map(|c| c.all()).collect()),
            spread(p.agents.iter().map(|c| c.writes()).collect()),
            per_min,
            t.reads() as f64 / n as f64 / mins,
            t.watches() as f64 / n as f64 / mins,
            t.writes() as f64 / n as f64 / mins,
            p.rollup.all(),
            p.rollup.writes(),
            cpu(0),
            mb(p.end[0].rss_kb),
            mb(p.end[0].hwm_kb),
            cpu(1),
            mb(p.end[1].rss_kb),
            cpu(2),
            mb(p.end[2].rss_kb),
            cpu(3),
            mb(p.end[3].rss_kb),
        );
    }
    println!();
    for p in phases {
        println!(
            "{}: agents by verb {:?}; agents' writes: {}; rollup by verb {:?}, writes: {}; watches open at the end per agent (min / median / max) {}, the rollup's {}; TCP connections to the API server per agent {}",
            p.name,
            p.agents_total.verbs,
            p.agents_total.describe_writes(),
            p.rollup.verbs,
            p.rollup.describe_writes(),
            spread(p.agent_watches.clone()),
            p.rollup_watches,
            spread(p.agent_connections.clone())
        );
    }
}
