//! The applier's one error type.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file that could not be read or written: the path, then the system's reason. The reason is
    /// in the message and deliberately not a `source`: error chains printed with their causes
    /// (`{:#}`) would say it twice.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    /// A file plumber would write exists and is not plumber's.
    #[error(
        "{0} exists and was not installed by plumber; move it away or delete it, then apply again"
    )]
    Foreign(String),
    #[error("manifest {path}: {message}")]
    Manifest { path: String, message: String },
    /// An artifact path that is not absolute and normal, or that clashes with another artifact.
    #[error("{path}: {reason}")]
    BadPath { path: String, reason: String },
    /// An install left a transaction that was neither committed nor rolled back.
    #[error("{0}")]
    Transaction(String),
    #[error("{0}")]
    Sysfs(String),
    /// A sysfs plan failed part-way and executed the inverses of the steps done before it.
    #[error("{0}")]
    SysfsApply(Box<Failed>),
    #[error(transparent)]
    Render(#[from] plumber_render::Error),
    /// The node cannot be brought to the desired state by changing it (a NIC is missing, ...).
    #[error(transparent)]
    Plan(#[from] crate::node::plan::PlanError),
    /// The host under the root would not read the distro profile's network files (its network stack
    /// is off or missing); nothing was changed.
    #[error("{0}")]
    HostStack(String),
    /// No distro profile for the installed system.
    #[error("{0}")]
    Distro(String),
    /// A netlink request failed outside an `apply` (discovery, opening the socket, one `execute`).
    #[error("netlink: {0}")]
    Netlink(String),
    /// `netlink::apply` failed part-way and executed the rollback of the ops done before it.
    #[error("{0}")]
    Apply(Box<Failed>),
    /// OVSDB could not be read or reached, or an OVS plan could not be turned into ovs-vsctl commands.
    #[error("ovs: {0}")]
    Ovs(String),
    /// The apply would let go of what earlier applies made for templates it no longer selects, and
    /// letting go was not asked for (`--prune`); the message lists what and why.
    #[error("{0}")]
    LetGo(String),
    /// The plan cuts the node off from a probe of the connectivity guard: nothing was changed.
    #[error("connectivity guard: {0}")]
    Guard(String),
}

/// A sequence of changes (netlink ops, sysfs steps) that failed at one of them and was rolled back.
#[derive(Debug)]
pub struct Failed {
    /// The failed op or step, as `--dry-run` prints it.
    pub at: String,
    pub error: String,
    /// The rollback ops or steps executed, in order.
    pub rolled_back: Vec<String>,
    /// Rollback ops or steps that failed too (the node is then neither as it was nor as desired).
    pub rollback_failed: Vec<String>,
    /// A one-line summary of the rollback.
    pub rollback: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}; {}", self.at, self.error, self.rollback)
    }
}

impl Error {
    pub(crate) fn io(path: impl std::fmt::Display, error: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            error,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
