//! What the netns tests share: a namespace per test, `ip` helpers, discovery and a desired state from
//! template YAML.

use std::process::Command;
use std::time::{Duration, Instant};

use plumber::node::netlink::{self, Applied};
use plumber::node::plan::Op;
use plumber::node::state::CurrentState;
use plumber_render::node::NodeConfig;

/// `in_netns!("test_name", || { ... })`: runs the body in a fresh network namespace (see
/// [`in_netns_in`]); the test must be named `test_name` in the calling module.
#[macro_export]
macro_rules! in_netns {
    ($test:expr, $body:expr $(,)?) => {
        $crate::common::in_netns_in(module_path!().trim_start_matches("apply::"), $test, $body)
    };
}

/// Set in the child to the name of the test it runs.
pub const INNER: &str = "PLUMBER_NETNS_TEST";

/// A network namespace, deleted on drop.
pub struct Netns(String);

impl Netns {
    pub fn new(test: &str) -> Netns {
        let name = format!("plumber-test-{}-{test}", std::process::id());
        ip(&["netns", "add", &name]);
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Runs `body` in a fresh network namespace: in the parent, re-runs test `module::test` of this binary
/// in a child under `ip netns exec`; in the child, runs `body`. Use the [`in_netns!`] macro.
pub fn in_netns_in(module: &str, test: &str, body: impl FnOnce()) {
    if std::env::var(INNER).as_deref() == Ok(test) {
        body();
        return;
    }
    let ns = Netns::new(test);
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(std::env::current_exe().unwrap())
        .args([&format!("{module}::{test}"), "--exact", "--test-threads=1"])
        .env(INNER, test)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} in netns {} failed:\n{stdout}\n{stderr}",
        ns.0
    );
}

/// `ip ARGS`, which must succeed.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ip` with the arguments of one line.
pub fn sh(line: &str) {
    ip(&line.split_whitespace().collect::<Vec<_>>());
}

/// Makes `dir/root` a host root: `/etc/os-release` with `os_release`, and every network stack a distro
/// profile needs on (netplan installed, NetworkManager and systemd-networkd enabled), since `plumber
/// apply` refuses to install files a host would ignore (tests/apply/apply_cli.rs proves the refusal).
pub fn host_root(dir: &std::path::Path, os_release: &str) -> std::path::PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/os-release"), os_release).unwrap();
    std::fs::create_dir_all(root.join("usr/sbin")).unwrap();
    std::fs::write(root.join(HOST_STACK[0].trim_start_matches('/')), "").unwrap();
    for link in &HOST_STACK[1..] {
        let link = root.join(link.trim_start_matches('/'));
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        let unit = link.file_name().unwrap().to_string_lossy().into_owned();
        std::os::unix::fs::symlink(format!("/usr/lib/systemd/system/{unit}"), link).unwrap();
    }
    root
}

/// What [`host_root`] adds besides os-release (the netplan binary, then the units' enablement links).
pub const HOST_STACK: &[&str] = &[
    "/usr/sbin/netplan",
    "/etc/systemd/system/multi-user.target.wants/NetworkManager.service",
    "/etc/systemd/system/multi-user.target.wants/systemd-networkd.service",
];

/// The route templates use to fail an apply part-way: every offline check passes (its gateway is inside
/// the link's subnet), but the host holds an `unreachable` route to the same prefix (an administrator's
/// policy route: metric 0, main table, no device), so the kernel answers EEXIST ("File exists") when
/// plumber adds the template's route, after the ops before it were done. [`hold_refused_prefix`] sets it up.
pub const REFUSED_PREFIX: &str = "10.60.0.0/16";

/// Adds the host's `unreachable` route to [`REFUSED_PREFIX`]: plumber neither owns nor removes it, so it
/// is there before and after a rolled-back apply alike.
pub fn hold_refused_prefix() {
    sh(&format!("route add unreachable {REFUSED_PREFIX}"));
}

pub fn desired(spec: &str) -> NodeConfig {
    plumber_render::node_config_of_spec(spec).unwrap()
}

pub fn discover() -> CurrentState {
    netlink::run(async {
        let h = netlink::connection().unwrap();
        netlink::discover(&h).await.unwrap()
    })
}

pub fn apply(ops: &[Op]) -> plumber::node::Result<Applied> {
    netlink::run(async {
        let h = netlink::connection()?;
        netlink::apply(&h, ops).await
    })
}

/// A veth pair, both ends up (so that the pair has carrier).
pub fn veth(a: &str, b: &str) {
    sh(&format!("link add {a} type veth peer name {b}"));
    sh(&format!("link set {a} up"));
    sh(&format!("link set {b} up"));
}

/// Waits until every link that is up and has carrier has its IPv6 link-local address: the kernel adds
/// it asynchronously, on the carrier change (linkwatch) after the link goes up.
pub fn settled(links: &[&str]) -> CurrentState {
    let start = Instant::now();
    loop {
        let s = discover();
        if links
            .iter()
            .all(|l| s.links[*l].addresses.iter().any(|a| a.is_link_local()))
        {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no link-local address on {links:?}: {s:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn cidrs(s: &CurrentState, link: &str) -> Vec<String> {
    s.links[link]
        .addresses
        .iter()
        .filter(|a| !a.is_link_local())
        .map(|a| a.cidr.to_string())
        .collect()
}

/// A route's line, as `ip route` would print the fields plumber manages.
pub fn routes(s: &CurrentState, dev: &str) -> Vec<String> {
    s.routes
        .iter()
        .filter(|r| r.dev == dev)
        .map(|r| {
            let mut l = r.dst.to_string();
            if let Some(v) = r.via {
                l += &format!(" via {v}");
            }
            if let Some(m) = r.metric {
                l += &format!(" metric {m}");
            }
            l + &format!(" table {} {:?}", r.table, r.proto)
        })
        .collect()
}

pub fn yaml(s: &CurrentState) -> String {
    serde_yaml::to_string(s).unwrap()
}

/// `plumber apply -f TEMPLATE --root ROOT --sysfs SYSFS --node-name node-1 EXTRA...`, the binary as a
/// user runs it.
pub fn plumber_apply(
    template: &std::path::Path,
    root: &std::path::Path,
    sysfs: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    assert_cmd::Command::cargo_bin("plumber")
        .unwrap()
        .arg("apply")
        .arg("-f")
        .arg(template)
        .arg("--root")
        .arg(root)
        .arg("--sysfs")
        .arg(sysfs)
        .args(["--node-name", "node-1"])
        .args(extra)
        .output()
        .unwrap()
}

/// splitmix64: reproducible delays from the seed (the crash tests).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `name` from the environment, parsed, or `default` (the crash tests' trial counts and seeds).
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
