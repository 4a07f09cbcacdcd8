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

pub fn run(c: Agent) -> u8 {
    super::lean_memory();
    let cfg = c.config;
    if let Err(e) = plumber::agent::config::init_logging(cfg.log_format, &cfg.log) {
        super::report(&e);
        return 2;
    }
    let rt = match super::service_runtime() {
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
