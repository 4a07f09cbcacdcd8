//! `plumber apply --watch`: re-enforce on netlink events, debounced, with a periodic backstop.
//!
//! [`watch`] subscribes to the kernel's link, address and route notifications
//! ([`crate::node::netlink::events`]), runs a reconcile pass once at start, then once after each burst of
//! notifications and every [`WatchConfig::resync`] even when none come, until its shutdown future
//! resolves. A pass is whatever the caller makes of it; [`reconcile_netlink`] is the usual one
//! (discover, plan, apply) and writes nothing when nothing drifted.
//!
//! Timing, all decided by the pure [`next_pass`]:
//! - a burst is debounced: its pass runs [`WatchConfig::debounce`] after its last notification, but
//!   never later than [`WatchConfig::max_delay`] (4 × debounce) after its first, so a host that never
//!   stops changing cannot starve the watch;
//! - the resync backstop runs [`WatchConfig::resync`] after the end of the last pass of any kind, so it
//!   repairs drift whose notifications were missed (a receive buffer overrun, a change the kernel does
//!   not announce);
//! - the notifications caused by a pass's own writes arrive during or just after it and trigger one more
//!   pass, which finds nothing to do, writes nothing and so causes no notification: the watch goes
//!   quiet. Notifications that arrive during a pass are never dropped (the pass may have discovered the
//!   node before them);
//! - when passes triggered by notifications keep changing the node (or failing), that is, when
//!   something undoes plumber's repairs as fast as it makes them, event-triggered passes back off
//!   exponentially after [`FIGHT_STREAK`] of them in a row (see [`holdoff`]) up to the resync period,
//!   so a fight with another agent (or a plan that never converges) cannot spin. A pass that writes
//!   nothing ends the streak.
//!
//! A failed pass is logged to stderr (`plumber watch: ...`), counted in [`WatchStats`], and retried by
//! the next trigger; it does not end the watch. Shutdown is checked between passes: a pass in progress
//! finishes (so that `apply` can roll back what it started), then the watch returns its stats.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt};
use plumber_render::node::NodeConfig;
use rtnetlink::Handle;
use tokio::time::Instant;

use crate::node::netlink::events::subscribe;
use crate::node::netlink::{self, Applied};
use crate::node::{Error, Result};

/// The shortest resync period the watch uses, whatever it is given (a zero period would spin).
const MIN_RESYNC: Duration = Duration::from_millis(10);

/// How the watch paces its passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchConfig {
    /// Quiet time after the last notification of a burst before its pass runs.
    pub debounce: Duration,
    /// The backstop: a pass runs this long after the end of the previous one even with no
    /// notifications (at least [`MIN_RESYNC`]).
    pub resync: Duration,
}

impl Default for WatchConfig {
    /// 200 ms debounce, 5 minute resync.
    fn default() -> Self {
        WatchConfig {
            debounce: Duration::from_millis(200),
            resync: Duration::from_secs(300),
        }
    }
}

impl WatchConfig {
    /// The longest a burst's pass waits after the burst's first notification: 4 × debounce.
    fn max_delay(&self) -> Duration {
        self.debounce * 4
    }

    /// The resync period in force (see [`MIN_RESYNC`]).
    pub(crate) fn resync_period(&self) -> Duration {
        self.resync.max(MIN_RESYNC)
    }
}

/// Why a pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The first pass, when the watch starts.
    Start,
    /// A burst of `count` netlink notifications (or receive buffer overruns, which mean some were lost).
    Events { count: usize },
    /// The periodic backstop.
    Resync,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Start => write!(f, "start"),
            Trigger::Events { count: 1 } => write!(f, "1 netlink event"),
            Trigger::Events { count } => write!(f, "{count} netlink events"),
            Trigger::Resync => write!(f, "resync"),
        }
    }
}

/// What a watch did, returned when it shuts down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchStats {
    /// Passes run, of every trigger.
    pub passes: usize,
    /// Of which triggered by notifications.
    pub event_passes: usize,
    /// Of which by the resync backstop.
    resync_passes: usize,
    /// Notifications received.
    events: usize,
    /// Netlink writes made by the passes that succeeded ([`PassReport::writes`]).
    writes: usize,
    /// Passes that made at least one write.
    pub repairs: usize,
    /// Passes that failed.
    pub errors: usize,
    /// The last failure, as logged.
    pub last_error: Option<String>,
}

/// What a pass tells the loop about what it did (implemented by [`netlink::Applied`]; a pass that does
/// more than netlink, such as the CLI's full apply, implements it for its own result).
pub trait PassReport {
    /// Changes made to the node (netlink writes): 0 when nothing had drifted. Passes with changes are
    /// logged, and event-triggered ones in a row with changes make the watch back off.
    fn writes(&self) -> usize;
    /// The changes as one line, for the log.
    fn summary(&self) -> String;
}

impl PassReport for Applied {
    fn writes(&self) -> usize {
        self.writes
    }

    fn summary(&self) -> String {
        let ops: Vec<String> = self.ops.iter().map(|o| o.to_string()).collect();
        ops.join("; ")
    }
}

/// Notifications not yet handled by a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Burst {
    /// When the first and the last of them were received.
    first: Instant,
    last: Instant,
    count: usize,
}

impl Burst {
    fn new(at: Instant, count: usize) -> Burst {
        Burst {
            first: at,
            last: at,
            count,
        }
    }

    fn add(&mut self, at: Instant, count: usize) {
        self.last = at;
        self.count += count;
    }
}

/// Event-triggered passes in a row that changed the node (or failed) before the watch backs off.
/// Normally a repair is followed by a pass that writes nothing (its own notifications), which ends the
/// streak; changes made by hand in quick succession can make a few repairs in a row, a fight makes them
/// forever.
const FIGHT_STREAK: u32 = 5;

/// How long event-triggered passes wait after the end of the previous pass, given `streak`, the number
/// of consecutive event-triggered passes that changed the node or failed: nothing below
/// [`FIGHT_STREAK`], then 2, 4, 8, ... × debounce, capped at the resync period.
fn holdoff(cfg: &WatchConfig, streak: u32) -> Duration {
    if streak < FIGHT_STREAK {
        return Duration::ZERO;
    }
    let factor = 1u32 << (streak - FIGHT_STREAK + 1).min(20);
    cfg.debounce
        .checked_mul(factor)
        .unwrap_or(Duration::MAX)
        .min(cfg.resync_period())
}

/// When the next pass runs, and why: the pending burst's pass at `min(last + debounce, first +
/// max_delay)` (but not before `last_pass_end + holdoff`), or the resync at `last_pass_end + resync`,
/// whichever is first (the burst's on a tie). A resync pass also covers a pending burst.
fn next_pass(
    cfg: &WatchConfig,
    burst: Option<&Burst>,
    last_pass_end: Instant,
    holdoff: Duration,
) -> (Instant, Trigger) {
    let resync_at = last_pass_end + cfg.resync_period();
    match burst {
        Some(b) => {
            let at = (b.last + cfg.debounce)
                .min(b.first + cfg.max_delay())
                .max(last_pass_end + holdoff);
            if at <= resync_at {
                (at, Trigger::Events { count: b.count })
            } else {
                (resync_at, Trigger::Resync)
            }
        }
        None => (resync_at, Trigger::Resync),
    }
}

/// Watches the current network namespace: [`subscribe`], then [`watch_events`]. The subscription is
/// made before the first pass, so no change after that pass's discovery goes unnoticed.
pub async fn watch<F, Fut, R>(
    cfg: WatchConfig,
    reconcile: F,
    shutdown: impl Future<Output = ()>,
) -> Result<WatchStats>
where
    F: FnMut(Trigger) -> Fut,
    Fut: Future<Output = Result<R>>,
    R: PassReport,
{
    let events = subscribe()?;
    watch_events(cfg, events, reconcile, shutdown).await
}

/// The watch loop over any stream of notifications (each item counts as one, whatever it is): runs
/// `reconcile(Trigger::Start)`, then a pass per debounced burst and per resync as described in the
/// [module docs](self), until `shutdown` resolves (checked between passes); returns what it did.
/// Fails only if the stream ends (the subscription died: better to exit and be restarted than to watch
/// blind).
pub async fn watch_events<S, F, Fut, R>(
    cfg: WatchConfig,
    events: S,
    mut reconcile: F,
    shutdown: impl Future<Output = ()>,
) -> Result<WatchStats>
where
    S: Stream + Unpin,
    F: FnMut(Trigger) -> Fut,
    Fut: Future<Output = Result<R>>,
    R: PassReport,
{
    let mut events = events;
    tokio::pin!(shutdown);
    let mut stats = WatchStats::default();
    let mut streak: u32 = 0;
    let mut failing: Option<String> = None;

    pass(&mut reconcile, Trigger::Start, &mut stats, &mut failing).await;
    let mut last_end = Instant::now();
    let mut burst: Option<Burst> = None;

    loop {
        let (at, trigger) = next_pass(&cfg, burst.as_ref(), last_end, holdoff(&cfg, streak));
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            ev = events.next() => {
                let Some(_) = ev else {
                    return Err(Error::Netlink(
                        "the netlink notification stream ended; the watch cannot see changes any more"
                            .into(),
                    ));
                };
                // Take everything already queued at once.
                let mut n = 1;
                while let Some(Some(_)) = events.next().now_or_never() {
                    n += 1;
                }
                stats.events += n;
                let now = Instant::now();
                match &mut burst {
                    Some(b) => b.add(now, n),
                    None => burst = Some(Burst::new(now, n)),
                }
            }
            _ = tokio::time::sleep_until(at) => {
                burst = None;
                let changed = pass(&mut reconcile, trigger, &mut stats, &mut failing).await;
                last_end = Instant::now();
                match trigger {
                    Trigger::Events { .. } if changed => {
                        streak = streak.saturating_add(1);
                        if streak == FIGHT_STREAK {
                            eprintln!(
                                "plumber watch: the node keeps changing right after each repair (another \
                                 agent managing the same links?); backing off up to the resync period"
                            );
                        }
                    }
                    Trigger::Events { .. } => streak = 0,
                    // A resync says nothing about a fight; it does not end a streak either.
                    _ => {}
                }
            }
        }
    }
    Ok(stats)
}

/// Runs one pass, accounts for it and logs it; returns whether it may have changed the node (and so
/// caused notifications): it made writes, or it failed in an apply that rolls back. A failure that made
/// no change (a plan error such as a missing NIC, a failed dump) does not count, so that unrelated
/// notifications keep retrying it without backoff. `failing` is the error of the previous pass, if it
/// failed: the same error again is not logged again (a missing NIC on a busy node would otherwise log
/// on every notification burst), and the first success after failures says so.
async fn pass<F, Fut, R>(
    reconcile: &mut F,
    trigger: Trigger,
    stats: &mut WatchStats,
    failing: &mut Option<String>,
) -> bool
where
    F: FnMut(Trigger) -> Fut,
    Fut: Future<Output = Result<R>>,
    R: PassReport,
{
    stats.passes += 1;
    match trigger {
        Trigger::Events { .. } => stats.event_passes += 1,
        Trigger::Resync => stats.resync_passes += 1,
        Trigger::Start => {}
    }
    match reconcile(trigger).await {
        Ok(applied) => {
            if failing.take().is_some() {
                eprintln!("plumber watch: {trigger}: reconciled again");
            }
            let writes = applied.writes();
            stats.writes += writes;
            if writes > 0 {
                stats.repairs += 1;
                eprintln!(
                    "plumber watch: {trigger}: made {writes} writes: {}",
                    applied.summary()
                );
            }
            writes > 0
        }
        Err(e) => {
            stats.errors += 1;
            let msg = e.to_string();
            if failing.as_deref() != Some(msg.as_str()) {
                eprintln!(
                    "plumber watch: {trigger}: reconcile failed (retried on the next change or \
                     resync; logged again only if the error changes): {msg}"
                );
            }
            *failing = Some(msg.clone());
            stats.last_error = Some(msg);
            matches!(e, Error::Apply(_) | Error::SysfsApply(_))
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT: the `shutdown` of a watch run by the CLI. The handlers are
/// installed by this call, not when the future is first polled, so call it (inside the runtime) before
/// [`watch`] starts: a signal that arrives during the first pass is then not lost, and ends the watch
/// when that pass is done. Once installed they stay for the life of the process (tokio's rule).
pub fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| Error::io("handling SIGTERM", e))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::io("handling SIGINT", e))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// One pass against the kernel: discover, plan against `desired`, apply (rolling back on failure).
/// Makes no write when nothing drifted.
pub async fn reconcile_netlink(handle: &Handle, desired: &NodeConfig) -> Result<Applied> {
    let current = netlink::discover(handle).await?;
    let ops = crate::node::plan::plan(desired, &current)?;
    if ops.is_empty() {
        return Ok(Applied::default());
    }
    netlink::apply(handle, &ops).await
}

#[cfg(test)]
mod tests {
    //! The loop on tokio's paused clock (time advances only when every task waits), with a fake
    //! notification stream and fake passes: no root, no kernel.

    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use futures::channel::mpsc;
    use tokio::time::sleep;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn cfg(debounce: u64, resync: u64) -> WatchConfig {
        WatchConfig {
            debounce: ms(debounce),
            resync: ms(resync),
        }
    }

    fn applied(writes: usize) -> Result<Applied> {
        Ok(Applied {
            ops: vec![],
            writes,
        })
    }

    // --- the pure timing decisions ---

    #[test]
    fn without_events_the_next_pass_is_the_resync() {
        let t = Instant::now();
        assert_eq!(
            next_pass(&cfg(100, 5000), None, t, Duration::ZERO),
            (t + ms(5000), Trigger::Resync)
        );
        // A zero resync would spin: it is floored.
        assert_eq!(
            next_pass(&cfg(100, 0), None, t, Duration::ZERO),
            (t + MIN_RESYNC, Trigger::Resync)
        );
    }

    #[test]
    fn a_burst_runs_debounce_after_its_last_event_but_at_most_4x_after_its_first() {
        let t = Instant::now();
        let c = cfg(100, 60_000);
        let b = Burst {
            first: t + ms(1000),
            last: t + ms(1150),
            count: 4,
        };
        assert_eq!(
            next_pass(&c, Some(&b), t, Duration::ZERO),
            (t + ms(1250), Trigger::Events { count: 4 })
        );
        let noisy = Burst {
            first: t + ms(1000),
            last: t + ms(1390),
            count: 40,
        };
        assert_eq!(
            next_pass(&c, Some(&noisy), t, Duration::ZERO),
            (t + ms(1400), Trigger::Events { count: 40 })
        );
    }

    #[test]
    fn a_holdoff_delays_a_burst_and_a_due_resync_covers_it() {
        let t = Instant::now();
        let c = cfg(100, 1000);
        let b = Burst {
            first: t + ms(10),
            last: t + ms(10),
            count: 1,
        };
        assert_eq!(
            next_pass(&c, Some(&b), t, ms(400)),
            (t + ms(400), Trigger::Events { count: 1 })
        );
        // On a tie the burst's pass wins (it says why); past the resync, the resync runs.
        assert_eq!(
            next_pass(&c, Some(&b), t, ms(1000)),
            (t + ms(1000), Trigger::Events { count: 1 })
        );
        assert_eq!(
            next_pass(&cfg(100, 50), Some(&b), t, Duration::ZERO),
            (t + ms(50), Trigger::Resync)
        );
    }

    #[test]
    fn the_holdoff_doubles_from_the_fifth_change_in_a_row_up_to_the_resync() {
        let c = cfg(100, 1000);
        let h: Vec<u64> = (0..11).map(|s| holdoff(&c, s).as_millis() as u64).collect();
        assert_eq!(h, [0, 0, 0, 0, 0, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(holdoff(&c, u32::MAX), ms(1000));
    }

    // --- the loop ---

    type Log = Rc<RefCell<Vec<(Duration, Trigger)>>>;

    /// Runs the watch with `behave(trigger) -> (result, notifications the pass itself causes)` as the
    /// pass, while `scenario(events)` plays; the watch shuts down when the scenario ends. Returns the
    /// stats and the passes with their times since the start.
    async fn sim<S, SF>(
        c: WatchConfig,
        mut behave: impl FnMut(Trigger) -> (Result<Applied>, usize),
        scenario: S,
    ) -> (WatchStats, Vec<(Duration, Trigger)>)
    where
        S: FnOnce(mpsc::UnboundedSender<()>) -> SF,
        SF: Future<Output = ()>,
    {
        let t0 = Instant::now();
        let (tx, rx) = mpsc::unbounded::<()>();
        let log: Log = Rc::default();
        let l = log.clone();
        let own = tx.clone();
        let reconcile = move |trigger: Trigger| {
            l.borrow_mut().push((t0.elapsed(), trigger));
            let (r, n) = behave(trigger);
            for _ in 0..n {
                own.unbounded_send(()).unwrap();
            }
            async move { r }
        };
        let stats = watch_events(c, rx, reconcile, scenario(tx)).await.unwrap();
        let log = log.borrow().clone();
        (stats, log)
    }

    fn send(tx: &mpsc::UnboundedSender<()>, n: usize) {
        for _ in 0..n {
            tx.unbounded_send(()).unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_debounced_into_one_pass() {
        let (stats, log) = sim(
            cfg(100, 3_600_000),
            |_| (applied(0), 0),
            |tx| async move {
                sleep(ms(1000)).await;
                for _ in 0..5 {
                    send(&tx, 1);
                    sleep(ms(30)).await;
                }
                sleep(ms(2000)).await;
            },
        )
        .await;
        // The last event at 1120 ms, the pass 100 ms later.
        assert_eq!(
            log,
            [
                (ms(0), Trigger::Start),
                (ms(1220), Trigger::Events { count: 5 })
            ]
        );
        assert_eq!((stats.passes, stats.event_passes, stats.events), (2, 1, 5));
    }

    #[tokio::test(start_paused = true)]
    async fn continuous_noise_cannot_starve_the_watch() {
        let (_, log) = sim(
            cfg(100, 3_600_000),
            |_| (applied(0), 0),
            |tx| async move {
                sleep(ms(1000)).await;
                // An event every 50 ms for 3 s: never 100 ms of quiet.
                for _ in 0..60 {
                    send(&tx, 1);
                    sleep(ms(50)).await;
                }
            },
        )
        .await;
        let passes: Vec<Duration> = log[1..].iter().map(|(t, _)| *t).collect();
        assert!(passes.len() >= 6, "{log:?}");
        // Each burst's pass at most 4 × debounce after its first event (the first at 1000 ms; the
        // next burst starts with the first event after a pass, within 50 ms).
        assert_eq!(passes[0], ms(1400));
        for w in passes.windows(2) {
            assert!(w[1] - w[0] <= ms(450), "{log:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_resync_runs_without_events() {
        let (stats, log) = sim(
            cfg(100, 1000),
            |_| (applied(0), 0),
            |_tx| async move { sleep(ms(3500)).await },
        )
        .await;
        assert_eq!(
            log,
            [
                (ms(0), Trigger::Start),
                (ms(1000), Trigger::Resync),
                (ms(2000), Trigger::Resync),
                (ms(3000), Trigger::Resync)
            ]
        );
        assert_eq!(stats.resync_passes, 3);
    }

    /// The normal life of the watch: a pass that repairs causes notifications (its own writes), which
    /// trigger one more pass; that one finds nothing to do, writes nothing, causes nothing, and the
    /// watch goes quiet until the next outside change.
    #[tokio::test(start_paused = true)]
    async fn a_repair_costs_one_more_pass_and_then_the_watch_goes_quiet() {
        let drifted = Rc::new(Cell::new(true));
        let d = drifted.clone();
        let (stats, log) = sim(
            cfg(100, 3_600_000),
            move |_| {
                if d.replace(false) {
                    (applied(3), 3)
                } else {
                    (applied(0), 0)
                }
            },
            |tx| {
                let drifted = drifted.clone();
                async move {
                    sleep(ms(5000)).await;
                    // Someone changes the node: one notification.
                    drifted.set(true);
                    send(&tx, 1);
                    sleep(ms(10_000)).await;
                }
            },
        )
        .await;
        assert_eq!(
            log,
            [
                (ms(0), Trigger::Start),
                (ms(100), Trigger::Events { count: 3 }),
                (ms(5100), Trigger::Events { count: 1 }),
                (ms(5200), Trigger::Events { count: 3 }),
            ]
        );
        assert_eq!((stats.writes, stats.repairs, stats.errors), (6, 2, 0));
    }

    /// Something undoes every repair at once (every pass writes and causes a notification): the watch
    /// backs off to one pass per resync period instead of spinning.
    #[tokio::test(start_paused = true)]
    async fn a_fight_backs_off_to_the_resync_period() {
        let (stats, log) = sim(
            cfg(100, 10_000),
            |_| (applied(1), 1),
            |_tx| async move { sleep(ms(60_000)).await },
        )
        .await;
        // Without the backoff: a pass every 100 ms, 600 of them.
        assert!(stats.passes < 20, "{log:?}");
        let gaps: Vec<u128> = log
            .windows(2)
            .map(|w| (w[1].0 - w[0].0).as_millis())
            .collect();
        // The start pass and five event passes as usual, then 2, 4, 8, ... × debounce, capped.
        assert_eq!(
            gaps[..12],
            [100, 100, 100, 100, 100, 200, 400, 800, 1600, 3200, 6400, 10_000],
            "{log:?}"
        );
        assert!(gaps[12..].iter().all(|g| *g == 10_000), "{log:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_pass_ends_the_backoff() {
        let n = Rc::new(Cell::new(0));
        let k = n.clone();
        let (_, log) = sim(
            cfg(100, 3_600_000),
            move |_| {
                k.set(k.get() + 1);
                // Seven passes in a row change the node, then it holds.
                if k.get() <= 7 {
                    (applied(1), 1)
                } else {
                    (applied(0), 0)
                }
            },
            |tx| async move {
                sleep(ms(10_000)).await;
                send(&tx, 1);
                sleep(ms(1000)).await;
            },
        )
        .await;
        let times: Vec<u128> = log.iter().map(|(t, _)| t.as_millis()).collect();
        // Backing off after five event passes in a row changed the node (200, then 400 ms); the
        // eighth pass is quiet, and the later change is handled at once.
        assert_eq!(
            times,
            [0, 100, 200, 300, 400, 500, 700, 1100, 10_100],
            "{log:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_pass_is_reported_and_the_next_trigger_retries() {
        let n = Rc::new(Cell::new(0));
        let k = n.clone();
        let (stats, log) = sim(
            cfg(100, 2000),
            move |_| {
                k.set(k.get() + 1);
                match k.get() {
                    1 | 3 => (Err(Error::Netlink("dumping links: boom".into())), 0),
                    _ => (applied(0), 0),
                }
            },
            |tx| async move {
                sleep(ms(500)).await;
                send(&tx, 1);
                sleep(ms(4500)).await;
            },
        )
        .await;
        assert_eq!(
            log,
            [
                // Fails; the next change retries.
                (ms(0), Trigger::Start),
                (ms(600), Trigger::Events { count: 1 }),
                // Fails; with no change, the next resync retries.
                (ms(2600), Trigger::Resync),
                (ms(4600), Trigger::Resync),
            ]
        );
        assert_eq!(stats.errors, 2);
        assert_eq!(
            stats.last_error.as_deref(),
            Some("netlink: dumping links: boom")
        );
    }

    /// A plan error (a missing NIC) changes nothing: unrelated notifications keep retrying it at the
    /// normal pace. A failed apply rolled back what it did, which is a change: that backs off.
    #[tokio::test(start_paused = true)]
    async fn only_failures_that_changed_the_node_back_off() {
        let churn = |tx: mpsc::UnboundedSender<()>| async move {
            for _ in 0..10 {
                sleep(ms(300)).await;
                send(&tx, 1);
            }
            sleep(ms(150)).await;
        };
        let missing = || Error::Plan(crate::node::plan::PlanError::MissingDevice("n0".into()));
        let (stats, log) = sim(cfg(100, 3_600_000), |_| (Err(missing()), 0), churn).await;
        let times: Vec<u128> = log.iter().map(|(t, _)| t.as_millis()).collect();
        assert_eq!(
            times,
            [0, 400, 700, 1000, 1300, 1600, 1900, 2200, 2500, 2800, 3100]
        );
        assert_eq!(stats.errors, 11);

        let rolled_back = || {
            Error::Apply(Box::new(crate::node::Failed {
                at: "add address 10.0.0.2/24 to p0".into(),
                error: "File exists".into(),
                rolled_back: vec!["set mtu of p0: 9000 -> 1500".into()],
                rollback_failed: vec![],
                rollback: "rolled back the 1 changes made before it".into(),
            }))
        };
        // Each failed apply's own writes cause a notification.
        let (stats, log) = sim(cfg(100, 3_600_000), |_| (Err(rolled_back()), 2), churn).await;
        assert!(log.len() < 11, "{log:?}");
        assert_eq!(stats.errors, log.len());
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_watch_without_running_a_pending_pass() {
        let (stats, log) = sim(
            cfg(100, 1000),
            |_| (applied(0), 0),
            |tx| async move {
                sleep(ms(300)).await;
                send(&tx, 2);
                sleep(ms(50)).await;
            },
        )
        .await;
        assert_eq!(log, [(ms(0), Trigger::Start)]);
        assert_eq!((stats.passes, stats.events), (1, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_the_notifications_is_an_error() {
        let (tx, rx) = mpsc::unbounded::<()>();
        drop(tx);
        let r = watch_events(
            cfg(100, 1000),
            rx,
            |_| async { applied(0) },
            std::future::pending(),
        )
        .await;
        assert!(matches!(r, Err(Error::Netlink(m)) if m.contains("stream ended")));
    }

    #[tokio::test]
    async fn sigterm_resolves_the_shutdown_signal() {
        let stop = shutdown_signal().unwrap();
        let pid = std::process::id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(10), stop)
            .await
            .expect("no shutdown after SIGTERM");
    }

    #[test]
    fn triggers_read_well() {
        assert_eq!(Trigger::Start.to_string(), "start");
        assert_eq!(Trigger::Events { count: 1 }.to_string(), "1 netlink event");
        assert_eq!(Trigger::Events { count: 7 }.to_string(), "7 netlink events");
        assert_eq!(Trigger::Resync.to_string(), "resync");
    }
}
