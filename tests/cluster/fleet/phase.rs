//! One phase of the fleet measurement (start, a rollout, idle): its time, the requests of the agents
//! and of the rollup from the audit log, and what the API server, etcd, the rollup and the agents
//! cost in it (CPU from /proc, memory at its end).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::harness::cluster::{Cluster, AGENT_SA, ROLLUP_SA};
use crate::harness::load::{self, Counts, Mark};
use crate::harness::node::SimNode;
use crate::harness::usage::{self, Usage};

/// The processes measured, by name.
pub struct Pids {
    pub apiserver: u32,
    pub etcd: u32,
    pub rollup: u32,
    pub agents: Vec<u32>,
}

impl Pids {
    pub fn of(c: &Cluster, nodes: &[SimNode]) -> Pids {
        let (apiserver, etcd) = c.cp.pids();
        Pids {
            apiserver: apiserver.expect("the API server runs"),
            etcd: etcd.expect("etcd runs"),
            rollup: c.rollup_pid().expect("the rollup runs"),
            agents: nodes
                .iter()
                .map(|n| n.agent_pid().expect("the agent runs"))
                .collect(),
        }
    }

    fn read(&self) -> [Usage; 4] {
        let one = |p: u32| usage::read(p).unwrap_or_default();
        [
            one(self.apiserver),
            one(self.etcd),
            one(self.rollup),
            usage::total(self.agents.iter().copied()),
        ]
    }
}

/// A phase under way.
pub struct Started {
    name: String,
    at: Instant,
    mark: Mark,
    usage: [Usage; 4],
}

/// A phase measured.
pub struct Phase {
    pub name: String,
    pub time: Duration,
    /// Requests per agent (by source address), every agent present (zero counts included).
    pub agents: Vec<Counts>,
    /// The agents' requests added up.
    pub agents_total: Counts,
    pub rollup: Counts,
    /// CPU used in the phase and memory at its end: API server, etcd, rollup, agents (summed).
    pub cpu: [Duration; 4],
    pub end: [Usage; 4],
    /// Watches open at the end, per agent, and the rollup's.
    pub agent_watches: Vec<usize>,
    pub rollup_watches: usize,
    /// TCP connections to the API server open at the end, per agent (from its node's address).
    pub agent_connections: Vec<usize>,
}

/// Starts measuring phase `name`.
pub fn start(c: &Cluster, pids: &Pids, name: &str) -> Started {
    Started {
        name: name.to_string(),
        at: Instant::now(),
        mark: load::mark(&c.cp.audit_log),
        usage: pids.read(),
    }
}

impl Started {
    /// Counts requests from `mark` on (taken before the processes existed).
    pub fn since(mut self, mark: Mark) -> Started {
        self.mark = mark;
        self
    }

    /// Ends the phase now.
    pub fn end(self, c: &Cluster, pids: &Pids, nodes: &[SimNode]) -> Phase {
        let time = self.at.elapsed();
        let end = pids.read();
        let log = &c.cp.audit_log;
        let to = load::mark(log);
        let agent = crate::harness::audit::user(AGENT_SA);
        let rollup = crate::harness::audit::user(ROLLUP_SA);
        let mut per: BTreeMap<String, Counts> = load::by_source(log, self.mark, to, &agent);
        let agents: Vec<Counts> = nodes
            .iter()
            .map(|n| per.remove(&n.source.to_string()).unwrap_or_default())
            .collect();
        assert!(
            per.is_empty(),
            "requests of the agents' identity from no node's address: {:?}",
            per.keys()
        );
        let open = load::open_watches(log, to, &agent);
        let agent_watches = nodes
            .iter()
            .map(|n| open.get(&n.source.to_string()).copied().unwrap_or(0))
            .collect();
        let rollup_watches = load::open_watches(log, to, &rollup).values().sum();
        let conns = usage::connections_to(c.cp.port);
        let agent_connections = nodes
            .iter()
            .map(|n| conns.get(&n.source).copied().unwrap_or(0))
            .collect();
        let cpu = std::array::from_fn(|i| end[i].cpu.saturating_sub(self.usage[i].cpu));
        Phase {
            name: self.name,
            time,
            agents_total: load::of_user(log, self.mark, to, &agent),
            agents,
            rollup: load::of_user(log, self.mark, to, &rollup),
            cpu,
            end,
            agent_watches,
            rollup_watches,
            agent_connections,
        }
    }
}

/// min / median / max of `v`.
pub fn spread(mut v: Vec<usize>) -> String {
    v.sort_unstable();
    if v.is_empty() {
        return "-".into();
    }
    format!("{} / {} / {}", v[0], v[v.len() / 2], v[v.len() - 1])
}
