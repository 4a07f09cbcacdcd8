//! `--watch` drift repair in network namespaces: the watch runs in a thread of the test (its own
//! runtime, its own sockets, in the test's namespace) while the test changes the namespace behind its
//! back with `ip`, then checks by discovery that the drift is repaired, that what plumber does not manage
//! stays, and that the watch goes quiet once the node matches. No timing goals: the bounds are generous
//! and the measured repair latencies are printed (`--nocapture` on the child shows them; the parent
//! prints the child's output only when it fails).

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use plumber::node::netlink;
use plumber::node::state::{CurrentKind, CurrentState};
use plumber::node::watch::{self, Trigger, WatchConfig, WatchStats};
use plumber_render::node::NodeConfig;

use crate::common::*;
use crate::in_netns;

/// One pass of the watch, as the test's reconcile saw it.
#[derive(Debug, Clone)]
struct Pass {
    at: Instant,
    trigger: Trigger,
    writes: usize,
    error: Option<String>,
}

/// A watch running in a thread, with its passes recorded.
struct Watcher {
    passes: Arc<Mutex<Vec<Pass>>>,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<plumber::node::Result<WatchStats>>,
}

impl Watcher {
    /// Starts `watch::watch` on `desired` with `reconcile_netlink`; `blind` watches no notifications
    /// at all (only the start pass and the resync), as if every one was missed.
    fn start(cfg: WatchConfig, desired: NodeConfig, blind: bool) -> Watcher {
        let passes: Arc<Mutex<Vec<Pass>>> = Arc::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let log = passes.clone();
        let desired = Arc::new(desired);
        let thread = std::thread::spawn(move || {
            netlink::run(async move {
                let h = netlink::connection()?;
                let reconcile = move |trigger: Trigger| {
                    let (h, d, log) = (h.clone(), desired.clone(), log.clone());
                    async move {
                        let r = watch::reconcile_netlink(&h, &d).await;
                        log.lock().unwrap().push(Pass {
                            at: Instant::now(),
                            trigger,
                            writes: r.as_ref().map_or(0, |a| a.writes),
                            error: r.as_ref().err().map(|e| e.to_string()),
                        });
                        r
                    }
                };
                let shutdown = async move {
                    let _ = stopped.await;
                };
                if blind {
                    let none = futures::stream::pending::<()>();
                    watch::watch_events(cfg, none, reconcile, shutdown).await
                } else {
                    watch::watch(cfg, reconcile, shutdown).await
                }
            })
        });
        Watcher {
            passes,
            stop,
            thread,
        }
    }

    fn passes(&self) -> Vec<Pass> {
        self.passes.lock().unwrap().clone()
    }

    /// The passes that ended after `t`.
    fn passes_since(&self, t: Instant) -> Vec<Pass> {
        self.passes().into_iter().filter(|p| p.at > t).collect()
    }

    /// Shuts the watch down and returns its stats (the thread must end promptly).
    fn stop(self) -> WatchStats {
        let asked = Instant::now();
        eprintln!("stopping the watch after {:#?}", self.passes());
        self.stop.send(()).unwrap();
        let stats = self.thread.join().unwrap().unwrap();
        assert!(
            asked.elapsed() < BOUND,
            "shutdown took {:?}; {stats:#?}",
            asked.elapsed()
        );
        stats
    }
}

/// Polls discovery until `ok` holds; panics after `bound`; returns how long it took.
fn until(what: &str, bound: Duration, ok: impl Fn(&CurrentState) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let s = discover();
        if ok(&s) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < bound,
            "{what}: not after {bound:?}:\n{}",
            yaml(&s)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `w` has run a pass that ended after `t` and satisfies `which` (a pass is recorded just
/// after it returns, so discovery can see its result a moment before it is recorded).
fn pass_after(w: &Watcher, t: Instant, which: impl Fn(&Pass) -> bool) -> Pass {
    let start = Instant::now();
    loop {
        if let Some(p) = w.passes_since(t).into_iter().find(|p| which(p)) {
            return p;
        }
        assert!(start.elapsed() < BOUND, "no such pass: {:#?}", w.passes());
        std::thread::sleep(Duration::from_millis(5));
    }
}

const BOUND: Duration = Duration::from_secs(5);

fn p0_converged(s: &CurrentState) -> bool {
    let Some(p0) = s.links.get("p0") else {
        return false;
    };
    p0.mtu == 9000
        && p0.up
        && cidrs(s, "p0") == ["10.0.0.2/24", "fd00:1::2/64"]
        && routes(s, "p0")
            .iter()
            .any(|l| l == "10.66.0.0/16 via 10.0.0.254 table 254 Static")
}

fn br0_converged(s: &CurrentState) -> bool {
    s.links
        .get("br0")
        .is_some_and(|b| b.kind == CurrentKind::Bridge && b.up)
        && s.links["b0"].controller.as_deref() == Some("br0")
        && cidrs(s, "br0") == ["10.20.0.1/24"]
}

const P0: &str = "    - name: p0
      mtu: 9000
      ipv4:
        address: [10.0.0.2/24]
        routes:
          - {to: 10.66.0.0/16, via: 10.0.0.254}
      ipv6:
        address: ['fd00:1::2/64']
";

#[test]
fn drift_is_repaired_and_the_watch_goes_quiet() {
    in_netns!("drift_is_repaired_and_the_watch_goes_quiet", || {
        veth("p0", "q0");
        veth("b0", "c0");
        // The peers are not plumber's: their addresses stay, this one and one added while watching.
        sh("addr add 10.0.0.1/24 dev q0");
        settled(&["p0", "q0", "b0", "c0"]);
        let d = desired(&format!(
            "  bridgeConfig:
    - name: br0
      members: [b0]
      stp: false
  interfaceConfig:
    - name: br0
      ipv4:
        address: [10.20.0.1/24]
{P0}"
        ));
        let cfg = WatchConfig {
            debounce: Duration::from_millis(100),
            resync: Duration::from_secs(3600),
        };
        let t = Instant::now();
        let w = Watcher::start(cfg, d, false);

        // The start pass converges the node.
        until("the start pass", BOUND, |s| {
            p0_converged(s) && br0_converged(s)
        });
        let first = pass_after(&w, t, |_| true);
        assert_eq!(first.trigger, Trigger::Start);
        assert!(first.writes > 0, "{first:?}");

        // An unmanaged address on an unmanaged link: the pass it triggers leaves it.
        let t = Instant::now();
        sh("addr add 192.168.77.1/24 dev q0");
        let p = pass_after(&w, t, |_| true);
        assert!(matches!(p.trigger, Trigger::Events { .. }), "{p:?}");
        assert_eq!(p.writes, 0, "{p:?}");

        // A managed address removed (the only IPv4 address of p0: the kernel flushes its route too).
        let t = Instant::now();
        sh("addr del 10.0.0.2/24 dev p0");
        let addr = until("the address and its route back", BOUND, p0_converged);
        let repair = pass_after(&w, t, |p| p.writes > 0);
        assert!(
            matches!(repair.trigger, Trigger::Events { .. }),
            "{repair:?}"
        );

        // The bridge deleted: recreated with its member and its address.
        let t = Instant::now();
        sh("link del br0");
        let bridge = until("br0 back with b0", BOUND, br0_converged);
        pass_after(&w, t, |p| p.writes > 0);

        // The MTU changed.
        let t = Instant::now();
        sh("link set p0 mtu 1500");
        let mtu = until("the MTU back", BOUND, p0_converged);
        let last_repair = pass_after(&w, t, |p| p.writes > 0);
        eprintln!(
            "repair latency (change to repaired, seen by discovery): address {addr:?}, bridge \
             {bridge:?}, MTU {mtu:?}"
        );

        // The watch goes quiet. After the last repair come the passes of its own notifications and of
        // the kernel's follow-ups (IPv6 DAD completing on the recreated bridge and the re-added
        // addresses: up to 1 s of random delay, then 1 s for the probe, after the link came up): all
        // find nothing to do and write nothing, so they cause nothing, and a second without any pass
        // comes, once DAD is surely over. A loop that spins (a pass every debounce) would never have
        // one.
        let start = Instant::now();
        let quiet = loop {
            let last = w.passes().last().unwrap().at;
            if last.elapsed() >= Duration::from_secs(1)
                && last_repair.at.elapsed() >= Duration::from_millis(2500)
            {
                break last;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "never quiet for 1 s: {:#?}",
                w.passes_since(last_repair.at)
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let follow_ups = w.passes_since(last_repair.at);
        eprintln!(
            "the last follow-up pass {:?} after the last repair; {} follow-up passes, none wrote",
            quiet - last_repair.at,
            follow_ups.len()
        );
        assert!(follow_ups.len() <= 10, "{follow_ups:#?}");
        assert!(follow_ups.iter().all(|p| p.writes == 0), "{follow_ups:#?}");
        // And it stays quiet: a further second with at most a pass or two (a late kernel
        // follow-up), which write nothing.
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(1));
        let window = w.passes_since(t);
        assert!(window.len() <= 2, "not quiet: {window:#?}");
        assert!(window.iter().all(|p| p.writes == 0), "{window:#?}");

        let all = w.passes();
        let stats = w.stop();
        eprintln!("{} passes: {all:#?}\n{stats:#?}", all.len());
        assert_eq!(stats.passes, all.len());
        assert_eq!((stats.errors, stats.last_error), (0, None));
        // Four changes, a handful of passes each at most: nothing that spins.
        assert!(all.len() < 30, "{all:#?}");
        assert!(all.iter().all(|p| p.error.is_none()), "{all:#?}");

        let s = discover();
        assert!(p0_converged(&s) && br0_converged(&s), "{}", yaml(&s));
        assert_eq!(cidrs(&s, "q0"), ["10.0.0.1/24", "192.168.77.1/24"]);
    });
}

#[test]
fn the_resync_repairs_drift_whose_events_were_missed() {
    in_netns!("the_resync_repairs_drift_whose_events_were_missed", || {
        veth("p0", "q0");
        settled(&["p0", "q0"]);
        let d = desired(&format!("  interfaceConfig:\n{P0}"));
        let cfg = WatchConfig {
            debounce: Duration::from_millis(100),
            resync: Duration::from_millis(300),
        };
        // No notifications at all: only the resync can see the drift.
        let w = Watcher::start(cfg, d, true);
        until("the start pass", BOUND, p0_converged);

        let t = Instant::now();
        sh("addr del 10.0.0.2/24 dev p0");
        let latency = until("the address back", BOUND, p0_converged);
        eprintln!("repair latency by resync (period 300 ms): {latency:?}");
        let repair = pass_after(&w, t, |p| p.writes > 0);
        assert_eq!(repair.trigger, Trigger::Resync);

        // The backstop keeps running, and finds nothing more to do.
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(1));
        let window = w.passes_since(t);
        assert!(
            (2..=5).contains(&window.len())
                && window
                    .iter()
                    .all(|p| p.trigger == Trigger::Resync && p.writes == 0),
            "{window:#?}"
        );
        let stats = w.stop();
        assert_eq!((stats.event_passes, stats.errors), (0, 0), "{stats:#?}");
    });
}

#[test]
fn a_failing_pass_does_not_end_the_watch() {
    in_netns!("a_failing_pass_does_not_end_the_watch", || {
        veth("p0", "q0");
        settled(&["p0", "q0"]);
        // n0 is not there yet: every pass fails to plan, and nothing is changed.
        let d = desired(&format!(
            "  interfaceConfig:
    - name: n0
      ipv4:
        address: [10.9.0.1/24]
{P0}"
        ));
        let cfg = WatchConfig {
            debounce: Duration::from_millis(100),
            resync: Duration::from_secs(3600),
        };
        let t = Instant::now();
        let w = Watcher::start(cfg, d, false);
        let first = pass_after(&w, t, |_| true);
        assert!(
            first
                .error
                .as_deref()
                .unwrap()
                .contains("n0 does not exist"),
            "{first:?}"
        );
        assert!(!p0_converged(&discover()));

        // The NIC appears: its notifications trigger a pass that now succeeds.
        sh("link add n0 type veth peer name n1");
        until("n0 configured", BOUND, |s| {
            p0_converged(s) && cidrs(s, "n0") == ["10.9.0.1/24"] && s.links["n0"].up
        });
        // The node converges as the pass's last write lands, a moment before the watch records the
        // pass: wait for the record too.
        pass_after(&w, t, |p| {
            matches!(p.trigger, Trigger::Events { .. }) && p.writes > 0
        });
        let all = w.passes();
        let stats = w.stop();
        assert!(stats.errors >= 1, "{stats:#?}");
        assert!(stats
            .last_error
            .as_deref()
            .unwrap()
            .contains("n0 does not exist"));
        assert!(
            all.iter()
                .any(|p| matches!(p.trigger, Trigger::Events { .. }) && p.writes > 0),
            "{all:#?}"
        );
    });
}
