//! A cluster as the tests use it: a [`ControlPlane`] with deploy/ installed, kubeconfigs holding the
//! tokens of deploy/'s two ServiceAccounts (so exactly deploy/'s RBAC is what the agents and the rollup
//! get), and `plumber rollup` running as its ServiceAccount. One is shared by the tests that can share
//! it ([`shared`], distinct node and template names and a distinct [`super::node::CASE`] label each);
//! a test that stops the API server or counts every write makes its own ([`Cluster::start`]).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Once, OnceLock};

use super::apiserver::{free_port, ControlPlane};
use super::assets::{self, Assets};
use super::deploy::{self, NAMESPACE};
use super::kube::Kube;
use super::node::SimNode;
use super::process::Proc;

/// The agent's ServiceAccount (deploy/rbac.yaml).
pub const AGENT_SA: &str = "plumber-agent";
/// The rollup's ServiceAccount.
pub const ROLLUP_SA: &str = "plumber-rollup";

/// A control plane with deploy/ installed.
pub struct Cluster {
    /// A kubeconfig with a token of the agent's ServiceAccount.
    pub agent_kubeconfig: PathBuf,
    /// A kubeconfig with a token of the rollup's ServiceAccount.
    pub rollup_kubeconfig: PathBuf,
    rollup: Option<Proc>,
    /// etcd and the API server (last: the rollup stops before them).
    pub cp: ControlPlane,
}

impl Cluster {
    /// Starts a control plane, installs deploy/ and makes the two identities' kubeconfigs; the
    /// processes belong to the calling thread (they are killed when it exits).
    pub fn start(assets: &Assets) -> Cluster {
        let cp = ControlPlane::start(assets);
        let admin = cp.admin();
        deploy::install(&admin);
        let agent = deploy::token(&admin, AGENT_SA);
        let rollup = deploy::token(&admin, ROLLUP_SA);
        Cluster {
            agent_kubeconfig: cp.kubeconfig_for(AGENT_SA, &agent, NAMESPACE),
            rollup_kubeconfig: cp.kubeconfig_for(ROLLUP_SA, &rollup, NAMESPACE),
            rollup: None,
            cp,
        }
    }

    /// An administrator's client.
    pub fn admin(&self) -> Kube {
        self.cp.admin()
    }

    /// A node with `labels` (its agent not started yet).
    pub fn node(&self, name: &str, labels: &[(&str, &str)]) -> SimNode {
        SimNode::new(self, name, labels)
    }

    /// The rollup's process id, while it runs.
    pub fn rollup_pid(&self) -> Option<u32> {
        self.rollup.as_ref().and_then(|p| p.pid())
    }

    /// Starts `plumber rollup` as the rollup's ServiceAccount, in the test process's network namespace.
    pub fn start_rollup(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_plumber"));
        cmd.args(["rollup", "--bind", "127.0.0.1", "--port"])
            .arg(free_port().to_string())
            .args(["--debounce-ms", "300", "--log", "plumber=debug,warn"])
            .env("KUBECONFIG", &self.rollup_kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST");
        let log = self.cp.dir().join("rollup.log");
        self.rollup = Some(Proc::spawn("rollup", cmd, &log));
    }
}

/// The assets, or `None` (outside CI, after saying once that the cluster tests did not run); in CI
/// (`CI=true`) their absence fails the test.
pub fn assets() -> Option<Assets> {
    static SAID: Once = Once::new();
    match assets::find() {
        Ok(a) => Some(a),
        Err(why) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("the cluster tests need a Kubernetes API server: {why}");
            }
            // Straight to standard error: libtest captures eprintln! of a passing test.
            SAID.call_once(|| {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "cluster tests did not run: {why}");
            });
            None
        }
    }
}

static SHARED: OnceLock<Option<&'static Cluster>> = OnceLock::new();
static SHARED_PTR: AtomicPtr<Cluster> = AtomicPtr::new(std::ptr::null_mut());

/// Stops the shared cluster when the test process exits (statics are never dropped).
extern "C" fn stop_shared() {
    let p = SHARED_PTR.swap(std::ptr::null_mut(), Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: made by Box::into_raw below, taken once; the tests have finished.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// The cluster the tests share, started on first use by a thread that lives as long as the test process
/// (its processes die with it), and stopped at exit. `None` when the assets are missing (see
/// [`assets`]).
pub fn shared() -> Option<&'static Cluster> {
    *SHARED.get_or_init(|| {
        let assets = assets()?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("shared-cluster".into())
            .spawn(move || {
                let started = std::panic::catch_unwind(|| {
                    let mut c = Cluster::start(&assets);
                    c.start_rollup();
                    c
                });
                match started {
                    Ok(c) => {
                        let p = Box::into_raw(Box::new(c));
                        SHARED_PTR.store(p, Ordering::SeqCst);
                        // SAFETY: libc::atexit with a function that never unwinds.
                        unsafe { libc::atexit(stop_shared) };
                        tx.send(Some(p as usize)).unwrap();
                        loop {
                            std::thread::park();
                        }
                    }
                    Err(_) => tx.send(None).unwrap(),
                }
            })
            .unwrap();
        let p = rx
            .recv()
            .unwrap()
            .expect("the shared cluster did not start (see the panic above)");
        // SAFETY: the box lives until exit.
        Some(unsafe { &*(p as *const Cluster) })
    })
}
