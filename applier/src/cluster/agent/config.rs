//! The agent's settings: command-line options, each with an environment variable for the DaemonSet.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// The port of /healthz, /readyz and /metrics (on the host: the agent runs with hostNetwork).
pub const DEFAULT_PORT: u16 = 9472;

#[derive(Args, Debug, Clone)]
pub struct Config {
    /// This node's name (the DaemonSet sets NODE_NAME from the downward API, spec.nodeName).
    #[arg(long, env = "NODE_NAME")]
    pub(crate) node_name: String,
    /// The namespace of the rollout slots (Leases; the DaemonSet sets POD_NAMESPACE from the downward
    /// API). Default: the client's (the service account's namespace in a pod, else the kubeconfig's).
    #[arg(long, env = "POD_NAMESPACE")]
    pub(crate) namespace: Option<String>,
    /// Where the host's root filesystem is mounted: files are installed under it, its os-release picks
    /// the distro.
    #[arg(long, env = "PLUMBER_HOST_ROOT", default_value = "/host")]
    pub(crate) host_root: PathBuf,
    /// The state directory as a host path (manifest, journal, last-apply.json, runtime.json, lock).
    #[arg(long, env = "PLUMBER_STATE_DIR", default_value = crate::node::install::DEFAULT_STATE_DIR)]
    pub(crate) state_dir: PathBuf,
    /// Where sysfs is (the host's, in a privileged pod).
    #[arg(long, env = "PLUMBER_SYSFS", default_value = "/sys")]
    pub(crate) sysfs: PathBuf,
    /// OVSDB's unix socket, as a host path. Default: ovs-vsctl's own. When HOST_ROOT is not `/`, the
    /// host's `/usr/bin/ovs-vsctl` runs chrooted into HOST_ROOT (the client of the host's OVS version,
    /// and host paths resolve as on the host).
    #[arg(long, env = "PLUMBER_OVSDB_SOCKET")]
    pub(crate) ovsdb_socket: Option<PathBuf>,
    /// Override the distro found in HOST_ROOT/etc/os-release.
    #[arg(long, env = "PLUMBER_DISTRO")]
    pub(crate) distro: Option<String>,
    /// Port of /healthz, /readyz and /metrics.
    #[arg(long, env = "PLUMBER_PORT", default_value_t = DEFAULT_PORT)]
    pub(crate) port: u16,
    /// Address to listen on for them.
    #[arg(long, env = "PLUMBER_BIND", default_value = "0.0.0.0")]
    pub(crate) bind: std::net::IpAddr,
    /// Log format.
    /// Who may read /metrics: `kubernetes`, a bearer token the API server authenticates and allows
    /// `get` on /metrics (ClusterRole plumber-metrics-reader); `loopback`, this node only; `open`,
    /// everyone. /healthz and /readyz are always open (the kubelet's probes).
    #[arg(
        long,
        env = "PLUMBER_METRICS_ACCESS",
        value_enum,
        default_value = "kubernetes"
    )]
    pub metrics_access: crate::cluster::metrics_access::Mode,
    #[arg(long, env = "PLUMBER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log filter: a level (info, debug) or target=level pairs (plumber=debug,kube=info).
    #[arg(long, env = "PLUMBER_LOG", default_value = "info")]
    pub log: String,
    /// Re-apply and re-discover this often even without events (drift the kernel does not announce:
    /// sysfs, OVSDB, files; discovery changes netlink does not report).
    #[arg(long, env = "PLUMBER_RESYNC_SECS", default_value_t = 60)]
    resync_secs: u64,
    /// Quiet time after a burst of events (template, Node or netlink changes) before reconciling.
    #[arg(long, env = "PLUMBER_DEBOUNCE_MS", default_value_t = 500)]
    debounce_ms: u64,
    /// Connectivity guard: how long the default gateways and the API server, when they answered
    /// before an apply, have to answer again after its changes before everything is rolled back (0
    /// turns the guard off). A template annotated plumber.k8s.pf9.io/allow-disconnect: "true" may
    /// remove their paths.
    #[arg(long, env = "PLUMBER_GUARD_TIMEOUT_SECS", default_value_t = 20)]
    guard_timeout_secs: u64,
    /// All or nothing on this node: refuse an apply when a template entry selects a device the node
    /// does not have (an SR-IOV PF by pfName, pciAddr or vendorId/deviceId), instead of applying the
    /// rest and reporting the entry as skipped. A template annotated plumber.k8s.pf9.io/strict: "true"
    /// is strict on its own.
    #[arg(long, env = "PLUMBER_STRICT")]
    pub(crate) strict: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    pub(crate) fn guard_timeout(&self) -> Duration {
        Duration::from_secs(self.guard_timeout_secs)
    }

    pub(crate) fn watch(&self) -> crate::node::watch::WatchConfig {
        crate::node::watch::WatchConfig {
            debounce: Duration::from_millis(self.debounce_ms),
            resync: Duration::from_secs(self.resync_secs),
        }
    }
}

/// Installs the tracing subscriber: human-readable or JSON lines on stderr, filtered by `filter`.
pub fn init_logging(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let targets: Targets = filter
        .parse()
        .map_err(|e| anyhow::anyhow!("log filter {filter:?}: {e}"))?;
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(targets);
    match format {
        LogFormat::Text => registry.with(fmt.with_ansi(false)).try_init()?,
        LogFormat::Json => registry.with(fmt.json().flatten_event(true)).try_init()?,
    }
    Ok(())
}
