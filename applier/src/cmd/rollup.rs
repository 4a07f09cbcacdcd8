//! `plumber rollup`.

use std::time::Duration;

use clap::Args;
use plumber::cluster::agent::config::LogFormat;

/// Run as the template status rollup (a one-replica Deployment, no host access): watch the
/// HostNetworkTemplates, the Nodes and every node's HostNetwork, and write each template's status
/// (nodes matched, applied, failed; Available, Progressing, Degraded) when it changes. Serves
/// /healthz, /readyz and /metrics on --port. Stops on SIGTERM or SIGINT.
#[derive(Args)]
#[command(
    after_help = "Environment: the API server from the pod's service account (or KUBECONFIG); RBAC as\nplumber::cluster::access::ROLLUP (deploy/rbac.yaml).\n\nExamples:\n  plumber rollup\n  plumber rollup --log-format json --debounce-ms 2000"
)]
pub(crate) struct Rollup {
    /// Port of /healthz, /readyz and /metrics.
    #[arg(long, env = "PLUMBER_ROLLUP_PORT", default_value_t = plumber::cluster::rollup::DEFAULT_PORT)]
    port: u16,
    /// Address to listen on for them.
    #[arg(long, env = "PLUMBER_BIND", default_value = "0.0.0.0")]
    bind: std::net::IpAddr,
    /// Who may read /metrics: `kubernetes`, a bearer token the API server authenticates and allows
    /// `get` on /metrics (ClusterRole plumber-metrics-reader); `loopback`, this host only; `open`,
    /// everyone. /healthz and /readyz are always open (the kubelet's probes).
    #[arg(
        long,
        env = "PLUMBER_METRICS_ACCESS",
        value_enum,
        default_value = "kubernetes"
    )]
    metrics_access: plumber::cluster::metrics_access::Mode,
    /// Log format.
    #[arg(long, env = "PLUMBER_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Log filter: a level (info, debug) or target=level pairs (plumber=debug,kube=info).
    #[arg(long, env = "PLUMBER_LOG", default_value = "info")]
    log: String,
    /// Quiet time after a burst of changes (templates, Nodes, HostNetworks) before the statuses are
    /// recomputed (at most 4 times this after the burst's first change).
    #[arg(long, env = "PLUMBER_DEBOUNCE_MS", default_value_t = 1000)]
    debounce_ms: u64,
}

pub(crate) fn run(c: Rollup) -> u8 {
    let cfg = plumber::cluster::rollup::Config {
        bind: c.bind,
        port: c.port,
        debounce: Duration::from_millis(c.debounce_ms),
        metrics_access: c.metrics_access,
    };
    super::run_service(
        "rollup",
        c.log_format,
        &c.log,
        plumber::cluster::rollup::run(cfg),
    )
}
