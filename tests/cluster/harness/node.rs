//! A simulated node: its own network namespace (loopback up, NICs `eth1` and `eth2`: veth pairs), a host root
//! (a Debian os-release and systemd-networkd enabled, so the agent writes networkd files), a `Node`
//! object with the given labels, the relay that shows it the API server, and `plumber agent` running
//! inside the namespace under `ip netns exec` with the agent ServiceAccount's token, as the DaemonSet
//! would run it. Dropping it kills the agent and deletes the namespace.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use super::cluster::Cluster;
use super::deploy::NAMESPACE;
use super::kube::Kube;
use super::process::Proc;
use super::relay::Relay;

/// The label every test puts on its nodes and in its templates' nodeSelector, with a value of its own,
/// so that tests sharing an API server never select each other's nodes.
pub const CASE: &str = "test.plumber.k8s.pf9.io/case";

/// The NICs every node has.
pub const NICS: &[&str] = &["eth1", "eth2"];

/// One node.
pub struct SimNode {
    /// The Node's name.
    pub name: String,
    /// Its network namespace (under /run/netns).
    pub netns: String,
    /// The address its requests reach the API server from (its audit entries' `sourceIPs`).
    pub source: std::net::Ipv4Addr,
    // Deleted after the agent and the relay are gone.
    _ns: Netns,
    agent: Option<Proc>,
    relay: Option<Relay>,
    kubeconfig: PathBuf,
    root: tempfile::TempDir,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl SimNode {
    /// Makes the node (namespace, NICs, root, relay, Node object labelled `labels`); the agent is
    /// started by [`Self::start_agent`].
    pub fn new(cluster: &Cluster, name: &str, labels: &[(&str, &str)]) -> SimNode {
        let netns = format!("plumber-c{}-{name}", std::process::id());
        ip(&["netns", "add", &netns]);
        // From here on a failing step deletes the namespace again.
        let ns = Netns(netns.clone());
        ip(&["-n", &netns, "link", "set", "lo", "up"]);
        for nic in NICS {
            // veth pairs (the test kernel has no dummy driver), both ends up so that the NIC has carrier.
            let peer = format!("{nic}-peer");
            ip(&[
                "-n", &netns, "link", "add", nic, "type", "veth", "peer", "name", &peer,
            ]);
            ip(&["-n", &netns, "link", "set", nic, "up"]);
            ip(&["-n", &netns, "link", "set", &peer, "up"]);
        }
        let root = tempfile::Builder::new()
            .prefix(&format!("plumber-node-{name}-"))
            .tempdir()
            .unwrap();
        host_root(root.path());
        let relay = Relay::start(&netns, cluster.cp.port);
        let node = SimNode {
            name: name.to_string(),
            netns,
            source: relay.source,
            _ns: ns,
            agent: None,
            relay: Some(relay),
            kubeconfig: cluster.agent_kubeconfig.clone(),
            root,
        };
        node.label(&cluster.admin(), labels);
        node
    }

    /// Creates the Node object or sets its labels to exactly `labels`.
    pub fn label(&self, admin: &Kube, labels: &[(&str, &str)]) {
        let labels: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let body = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": labels},
        });
        admin
            .apply(&format!("/api/v1/nodes/{}", self.name), &body)
            .unwrap_or_else(|e| panic!("Node {}: {e}", self.name));
    }

    /// Starts `plumber agent` for this node inside its namespace.
    pub fn start_agent(&mut self) {
        self.start_agent_with(&[]);
    }

    /// Starts `plumber agent` with `extra` arguments.
    pub fn start_agent_with(&mut self, extra: &[&str]) {
        assert!(
            self.agent.is_none(),
            "the agent of {} runs already",
            self.name
        );
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns])
            .arg(env!("CARGO_BIN_EXE_plumber"))
            .args(["agent", "--node-name", &self.name, "--host-root"])
            .arg(self.root.path().join("root"))
            .args(["--bind", "127.0.0.1", "--debounce-ms", "200"])
            .args(["--log", "plumber=debug,warn"])
            .args(extra)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("POD_NAMESPACE", NAMESPACE)
            .env_remove("KUBERNETES_SERVICE_HOST");
        let log = self.root.path().join("agent.log");
        self.agent = Some(Proc::spawn(&format!("agent {}", self.name), cmd, &log));
    }

    /// Kills the agent (SIGKILL: no orderly stop).
    pub fn kill_agent(&mut self) {
        if let Some(mut a) = self.agent.take() {
            a.kill();
        }
    }

    /// The agent's log so far (across restarts).
    pub fn agent_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("agent.log")).unwrap_or_default()
    }

    /// The last lines of the agent's log, for assertion messages.
    pub fn agent_tail(&self, n: usize) -> String {
        let log = self.agent_log();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "--- agent {} ---\n{}",
            self.name,
            lines[lines.len().saturating_sub(n)..].join("\n")
        )
    }

    /// The agent's process id (`ip netns exec` execs it), while it runs.
    pub fn agent_pid(&self) -> Option<u32> {
        self.agent.as_ref().and_then(|a| a.pid())
    }

    /// Whether the agent process is running.
    pub fn agent_running(&mut self) -> bool {
        self.agent.as_mut().is_some_and(|a| a.running())
    }

    /// `ip -j link show` in the namespace: each link's JSON.
    pub fn links(&self) -> Vec<Value> {
        let out = Command::new("ip")
            .args(["-j", "-n", &self.netns, "link", "show"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    }

    /// The link named `name`, if the namespace has it.
    pub fn link(&self, name: &str) -> Option<Value> {
        self.links().into_iter().find(|l| l["ifname"] == name)
    }

    /// The MTU of `name`.
    pub fn mtu(&self, name: &str) -> Option<u64> {
        self.link(name).and_then(|l| l["mtu"].as_u64())
    }

    /// The host root the agent installs files under.
    pub fn root(&self) -> PathBuf {
        self.root.path().join("root")
    }

    /// The files of plumber's under the node's root (`etc/`, by name), relative to the root, sorted.
    pub fn plumber_files(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() && !p.is_symlink() {
                    walk(&p, root, out);
                } else if e.file_name().to_string_lossy().contains("plumber") {
                    out.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let root = self.root();
        let mut out = Vec::new();
        walk(&root.join("etc"), &root, &mut out);
        out.sort();
        out
    }
}

/// A Debian 12 root with systemd-networkd enabled (what `plumber apply` looks for before it installs
/// networkd files).
fn host_root(dir: &Path) {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("etc/systemd/system/multi-user.target.wants")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "/lib/systemd/system/systemd-networkd.service",
        root.join("etc/systemd/system/multi-user.target.wants/systemd-networkd.service"),
    )
    .unwrap();
}

impl Drop for SimNode {
    fn drop(&mut self) {
        // A failing test shows what the agent said.
        if std::thread::panicking() {
            eprintln!("{}", self.agent_tail(60));
        }
        self.kill_agent();
        self.relay.take();
    }
}

/// A network namespace, deleted on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}
