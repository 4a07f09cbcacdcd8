//! `plumber`, the node applier: `show` prints the node's state as a HostNetwork; `apply` makes the node
//! match the templates that select it (or, with `--dry-run`, prints what it would change); `agent` and
//! `rollup` are the cluster's services; `migrate` switches a cluster from HostPlumber; `completions` and `man` print shell completions and man pages.

// Everything in `cmd` is this binary's own: `pub(crate)` at most.
#![warn(unreachable_pub)]

mod allocator;
mod cmd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

// Discovery allocates a message per link, address and route and frees them at once; mimalloc makes
// that (and the page faults of glibc's growing arena) cheaper: see BENCHMARKS.md, applier. The agent,
// which sleeps between passes, keeps less resident with glibc malloc: allocator.rs.
#[global_allocator]
static GLOBAL: allocator::Allocator = allocator::Allocator;

/// The version `--version` and the man page show: the crate's, and the commit it was built from
/// (build.rs; `unknown` outside a git checkout, as in the image's build).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PLUMBER_COMMIT"), ")");

/// plumber: host networking for Kubernetes nodes, on the node.
#[derive(Parser)]
#[command(
    name = "plumber",
    version = VERSION,
    after_help = "Examples:\n  plumber show\n  plumber show -o json --node-name worker-1 > worker-1.json\n  plumber-render --distro rhel9 --inventory <(plumber show) templates/\n  plumber apply --dry-run -f templates/ --node-labels rack=r1\n  plumber apply -f templates/ --node-labels rack=r1\n\nExit codes: 0 done (or nothing to do), 1 refused or failed before changing anything, 2 bad command\nline, 3 failed and rolled back (the node is as it was), 4 failed and the rollback failed too."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Show(cmd::show::Show),
    Apply(cmd::apply::Apply),
    Agent(cmd::agent::Agent),
    Rollup(cmd::rollup::Rollup),
    Migrate(cmd::migrate::Migrate),
    Completions(cmd::completions::Completions),
    Man(cmd::man::Man),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // Output-only commands end quietly when their reader goes away (`plumber show | head`), as `cat`
    // does, instead of panicking on the closed pipe. Not the ones that change the node or serve: an
    // apply must not be killed half-way by its output, and a server writes to sockets.
    let output_only = match &cli.cmd {
        Cmd::Show(_) | Cmd::Completions(_) | Cmd::Man(_) => true,
        Cmd::Apply(a) => a.prints_only(),
        Cmd::Agent(_) | Cmd::Rollup(_) | Cmd::Migrate(_) => false,
    };
    if output_only {
        // SAFETY: resetting a signal's disposition to its default, before any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let code = match cli.cmd {
        Cmd::Show(c) => cmd::show::run(c),
        Cmd::Apply(c) => cmd::apply::run(c),
        Cmd::Agent(c) => cmd::agent::run(c),
        Cmd::Rollup(c) => cmd::rollup::run(c),
        Cmd::Migrate(c) => cmd::migrate::run(c),
        Cmd::Completions(c) => cmd::completions::run(c, Cli::command()),
        Cmd::Man(c) => cmd::man::run(c, Cli::command(), VERSION),
    };
    ExitCode::from(code)
}
