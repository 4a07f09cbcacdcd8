//! A node's uplink as an installer or DHCP leaves it, with a gateway that really answers: the node's
//! namespace holds `va` (10.9.9.9/24, default route via 10.9.9.1), whose veth peer `vb` lives in a
//! second namespace holding the gateway's 10.9.9.1/24 (the kernel ignores ARP replies from its own
//! addresses, so the gateway cannot be in the node's namespace). And a node to run `plumber apply` on:
//! a root for the files and the state directory, an empty sysfs. Shared by the connectivity guard's and
//! the do-no-harm tests.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use serde_json::Value;

use crate::common::*;
use crate::sysfs_fixture::Fixture;

/// The gateway's namespace, deleted on drop, with `vb` (10.9.9.1/24, up, peer of the node's `va`).
pub struct Gateway(String);

impl Gateway {
    /// Made from inside the node's namespace: `va` 10.9.9.9/24 here, up, with a default route via
    /// 10.9.9.1 (added by hand: `proto boot`), once the pair has carrier.
    pub fn new(test: &str) -> Gateway {
        let name = format!("plumber-gw-{}-{test}", std::process::id());
        ip(&["netns", "add", &name]);
        let gw = Gateway(name);
        sh(&format!(
            "link add va type veth peer name vb netns {}",
            gw.0
        ));
        gw.ip("addr add 10.9.9.1/24 dev vb");
        gw.ip("link set vb up");
        gw.ip("link set lo up");
        sh("addr add 10.9.9.9/24 dev va");
        sh("link set va up");
        sh("route add default via 10.9.9.1");
        // Carrier: the kernel gives va its link-local address once the pair is up on both ends.
        settled(&["va"]);
        gw
    }

    /// `ip -n GATEWAY ARGS`.
    pub fn ip(&self, line: &str) {
        let mut args = vec!["-n", self.0.as_str()];
        args.extend(line.split_whitespace());
        ip(&args);
    }

    /// A TCP listener on `addr` (port chosen by the kernel) in the gateway's namespace, accepting
    /// until the test ends; its port.
    pub fn listen(&self, addr: &str) -> u16 {
        let path = format!("/run/netns/{}", self.0);
        let addr = addr.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ns = fs::File::open(&path).unwrap();
            // SAFETY: setns on a namespace file we hold open; it moves this thread only.
            let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            let l = std::net::TcpListener::bind((addr.as_str(), 0)).unwrap();
            tx.send(l.local_addr().unwrap().port()).unwrap();
            for c in l.incoming() {
                drop(c);
            }
        });
        rx.recv().unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

/// A root for the files and the state directory, an empty sysfs, and the template.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub sysfs: Fixture,
}

impl Node {
    pub fn new() -> Node {
        let dir = tempfile::tempdir().unwrap();
        host_root(dir.path(), "ID=ubuntu\nVERSION_ID=\"24.04\"\n");
        Node {
            dir,
            sysfs: Fixture::new(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Writes template `net` with `spec` (YAML, indented by two spaces).
    pub fn template(&self, spec: &str) -> PathBuf {
        let p = self.dir.path().join("net.yaml");
        fs::write(
            &p,
            format!(
                "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: net}}\nspec:\n{spec}"
            ),
        )
        .unwrap();
        p
    }

    /// `plumber apply -f TEMPLATE` on this node with `extra`; the output and how long it took.
    pub fn plumber(&self, template: &Path, extra: &[&str]) -> (Output, std::time::Duration) {
        let start = Instant::now();
        let out = plumber_apply(template, &self.root(), self.sysfs.root(), extra);
        (out, start.elapsed())
    }

    pub fn record(&self) -> Value {
        let p = self.root().join("var/lib/plumber/last-apply.json");
        serde_json::from_slice(&fs::read(p).expect("a last-apply.json")).unwrap()
    }

    /// Every file under the root but the state directory.
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root(), &mut out);
        out.retain(|p| !p.starts_with(self.root().join("var/lib/plumber")));
        out.sort();
        out
    }
}
