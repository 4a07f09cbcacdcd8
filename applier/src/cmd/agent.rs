//! `plumber agent`.

use clap::Args;

/// Run as the node's agent (the DaemonSet): watch the HostNetworkTemplates and this node's labels,
/// apply the templates that select the node (files + runtime, verify, rollback), repair drift on
/// netlink events and every --resync-secs, and publish the node's HostNetwork. Serves /healthz,
/// /readyz and /metrics on --port. Stops on SIGTERM or SIGINT (after the pass under way).
#[derive(Args)]
#[command(
    after_help = "Environment (the DaemonSet's): NODE_NAME (downward API, spec.nodeName), the host's root mounted at\n/host, hostNetwork and privileged; the API server from the pod's service account (or KUBECONFIG).\n\nExamples:\n  NODE_NAME=worker-1 plumber agent\n  plumber agent --node-name worker-1 --host-root / --log-format json"
)]
pub struct Agent {
    #[command(flatten)]
    config: plumber::agent::Config,
}

/// `mi_option_purge_delay` in `mi_option_e` (include/mimalloc.h, the same index in the v3 mimalloc builds by
/// default and in v2; libmimalloc-sys names
/// only some of the options).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps a long-running, mostly idle agent small (BENCHMARKS.md, "Agent footprint"): with mimalloc's
/// defaults its RSS grew from ≈ 45 to 90 MB while it slept, because
/// * khugepaged collapsed mimalloc's partly used 2 MiB ranges into transparent huge pages (RSS rising
///   every few seconds with no allocation and no CPU time of the agent's own): THP is turned off for
///   this process (and what it runs), which a DaemonSet can afford — its heap is small and cold;
/// * mimalloc returns freed pages to the kernel only on a later allocation, and an idle agent does not
///   allocate: purging is made immediate (a pass every minute frees its discovery at once).
fn lean_memory() {
    // SAFETY: prctl with constant arguments; mi_option_set only stores the value (called before any
    // other thread exists).
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

pub fn run(c: Agent) -> u8 {
    lean_memory();
    let cfg = c.config;
    if let Err(e) = plumber::agent::config::init_logging(cfg.log_format, &cfg.log) {
        super::report(&e);
        return 2;
    }
    // Worker threads run the watchers, the health server and the netlink connections while a pass
    // (which may block on sysfs or ovs-vsctl) runs on this thread.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            super::report(&e);
            return 1;
        }
    };
    match rt.block_on(plumber::agent::run(cfg)) {
        Ok(()) => 0,
        Err(e) => {
            // Once, through the log (JSON when asked), which goes to stderr.
            tracing::error!(error = %format!("{e:#}"), "plumber agent failed");
            1
        }
    }
}
