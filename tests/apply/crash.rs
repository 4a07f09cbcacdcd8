//! `plumber apply` killed with SIGKILL part-way through its runtime changes (as the OOM killer, an
//! eviction or a power cut would), many times at random points: the next apply rolls the interrupted
//! one back from its journal, so nothing plumber created is ever left without a record, and
//! `runtime.json` and the kernel agree.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use plumber::node::plan::Owned;
use plumber::node::state::CurrentKind;

use crate::common::*;
use crate::in_netns;
use crate::uplink::Node;

/// Bridges in the big template; every fourth has an address. (The kernel takes some 40 ms to delete a
/// bridge, which bounds how many the test can afford.)
const BRIDGES: usize = 32;

/// The node (root, state directory, sysfs) the crashing applies run on.
struct Host {
    node: Node,
}

impl Host {
    fn new() -> Host {
        Host { node: Node::new() }
    }

    fn state(&self) -> PathBuf {
        self.node.root().join("var/lib/plumber")
    }

    /// Template `crash` at `generation` with `spec`.
    fn template(&self, generation: u32, spec: &str) -> PathBuf {
        let p = self
            .node
            .dir
            .path()
            .join(format!("crash-{generation}.yaml"));
        fs::write(
            &p,
            format!(
                "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {{name: crash, generation: {generation}}}\nspec:\n{spec}"
            ),
        )
        .unwrap();
        p
    }

    fn plumber(&self, template: &Path) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("plumber"));
        c.arg("apply")
            .arg("-f")
            .arg(template)
            .arg("--root")
            .arg(self.node.root())
            .arg("--sysfs")
            .arg(self.node.sysfs.root())
            .args(["--node-name", "node-1", "--prune"]);
        c
    }

    /// An apply that must succeed.
    fn apply(&self, template: &Path, why: &str) -> Output {
        let out = self.plumber(template).output().unwrap();
        assert!(
            out.status.success(),
            "{why}: plumber apply: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn owned(&self) -> Owned {
        match fs::read(self.state().join("runtime.json")) {
            Ok(b) => serde_json::from_slice(&b).unwrap(),
            Err(_) => Owned::default(),
        }
    }

    fn journal(&self) -> bool {
        self.state().join("runtime-txn.json").exists()
    }
}

fn name(i: usize) -> String {
    format!("cb{i}")
}

fn address(i: usize) -> Option<String> {
    i.is_multiple_of(4).then(|| format!("10.77.{}.1/24", i / 4))
}

fn many_spec() -> String {
    let mut s = String::from("  bridgeConfig:\n");
    for i in 0..BRIDGES {
        s += &format!("    - name: {}\n", name(i));
    }
    s += "  interfaceConfig:\n";
    for i in 0..BRIDGES {
        if let Some(a) = address(i) {
            s += &format!(
                "    - name: {}\n      ipv4:\n        address: [{a}]\n",
                name(i)
            );
        }
    }
    s
}

/// The test's bridges in the kernel, with their addresses.
fn bridges() -> BTreeSet<(String, Vec<String>)> {
    let s = discover();
    s.links
        .values()
        .filter(|l| l.name.starts_with("cb") && l.kind == CurrentKind::Bridge)
        .map(|l| (l.name.clone(), cidrs(&s, &l.name)))
        .collect()
}

/// What the node has when template `full` (or the empty one) applied.
fn expected(full: bool) -> BTreeSet<(String, Vec<String>)> {
    (0..BRIDGES)
        .filter(|_| full)
        .map(|i| (name(i), address(i).into_iter().collect()))
        .collect()
}

/// After an apply that succeeded: the node is exactly `full` or empty, `runtime.json` names exactly its
/// bridges and addresses, no journal is left.
fn check(host: &Host, full: bool) -> Result<(), String> {
    if host.journal() {
        return Err("the runtime journal is left".into());
    }
    if host.state().join("txn").exists() {
        return Err("the file transaction is left".into());
    }
    let have = bridges();
    let want = expected(full);
    if have != want {
        let orphans: Vec<_> = have.difference(&want).map(|(n, _)| n).collect();
        let missing: Vec<_> = want.difference(&have).map(|(n, _)| n).collect();
        return Err(format!(
            "the node is not the {} one: {} unexpected (orphans) {orphans:?}, {} missing {missing:?}",
            if full { "full" } else { "empty" },
            orphans.len(),
            missing.len()
        ));
    }
    let owned = host.owned();
    let named: BTreeSet<&String> = owned.links.keys().filter(|n| n.starts_with("cb")).collect();
    let there: BTreeSet<&String> = have.iter().map(|(n, _)| n).collect();
    if named != there {
        return Err(format!(
            "runtime.json names {} bridges, the kernel has {}",
            named.len(),
            there.len()
        ));
    }
    for (n, addrs) in &have {
        let recorded: Vec<String> = owned
            .addresses
            .get(n)
            .map(|a| a.iter().map(|c| c.to_string()).collect())
            .unwrap_or_default();
        if &recorded != addrs {
            return Err(format!(
                "{n}: runtime.json says {recorded:?}, the kernel {addrs:?}"
            ));
        }
    }
    Ok(())
}

#[test]
fn a_killed_apply_leaves_no_orphans() {
    in_netns!("a_killed_apply_leaves_no_orphans", || {
        let trials: usize = env_or("PLUMBER_CRASH_TRIALS", 20);
        let seed: u64 = env_or("PLUMBER_CRASH_SEED", 0x0dd_ba11);
        let host = Host::new();
        // [empty, full]
        let templates = [
            host.template(1, "  bridgeConfig: []\n"),
            host.template(2, &many_spec()),
        ];

        // Calibrate: how long an apply to each side takes, whole (start to exit).
        let mut took = [Duration::ZERO; 2];
        for full in [true, false] {
            let t = Instant::now();
            host.apply(&templates[full as usize], "calibrating");
            took[full as usize] = t.elapsed();
            check(&host, full).unwrap_or_else(|e| panic!("calibrating: {e}"));
        }

        let mut rng = Rng(seed);
        let mut full = false;
        let (mut interrupted, mut orphaned) = (0, 0);
        let started = Instant::now();
        for trial in 0..trials {
            // From the side the node is on, an apply to the other side, killed part-way; then an apply
            // to one side or the other. Of every four trials, three kill a filling apply (two then
            // empty the node, one fills it) and one an emptying apply (the node is emptied after it).
            let to = !full;
            let then = if trial % 4 < 2 { full } else { to };
            let max_us = (took[to as usize].as_micros() as u64 * 11 / 10).max(1000);
            let delay = Duration::from_micros(rng.next() % max_us);
            let why = format!(
                "trial {trial} (seed {seed:#x}): {} killed after {delay:?} (of {max_us} us), then {}",
                if to { "filling" } else { "emptying" },
                if then { "full" } else { "empty" }
            );
            let mut child = host
                .plumber(&templates[to as usize])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let t = Instant::now();
            // Waits for the delay or the child's exit, whichever comes first.
            let exited = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break Some(status);
                }
                let left = delay.saturating_sub(t.elapsed());
                if left.is_zero() {
                    break None;
                }
                std::thread::sleep(left.min(Duration::from_millis(2)));
            };
            if exited.is_none() {
                child.kill().unwrap();
                child.wait().unwrap();
            }
            if host.journal() {
                interrupted += 1;
                let owned = host.owned();
                if bridges().iter().any(|(n, _)| !owned.links.contains_key(n)) {
                    orphaned += 1;
                }
            }
            let out = host.apply(&templates[then as usize], &why);
            check(&host, then).unwrap_or_else(|e| {
                panic!(
                    "{why}: {e}\nstderr of the apply after it:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            full = then;
        }
        eprintln!(
            "a_killed_apply_leaves_no_orphans: {trials} trials in {:?} (applies: filling {:?}, emptying \
             {:?}); {interrupted} killed inside the runtime transaction, {orphaned} of them with bridges \
             runtime.json did not name",
            started.elapsed(),
            took[1],
            took[0]
        );
        if trials >= 16 && std::env::var_os("PLUMBER_CRASH_SEED").is_none() {
            assert!(
                interrupted > 0 && orphaned > 0,
                "no kill landed inside a runtime transaction with bridges made"
            );
        }
    });
}

/// The OVS transaction is journaled too: an apply killed after it (its OVS bridge made, `runtime.json`
/// not written) is rolled back by the next apply, exactly (the database dump); one killed after writing
/// the journal but before the transaction leaves OVSDB alone.
#[test]
fn an_apply_killed_around_its_ovs_transaction_is_rolled_back() {
    in_netns!(
        "an_apply_killed_around_its_ovs_transaction_is_rolled_back",
        || {
            use crate::ovs::ovsdb_fixture::{require_tool, Ovsdb};
            use plumber::node::apply::journal::{self, Journal};

            veth("o0", "o1");
            let db = Ovsdb::start();
            let sock = db.sock.display().to_string();
            let host = Host::new();
            let empty = host.template(1, "  bridgeConfig: []\n");
            let before = db.dump();
            let node = plumber_render::node_config_of_spec(
                "  ovsConfig:\n    - bridgeName: br-crash\n      nodeInterface: o1\n",
            )
            .unwrap();
            let h = plumber::node::ovs::Ovsdb::at_socket(require_tool("ovs-vsctl"), &db.sock);
            let ops =
                plumber::node::ovs::plan(&node.ovs, &plumber::node::ovs::discover(&h).unwrap());
            assert!(!ops.is_empty());
            let mut j = Journal::new(Owned::default(), Owned::of(&node), Default::default());
            j.ovs = ops.clone();

            for committed in [true, false] {
                // What the killed apply did: its journal, then (or not) its OVS transaction.
                journal::write(&host.state(), &j).unwrap();
                if committed {
                    plumber::node::ovs::apply(&h, &ops).unwrap();
                    assert_eq!(db.vsctl(&["list-br"]).trim(), "br-crash");
                }
                let out = host
                    .plumber(&empty)
                    .args(["--ovsdb-socket", &sock])
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "committed {committed}: {err}");
                assert!(
                    err.contains("rolled back an apply that was interrupted"),
                    "{err}"
                );
                assert_eq!(db.dump(), before, "committed {committed}: OVSDB changed");
                assert!(!host.journal(), "committed {committed}: journal left");
                assert!(host.owned().ovs_bridges.is_empty());
            }
        }
    );
}

/// Killed after its files' commit point (`runtime.json` written, the file journal gone, the runtime
/// journal not yet removed): the apply had committed, and the next one finishes it instead of rolling
/// the runtime back under committed files. Killed while undoing itself after a failure (`rollingBack`):
/// rolled back, whatever became of the files.
#[test]
fn an_apply_killed_after_its_commit_point_is_finished() {
    in_netns!("an_apply_killed_after_its_commit_point_is_finished", || {
        use plumber::node::apply::journal::{self, Journal};

        let host = Host::new();
        let spec = "  bridgeConfig:\n    - name: cf0\n    - name: cf1\n";
        let t = host.template(1, spec);
        let node = plumber_render::node_config_of_spec(spec).unwrap();
        let ops = plumber::node::plan::plan(&node, &Default::default()).unwrap();
        host.apply(&t, "the first apply");
        let made = |what: &str| {
            let s = discover();
            let have: Vec<&str> = ["cf0", "cf1"]
                .into_iter()
                .filter(|n| s.links.contains_key(*n))
                .collect();
            assert_eq!(host.owned().links.len(), have.len(), "{what}: {have:?}");
            have.len()
        };
        assert_eq!(made("applied"), 2);

        let mut j = Journal::new(Owned::default(), Owned::of(&node), Default::default());
        j.links = ops;
        j.files = true;
        journal::write(&host.state(), &j).unwrap();
        let out = host.apply(&t, "after the commit point");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("nothing to do"), "{stdout}");
        assert_eq!(made("finished"), 2);
        assert!(!host.journal());

        j.rolling_back = true;
        journal::write(&host.state(), &j).unwrap();
        let empty = host.template(2, "  bridgeConfig: []\n");
        let out = host.apply(&empty, "while rolling back");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("rolled back an apply that was interrupted"),
            "{err}"
        );
        assert_eq!(made("rolled back"), 0);
        assert!(!host.journal());
    });
}
