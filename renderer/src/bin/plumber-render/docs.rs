//! `--completions SHELL` and `--man`: generated from the same clap definition the arguments are
//! parsed with (args.rs), so they name exactly the flags this binary takes.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::args::Args;

/// Prints the completion script for `shell` on standard output.
pub fn completions(shell: Shell) {
    let mut cmd = Args::command();
    clap_complete::generate(shell, &mut cmd, "plumber-render", &mut std::io::stdout());
}

/// Prints the man page, plumber-render(1), in roff on standard output.
pub fn man() -> std::io::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Args::command()).render(&mut out)?;
    std::io::Write::write_all(&mut std::io::stdout(), &out)
}
