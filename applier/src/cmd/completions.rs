//! `plumber completions SHELL`: the shell completion script, generated from the same clap definition
//! the command line is parsed with (main.rs), so it names exactly the subcommands and flags there are.

use clap::Args;
use clap_complete::Shell;

/// Print the shell completion script for plumber, e.g. `plumber completions bash >
/// /etc/bash_completion.d/plumber`.
#[derive(Args)]
pub(crate) struct Completions {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

/// Prints the completion script; exit code 0.
pub(crate) fn run(c: Completions, mut cmd: clap::Command) -> u8 {
    clap_complete::generate(c.shell, &mut cmd, "plumber", &mut std::io::stdout());
    0
}
