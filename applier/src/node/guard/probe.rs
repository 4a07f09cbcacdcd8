//! The guard's I/O: the probes taken before an apply ([`before`]) and checked again after it
//! ([`after`]). A gateway is asked through the kernel's neighbour machinery
//! ([`crate::node::netlink::neigh::confirm`]) on the link its path leaves by, an endpoint by a TCP connect.
//! All probes run at once; each waits on the kernel (a neighbour's state, a connection) until its
//! deadline.

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use super::{path, Endpoint, Path, Probe, BEFORE_MAX};
use crate::node::netlink::neigh::{self, Verdict};
use crate::node::netlink::Indexes;
use crate::node::state::CurrentState;

/// How long a probe that failed at once (no route yet, a connection refused) waits before it is tried
/// again, unless a link, address or route notification comes first.
const RETRY: Duration = Duration::from_millis(200);

/// Resolves `HOST:PORT` (`[V6]:PORT`) to its first address.
pub fn resolve(s: &str) -> Result<Endpoint, String> {
    use std::net::ToSocketAddrs;
    let addr = s
        .to_socket_addrs()
        .map_err(|e| format!("{s}: {e}"))?
        .next()
        .ok_or_else(|| format!("{s}: no address"))?;
    Ok(Endpoint {
        name: s.to_string(),
        addr,
    })
}

/// The probes taken before an apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Before {
    /// The probes that answered, with how long they took: the ones checked after the apply.
    pub(crate) answered: Vec<(Probe, Duration)>,
    /// The others, each as a line for the record.
    silent: Vec<String>,
}

impl Before {
    /// One line per probe, for the record.
    pub(crate) fn report(&self) -> Vec<String> {
        self.answered
            .iter()
            .map(|(p, took)| format!("{p}: answered in {} before the apply", ms(*took)))
            .chain(self.silent.iter().cloned())
            .collect()
    }
}

/// Takes `probes` on the node as `state` (`indexes`: its links' indexes), for at most [`BEFORE_MAX`]
/// (whatever the guard's timeout: a short one must not make a slow answer count as none).
pub(crate) async fn before(state: &CurrentState, indexes: &Indexes, probes: &[Probe]) -> Before {
    if probes.is_empty() {
        return Before::default();
    }
    let deadline = Instant::now() + BEFORE_MAX;
    let results = futures::future::join_all(probes.iter().map(|p| async move {
        let start = Instant::now();
        let r = match p {
            Probe::Gateway { .. } => match path(state, p) {
                None => Err("the node has no usable route to it".to_string()),
                Some(path) => neighbour(indexes.get(&path.dev).copied(), &path, deadline).await,
            },
            Probe::Endpoint { addr, .. } => connect(*addr, deadline).await,
        };
        (p, r.map(|()| start.elapsed()))
    }))
    .await;
    let mut out = Before::default();
    for (p, r) in results {
        match r {
            Ok(took) => out.answered.push((p.clone(), took)),
            Err(why) => out.silent.push(format!(
                "{p}: did not answer before the apply ({why}); not checked after it"
            )),
        }
    }
    out
}

/// What the check after an apply found.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct After {
    /// One line per probe, for the record.
    pub(crate) report: Vec<String>,
    /// The probes that answered before and no longer do, as the apply's error.
    pub(crate) lost: Option<String>,
}

/// Checks again, until `timeout` from now, every probe that answered `before`.
pub(crate) async fn after(handle: &rtnetlink::Handle, before: &Before, timeout: Duration) -> After {
    let deadline = Instant::now() + timeout;
    let results = futures::future::join_all(
        before
            .answered
            .iter()
            .map(|(p, took)| async move { (p, *took, again(handle, p, deadline, timeout).await) }),
    )
    .await;
    let mut report = Vec::new();
    let mut lost = Vec::new();
    for (p, took, r) in results {
        match r {
            Ok(now) => report.push(format!(
                "{p}: answered in {} before the apply and in {} after it",
                ms(took),
                ms(now)
            )),
            Err(why) => {
                report.push(format!(
                    "{p}: answered in {} before the apply, not after it: {why}",
                    ms(took)
                ));
                lost.push(format!(
                    "{p} no longer answers (it did before the apply): {why}"
                ));
            }
        }
    }
    report.extend(before.silent.iter().cloned());
    After {
        report,
        lost: (!lost.is_empty()).then(|| lost.join("; ")),
    }
}

/// Tries `probe` until it answers or `deadline` (`timeout` from the start of the check) passes; how
/// long it took, or why it did not answer.
async fn again(
    handle: &rtnetlink::Handle,
    probe: &Probe,
    deadline: Instant,
    timeout: Duration,
) -> Result<Duration, String> {
    let start = Instant::now();
    // Between attempts, a change to the node is a cue to try again at once.
    let mut changes = crate::node::netlink::events::subscribe().ok();
    loop {
        let why = match attempt(handle, probe, deadline).await {
            Ok(()) => return Ok(start.elapsed()),
            Err(why) => why,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(format!("{why} (waited {})", ms(timeout)));
        }
        let until = deadline.min(now + RETRY);
        match changes.as_mut() {
            Some(c) => {
                let _ = tokio::time::timeout_at(until, c.next()).await;
            }
            None => tokio::time::sleep_until(until).await,
        }
    }
}

/// One try: a gateway on the path the node has now, an endpoint by a connect.
async fn attempt(
    handle: &rtnetlink::Handle,
    probe: &Probe,
    deadline: Instant,
) -> Result<(), String> {
    match probe {
        Probe::Gateway { gateway, .. } => {
            let (state, indexes) = crate::node::netlink::discover_indexed(handle)
                .await
                .map_err(|e| e.to_string())?;
            let Some(p) = path(&state, probe) else {
                return Err(format!(
                    "the node has no usable IPv{} default route",
                    if gateway.is_ipv4() { 4 } else { 6 }
                ));
            };
            let r = neighbour(indexes.get(&p.dev).copied(), &p, deadline).await;
            if p.next_hop == *gateway {
                r
            } else {
                r.map_err(|e| {
                    format!(
                        "the default route now goes via {} dev {}: {e}",
                        p.next_hop, p.dev
                    )
                })
            }
        }
        Probe::Endpoint { addr, .. } => connect(*addr, deadline).await,
    }
}

/// The kernel's neighbour resolution of `path`'s next hop on its link.
async fn neighbour(index: Option<u32>, path: &Path, deadline: Instant) -> Result<(), String> {
    let Some(index) = index else {
        return Err(format!("{} is not on the node", path.dev));
    };
    let hop = path.next_hop;
    match neigh::confirm(index, hop, deadline).await {
        Ok(Verdict::Answered) => Ok(()),
        Ok(Verdict::Failed) => Err(format!(
            "no answer from {hop} on {} (neighbour FAILED)",
            path.dev
        )),
        Ok(Verdict::Pending(state)) => Err(format!(
            "no answer from {hop} on {} yet (neighbour {state})",
            path.dev
        )),
        Err(e) => Err(e.to_string()),
    }
}

async fn connect(addr: SocketAddr, deadline: Instant) -> Result<(), String> {
    match tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("connecting: {e}")),
        Err(_) => Err("no connection yet".to_string()),
    }
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}
