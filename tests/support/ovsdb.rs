// A private ovsdb-server for tests, shared by the renderer's script tests (tests/render/ovs_ovsdb.rs) and
// the applier's OVS tests (tests/apply/ovs.rs): both `include!` this file, so there is one copy.
// No ovs-vswitchd runs, so every ovs-vsctl call passes `--no-wait`. A missing tool fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Path of a required Open vSwitch tool (or `sh`); panics with the fix when it is missing (never a
/// silent skip).
pub fn require_tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("required tool {name} is not installed; run the README's test command (./ci-test.sh), which installs it");
}

/// An ovsdb-server on a private database, killed (and its directory removed) on drop.
pub struct Ovsdb {
    pub child: Child,
    pub sock: PathBuf,
    pub dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl Ovsdb {
    pub fn start() -> Ovsdb {
        let dir = tempfile::Builder::new()
            .prefix("plumber-ovsdb-")
            .tempdir()
            .unwrap();
        let db = dir.path().join("conf.db");
        let sock = dir.path().join("db.sock");
        let st = Command::new(require_tool("ovsdb-tool"))
            .arg("create")
            .arg(&db)
            .arg("/usr/share/openvswitch/vswitch.ovsschema")
            .status()
            .unwrap();
        assert!(st.success(), "ovsdb-tool create failed");
        let child = Command::new(require_tool("ovsdb-server"))
            .arg(&db)
            .arg(format!("--remote=punix:{}", sock.display()))
            .arg(format!("--unixctl={}", dir.path().join("ctl").display()))
            .arg("--no-chdir")
            .env("OVS_RUNDIR", dir.path())
            .env("OVS_LOGDIR", dir.path())
            .env("OVS_DBDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut s = Ovsdb { child, sock, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !s.sock.exists() {
            if let Some(st) = s.child.try_wait().unwrap() {
                panic!("ovsdb-server exited: {st}");
            }
            assert!(
                Instant::now() < deadline,
                "ovsdb-server did not create its socket"
            );
            thread::sleep(Duration::from_millis(20));
        }
        s.vsctl(&["init"]);
        s
    }

    /// The ovs-vsctl options that reach this database (`PLUMBER_OVS_VSCTL_OPTS`).
    pub fn opts(&self) -> String {
        format!("--db=unix:{} --no-wait", self.sock.display())
    }

    pub fn try_vsctl(&self, args: &[&str]) -> Output {
        Command::new(require_tool("ovs-vsctl"))
            .arg(format!("--db=unix:{}", self.sock.display()))
            .arg("--no-wait")
            .args(args)
            .output()
            .unwrap()
    }

    /// ovs-vsctl's answer, trimmed; panics when it fails.
    pub fn vsctl(&self, args: &[&str]) -> String {
        let out = self.try_vsctl(args);
        assert!(
            out.status.success(),
            "ovs-vsctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A string column without ovs-vsctl's quotes.
    pub fn get(&self, args: &[&str]) -> String {
        let mut a = vec!["--if-exists", "get"];
        a.extend_from_slice(args);
        self.vsctl(&a).trim_matches('"').to_string()
    }

    /// `ovsdb-client dump`: every table, row and column (UUIDs included).
    pub fn dump(&self) -> String {
        let out = Command::new(require_tool("ovsdb-client"))
            .arg("dump")
            .arg(format!("unix:{}", self.sock.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ovsdb-client dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Names of the interfaces of a port, sorted.
    pub fn port_interfaces(&self, port: &str) -> Vec<String> {
        let uuids = self.vsctl(&["get", "Port", port, "interfaces"]);
        let mut names: Vec<String> = uuids
            .trim_matches(['[', ']'])
            .split(", ")
            .map(|u| self.get(&["Interface", u, "name"]))
            .collect();
        names.sort();
        names
    }

    /// Runs a rendered script against this database.
    pub fn run(&self, script: &Path) -> Output {
        let out = Command::new(require_tool("sh"))
            .arg(script)
            .env("PLUMBER_OVS_VSCTL_OPTS", self.opts())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} failed:\n{}\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for Ovsdb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
