//! One file per subcommand: its arguments and how it runs.

pub(crate) mod agent;
pub(crate) mod apply;
pub(crate) mod completions;
pub(crate) mod man;
pub(crate) mod migrate;
pub(crate) mod rollup;
pub(crate) mod show;

/// Prints `e` with its causes on one line, each once, as `plumber: ...` (plumber_render::report).
fn report(e: &(dyn std::error::Error + 'static)) {
    eprintln!("plumber: {}", plumber_render::report::with_causes(e));
}

/// How to reach OVSDB: the system database, or a socket given on the command line (made absolute:
/// ovs-vsctl resolves a relative `unix:` path against OVS's run directory, not ours).
fn ovsdb(socket: Option<&std::path::Path>) -> plumber::node::ovs::Ovsdb {
    match socket {
        Some(s) => plumber::node::ovs::Ovsdb::at_socket(
            "ovs-vsctl",
            std::path::absolute(s).unwrap_or_else(|_| s.to_path_buf()),
        ),
        None => plumber::node::ovs::Ovsdb::default(),
    }
}

/// Runs a long-running service (`what`: "agent", "rollup") until it returns: its memory setup, its
/// logging, its runtime; the exit code (0; 1 when it failed, said once through the log, JSON when asked;
/// 2 for a bad log filter).
fn run_service<F>(
    what: &str,
    log_format: plumber::cluster::agent::config::LogFormat,
    log: &str,
    service: F,
) -> u8
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    lean_memory();
    if let Err(e) = plumber::cluster::agent::config::init_logging(log_format, log) {
        report(&*e);
        return 2;
    }
    let rt = match service_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            report(&e);
            return 1;
        }
    };
    match rt.block_on(service) {
        Ok(()) => 0,
        Err(e) => {
            let error = plumber_render::report::with_causes(&*e);
            tracing::error!(error = %error, "plumber {what} failed");
            1
        }
    }
}

/// The runtime of the long-running services: one worker runs the watchers, the health server and
/// the netlink connections while the agent's pass (which may block on sysfs or ovs-vsctl) runs on the
/// main thread. One, not more: memory a thread allocated and another freed goes back to the allocator
/// only when the allocating thread next runs the allocator, and an idle worker does not; with one
/// worker, [`crate::allocator::trim`] reaches it (BENCHMARKS.md, "Agent footprint").
fn service_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

/// Options in `mi_option_e` (include/mimalloc.h of mimalloc v3, which libmimalloc-sys builds by
/// default; v2 numbers some differently; libmimalloc-sys names only some of them).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;
const MI_OPTION_MINIMAL_PURGE_SIZE: libmimalloc_sys::mi_option_t = 44;

/// What the agent runs after each pass, on both threads that ran it: [`crate::allocator::trim`] (glibc's
/// `malloc_trim(0)` in the agent: every free page of every arena back to the kernel, well under a
/// millisecond), and
/// [`page_out_code`] once the agent has been idle for [`QUIET`] since ([`page_out_when_quiet`]).
fn after_pass() {
    crate::allocator::trim();
    page_out_when_quiet(pass_ended());
}

/// How long the agent must have run no pass before its code is paged out. Its passes come from the
/// resync timer (once a minute by default) and from the kernel's link, address and route events, which
/// on a busy node (pods started and stopped, each with its veth) may come every few seconds. Each
/// page-out makes the next pass read the code back from the binary's file, so it is done only when the
/// agent has been idle this long: while passes come closer together the code stays resident, and the
/// reading back happens at most once per [`QUIET`].
const QUIET: std::time::Duration = std::time::Duration::from_secs(20);

/// Passes ended so far (each of a pass's two calls of [`after_pass`] counts).
static PASSES_ENDED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts a pass's end; returns its number.
fn pass_ended() -> u64 {
    PASSES_ENDED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
}

/// Whether no pass has ended since the one numbered `n`.
fn no_pass_since(n: u64) -> bool {
    PASSES_ENDED.load(std::sync::atomic::Ordering::Relaxed) == n
}

/// Pages the code out [`QUIET`] after pass `n` ended if no pass ended since (a timer task on the
/// agent's runtime; outside a runtime, nothing).
fn page_out_when_quiet(n: u64) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    rt.spawn(async move {
        tokio::time::sleep(QUIET).await;
        if no_pass_since(n) {
            page_out_code();
            crate::allocator::trim();
        }
    });
}

/// Asks the kernel to reclaim the pages of this executable that the process has mapped
/// (`madvise(MADV_PAGEOUT)` on its read-only and executable mappings): the code and read-only data a
/// pass ran through (≈ 10 MB of a 1000-link pass) stay mapped, and counted in the RSS, while the agent
/// sleeps until the next pass. Reclaimed clean file pages leave the page cache too (so the node gets
/// the memory back, not only the RSS figure), and the next pass reads back what it runs (major faults,
/// from the page cache if another process still has them, else from the image's file). Safe by
/// construction: MADV_PAGEOUT is a reclaim hint, it never discards data (the relocated read-only data's
/// private copies are anonymous and, without swap, stay); pages another process also maps are left
/// alone, and where the process may not page out the file (not its owner, no CAP_FOWNER) or the kernel
/// predates 5.4 nothing happens. BENCHMARKS.md, "Agent footprint".
fn page_out_code() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let exe = exe.as_os_str().to_string_lossy();
    for line in maps.lines() {
        // `start-end perms offset dev inode   path`
        let mut fields = line.splitn(6, ' ');
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let path = fields.nth(3).unwrap_or("").trim_start();
        if path != exe || perms.as_bytes().get(1) == Some(&b'w') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: a reclaim hint on a mapping of this process's own executable, read-only or
        // executable (not writable): its contents stay what they are, whatever the kernel does.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT);
        }
    }
}

/// Keeps a long-running, mostly idle service (the agent, the rollup) small (BENCHMARKS.md, "Agent
/// footprint"): with mimalloc's defaults the agent's RSS grew from ≈ 45 to 90 MB while it slept, because
/// * khugepaged collapsed mimalloc's partly used 2 MiB ranges into transparent huge pages (RSS rising
///   every few seconds with no allocation and no CPU time of the agent's own): THP is turned off for
///   this process (and what it runs), which a DaemonSet can afford — its heap is small and cold;
/// * mimalloc returns freed pages to the kernel only on a later allocation, and an idle agent does not
///   allocate: purging is made immediate (a pass every minute frees its discovery at once), and down
///   to 64 KiB ranges (mimalloc's minimum is 2 MiB wherever the system allows THP, as Debian's and
///   RHEL's `madvise` setting does), with mimalloc's own huge-page advice off.
///
/// The agent has since moved to glibc malloc, and every plumber process turns THP off for itself at its
/// first allocation ([`crate::allocator`]), so what is left here are the rollup's mimalloc options.
fn lean_memory() {
    // SAFETY: mi_option_set only stores the value (called before any other thread exists).
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_MINIMAL_PURGE_SIZE, 64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_paged_out_only_when_no_pass_ended_since() {
        let a = pass_ended();
        assert!(no_pass_since(a));
        // The pass's second call (the worker's), or the next pass.
        let b = pass_ended();
        assert!(!no_pass_since(a));
        assert!(no_pass_since(b));
        // Outside a runtime (this test), nothing is scheduled and nothing fails.
        page_out_when_quiet(b);
    }
}
