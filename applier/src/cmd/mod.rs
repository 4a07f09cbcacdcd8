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
/// worker, [`trim_heap`] reaches it (BENCHMARKS.md, "Agent footprint").
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

/// Gives the heap's free pages back to the kernel on the calling thread (the agent runs it after each
/// pass on the main thread and on the runtime's worker): frees that other threads made into this
/// thread's pages are collected, and pages left empty are returned at once. mimalloc otherwise does
/// this on the thread's next allocations, which an idle agent does not make. Each call costs a walk
/// over the thread's pages (well under a millisecond), once a pass.
fn trim_heap() {
    // SAFETY: collects the calling thread's own heap; no pointer is passed.
    unsafe { libmimalloc_sys::mi_collect(true) }
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
fn lean_memory() {
    // SAFETY: prctl with constant arguments; mi_option_set only stores the value (called before any
    // other thread exists).
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_MINIMAL_PURGE_SIZE, 64);
    }
}
