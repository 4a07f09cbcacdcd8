//! Why `plumber migrate` stopped, each with what to do about it.

use std::path::PathBuf;

/// A refusal (nothing changed) or a failure of one step (the steps before it are done; a re-run
/// finishes the job).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// HostPlumber's agent still runs: templates deleted under its finalizer would make it delete
    /// their OVS bridges on every node.
    #[error(
        "HostPlumber's agent still runs ({}): with its templates deleted it would delete their OVS bridges on every node; stop it first: {}",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        .0.iter().map(Agent::fix).collect::<Vec<_>>().join("; ")
    )]
    AgentRunning(Vec<Agent>),
    /// Template names held by several namespaces (one cluster-scoped object each).
    #[error(
        "templates of one name in several namespaces would be one cluster-scoped template: {}; nothing was changed: rename one (create it again under another name, then delete the old one)",
        .0.join("; ")
    )]
    SameName(Vec<String>),
    /// Templates plumber would not accept.
    #[error(
        "plumber would not accept these templates, so the switch would lose them: {}; nothing was changed: fix them in place (kubectl edit hostnetworktemplate NAME -n NAMESPACE) and run again",
        .0.join("; ")
    )]
    NotAccepted(Vec<String>),
    /// HostPlumber's templates are there but no file to export them to was given.
    #[error(
        "{0} HostPlumber template(s) to export first: give --export FILE (written before anything is changed)"
    )]
    NoExportFile(usize),
    /// HostPlumber's template CRD is gone or going (an interrupted run): its templates are in the
    /// export only.
    #[error(
        "HostPlumber's HostNetworkTemplate CRD is {0}: its templates are in the file the first run exported; finish with --from-export FILE"
    )]
    NeedExport(&'static str),
    /// `--from-export` while HostPlumber's template CRD is still there: its templates are read from
    /// the cluster.
    #[error(
        "HostPlumber's HostNetworkTemplate CRD is still there: its templates are read from the cluster; run with --export FILE instead of --from-export"
    )]
    ExportNotNeeded,
    #[error("writing the export {}: {source}", .path.display())]
    ExportWrite {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading the export {}: {message}", .path.display())]
    ExportRead { path: PathBuf, message: String },
    /// A request the API server refused (its message and HTTP status) or did not answer.
    #[error("{what}: {message}")]
    Api { what: String, message: String },
    /// Something did not happen in time.
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout { what: String, seconds: u64 },
    /// A template created whose spec, labels or annotations the server did not keep.
    #[error(
        "template {0} was created but the API server holds another spec, labels or annotations than the export's"
    )]
    NotKept(String),
    /// Templates already in plumber's CRD whose spec differs from the export: left as they are.
    #[error(
        "these templates exist with another spec than the export's and were left as they are: {}; compare them with the export and edit or delete them",
        .0.join(", ")
    )]
    Differs(Vec<String>),
}

/// One of HostPlumber's agents, by `(namespace, name)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agent {
    DaemonSet((String, String)),
    /// A pod of its agent, stopping after its DaemonSet was deleted.
    Pod((String, String)),
}

impl std::fmt::Display for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Agent::DaemonSet((ns, n)) => write!(f, "DaemonSet {ns}/{n}"),
            Agent::Pod((ns, n)) => write!(f, "pod {ns}/{n}"),
        }
    }
}

impl Agent {
    /// What to run about it.
    fn fix(&self) -> String {
        match self {
            Agent::DaemonSet((ns, n)) => format!("kubectl delete daemonset {n} -n {ns}"),
            Agent::Pod((ns, n)) => {
                format!("wait until it is gone (kubectl wait --for=delete pod/{n} -n {ns})")
            }
        }
    }
}

impl MigrateError {
    /// An API error with what was being done.
    pub(super) fn api(what: impl Into<String>) -> impl FnOnce(kube::Error) -> MigrateError {
        let what = what.into();
        move |e| MigrateError::Api {
            what,
            message: match e {
                kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
                e => plumber_render::report::with_causes(&e),
            },
        }
    }
}
