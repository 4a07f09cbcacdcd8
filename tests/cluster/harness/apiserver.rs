//! A control plane of our own: Debian's etcd and the real `kube-apiserver` on free loopback ports, with
//! the keys of [`super::certs`], an administrator (a static token in group `system:masters`), RBAC and
//! Node authorization, service-account tokens, and an audit log of every write request. Dropping the
//! [`ControlPlane`] stops both processes and removes their directory.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::assets::Assets;
use super::kube::{kubeconfig, Kube};
use super::process::Proc;
use super::wait;

/// How long the API server may take to be ready (3–4 s on a quiet machine; much more under load).
pub const READY: Duration = Duration::from_secs(90);

/// Audit every write, and the reads of plumber's two identities (their watches show reconnects), with
/// their metadata only: who, which verb, which object.
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: Metadata
    users:
      - system:serviceaccount:plumber-system:plumber-agent
      - system:serviceaccount:plumber-system:plumber-rollup
    verbs: [get, list, watch]
  - level: None
";

/// A free TCP port on 127.0.0.1 (bound and released: the kernel does not hand it out again at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// etcd and the API server.
pub struct ControlPlane {
    /// The API server's port on 127.0.0.1.
    pub port: u16,
    /// The CA that signed the serving certificate.
    pub ca: PathBuf,
    /// The administrator's kubeconfig.
    pub admin: PathBuf,
    /// The audit log: one JSON line per write request (and per list and watch of plumber's identities).
    pub audit_log: PathBuf,
    apiserver_bin: PathBuf,
    etcd_url: String,
    apiserver: Option<Proc>,
    etcd: Proc,
    // Last: removed after the processes are gone.
    dir: tempfile::TempDir,
}

impl ControlPlane {
    /// Starts etcd and the API server and waits until `/readyz` answers `ok`.
    pub fn start(assets: &Assets) -> ControlPlane {
        let dir = tempfile::Builder::new()
            .prefix("plumber-cluster-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let ca = super::certs::make(d);
        let (client, peer) = (free_port(), free_port());
        let etcd_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut etcd = Command::new(&assets.etcd);
        etcd.args(["--name", "default", "--data-dir"])
            .arg(d.join("etcd"))
            .args(["--listen-client-urls", &etcd_url])
            .args(["--advertise-client-urls", &etcd_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("default={peer_url}")]);
        let mut etcd = Proc::spawn("etcd", etcd, &d.join("etcd.log"));
        wait::until("etcd's /health", READY, |last| {
            assert!(etcd.running(), "etcd exited:\n{}", etcd.tail(30));
            *last = http_get(client, "/health");
            last.contains("\"health\":\"true\"").then_some(())
        });
        let token = format!("admin-{}-{}", std::process::id(), client);
        std::fs::write(
            d.join("tokens.csv"),
            format!("{token},admin,admin-uid,\"system:masters\"\n"),
        )
        .unwrap();
        std::fs::write(d.join("audit-policy.yaml"), AUDIT_POLICY).unwrap();
        let port = free_port();
        let admin = d.join("admin.kubeconfig");
        std::fs::write(&admin, kubeconfig(port, &ca, &token, "default")).unwrap();
        let mut cp = ControlPlane {
            port,
            ca,
            admin,
            audit_log: d.join("audit.log"),
            apiserver_bin: assets.apiserver.clone(),
            etcd_url,
            apiserver: None,
            etcd,
            dir,
        };
        cp.start_apiserver();
        cp
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the API server (again, after [`Self::stop_apiserver`]: same port, same data) and waits
    /// until it is ready.
    pub fn start_apiserver(&mut self) {
        let p = |n: &str| self.path(n).display().to_string();
        let mut cmd = Command::new(&self.apiserver_bin);
        cmd.args([
            format!("--etcd-servers={}", self.etcd_url),
            format!("--secure-port={}", self.port),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--tls-cert-file={}", p("server.crt")),
            format!("--tls-private-key-file={}", p("server.key")),
            format!("--client-ca-file={}", p("ca.crt")),
            format!("--token-auth-file={}", p("tokens.csv")),
            "--authorization-mode=Node,RBAC".into(),
            // As kubeadm and every distribution set it: the agent's DaemonSet is privileged.
            "--allow-privileged=true".into(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!("--service-account-key-file={}", p("sa.pub")),
            format!("--service-account-signing-key-file={}", p("sa.key")),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            format!("--cert-dir={}", p("apiserver-certs")),
            format!("--audit-policy-file={}", p("audit-policy.yaml")),
            format!("--audit-log-path={}", p("audit.log")),
            "--audit-log-mode=blocking".into(),
        ]);
        let mut proc = Proc::spawn("kube-apiserver", cmd, &self.path("apiserver.log"));
        let admin = Kube::new(&self.admin);
        let start = Instant::now();
        wait::until("the API server's /readyz", READY, |last| {
            assert!(proc.running(), "kube-apiserver exited:\n{}", proc.tail(40));
            match admin.try_get("/readyz") {
                Ok(v) if v.as_str() == Some("ok") => Some(()),
                other => {
                    *last = format!("{other:?} after {:?}", start.elapsed());
                    None
                }
            }
        });
        self.apiserver = Some(proc);
    }

    /// Stops the API server (SIGTERM, then reaped); etcd keeps the data.
    pub fn stop_apiserver(&mut self) {
        if let Some(mut p) = self.apiserver.take() {
            p.terminate();
        }
    }

    /// A kubeconfig file for `token`, in namespace `namespace`.
    pub fn kubeconfig_for(&self, name: &str, token: &str, namespace: &str) -> PathBuf {
        let path = self.path(&format!("{name}.kubeconfig"));
        std::fs::write(&path, kubeconfig(self.port, &self.ca, token, namespace)).unwrap();
        path
    }

    /// The directory the control plane keeps its files in (logs of the processes the tests start too).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// An administrator's client.
    pub fn admin(&self) -> Kube {
        Kube::new(&self.admin)
    }

    /// The process ids of the API server (while it runs) and etcd.
    pub fn pids(&self) -> (Option<u32>, Option<u32>) {
        (
            self.apiserver.as_ref().and_then(|p| p.pid()),
            self.etcd.pid(),
        )
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop_apiserver();
        self.etcd.kill();
    }
}

/// A plain HTTP GET on 127.0.0.1:`port` (etcd's client URL): the response, or the error.
fn http_get(port: u16, path: &str) -> String {
    let go = || -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    go().unwrap_or_else(|e| e.to_string())
}
