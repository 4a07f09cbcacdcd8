//! `Ovsdb`: how plumber calls ovs-vsctl. Always an argument vector (never a shell), always `--timeout`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::node::{Error, Result};

/// Where and how to reach OVSDB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ovsdb {
    /// The ovs-vsctl binary (a bare name is looked up in `PATH`).
    pub vsctl: PathBuf,
    /// `--db=unix:SOCKET`; `None` is ovs-vsctl's default database.
    pub socket: Option<PathBuf>,
    /// `--no-wait`: do not wait for ovs-vswitchd to reconfigure (no ovs-vswitchd runs, as in tests).
    pub no_wait: bool,
    /// `--timeout`, in whole seconds (at least 1).
    pub timeout: Duration,
    /// Run ovs-vsctl chrooted into this directory: the host's root, seen from the agent's container.
    /// The binary and the socket are then host paths, so the client is the host's own (the version of
    /// its ovs-vswitchd, with its libraries) and the host's `/var/run -> /run` link resolves on the
    /// host, not in the container.
    pub chroot: Option<PathBuf>,
}

/// ovs-vsctl failed: its exit status and what it printed on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsctlError {
    status: String,
    stderr: String,
}

impl std::fmt::Display for VsctlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.stderr.is_empty() {
            write!(f, "ovs-vsctl {}", self.status)
        } else {
            write!(f, "ovs-vsctl {}: {}", self.status, self.stderr)
        }
    }
}

impl Default for Ovsdb {
    /// The system's database through `ovs-vsctl` from `PATH`, waiting for ovs-vswitchd, 10 s timeout.
    fn default() -> Self {
        Ovsdb {
            vsctl: PathBuf::from("ovs-vsctl"),
            socket: None,
            no_wait: false,
            timeout: Duration::from_secs(10),
            chroot: None,
        }
    }
}

impl Ovsdb {
    /// A private database on a unix socket, not waiting for ovs-vswitchd (tests).
    pub fn at_socket(vsctl: impl Into<PathBuf>, socket: impl Into<PathBuf>) -> Self {
        Ovsdb {
            vsctl: vsctl.into(),
            socket: Some(socket.into()),
            no_wait: true,
            ..Ovsdb::default()
        }
    }

    /// The host's database through the host's `/usr/bin/ovs-vsctl`, run chrooted into `host_root`
    /// (the agent in its container), on `socket` (a host path) or ovs-vsctl's default.
    pub fn on_host(host_root: impl Into<PathBuf>, socket: Option<PathBuf>) -> Self {
        Ovsdb {
            vsctl: PathBuf::from("/usr/bin/ovs-vsctl"),
            socket,
            chroot: Some(host_root.into()),
            ..Ovsdb::default()
        }
    }

    /// The options that go before every command.
    fn options(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(s) = &self.socket {
            v.push(format!("--db=unix:{}", s.display()));
        }
        if self.no_wait {
            v.push("--no-wait".into());
        }
        v.push(format!("--timeout={}", self.timeout.as_secs().max(1)));
        v
    }

    /// Runs ovs-vsctl with [`options`](Self::options) and then `args`; its stdout on success.
    pub(crate) fn run(&self, args: &[String]) -> std::result::Result<String, VsctlError> {
        let mut cmd = Command::new(&self.vsctl);
        if let Some(root) = &self.chroot {
            use std::os::unix::ffi::OsStrExt;
            use std::os::unix::process::CommandExt;
            let dir =
                std::ffi::CString::new(root.as_os_str().as_bytes()).map_err(|_| VsctlError {
                    status: "could not be started".into(),
                    stderr: format!("{}: a NUL byte in the path", root.display()),
                })?;
            // SAFETY: between fork and exec only chroot(2) and chdir(2) run, on memory allocated
            // before the fork; both are async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::chroot(dir.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let out = cmd
            .args(self.options())
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| VsctlError {
                status: "could not be started".into(),
                stderr: match &self.chroot {
                    Some(r) => format!("{} (in {}): {e}", self.vsctl.display(), r.display()),
                    None => format!("{}: {e}", self.vsctl.display()),
                },
            })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(VsctlError {
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    /// Whether OVSDB answers (`get Open_vSwitch . _uuid`).
    pub fn reachable(&self) -> bool {
        self.check().is_ok()
    }

    /// Like [`reachable`](Self::reachable), with the reason when it is not.
    pub fn check(&self) -> Result<()> {
        self.run(&[
            "get".into(),
            "Open_vSwitch".into(),
            ".".into(),
            "_uuid".into(),
        ])
        .map(|_| ())
        .map_err(|e| Error::Ovs(format!("OVSDB is not reachable: {e}")))
    }
}

/// A bridge, port or interface name as a separate argument: never empty, never an option.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.starts_with('-') {
        return Err(Error::Ovs(format!(
            "refusing OVS name {name:?}: it would be read as an ovs-vsctl option"
        )));
    }
    Ok(())
}
