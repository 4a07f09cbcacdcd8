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
pub(crate) struct Agent {
    #[command(flatten)]
    config: plumber::cluster::agent::Config,
}

pub(crate) fn run(c: Agent) -> u8 {
    let cfg = c.config;
    let (format, log) = (cfg.log_format, cfg.log.clone());
    super::run_service(
        "agent",
        format,
        &log,
        plumber::cluster::agent::run(cfg, super::after_pass),
    )
}
