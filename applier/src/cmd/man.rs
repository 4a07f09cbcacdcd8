//! `plumber man [SUBCOMMAND]`: plumber(1) or a subcommand's page (plumber-apply(1)) in roff, generated
//! from the same clap definition the command line is parsed with (main.rs).

use clap::Args;

/// Print plumber's man page (roff), or a subcommand's (`plumber man apply`: plumber-apply(1)), e.g.
/// `plumber man apply | man -l -`.
#[derive(Args)]
pub(crate) struct Man {
    /// A subcommand (show, apply, agent, rollup, ...); without it plumber(1).
    subcommand: Option<String>,
}

/// Prints the man page of `cmd` (plumber's, whose version is `version`); exit code 0, or 2 for an
/// unknown subcommand (a bad command line).
pub(crate) fn run(m: Man, mut cmd: clap::Command, version: &'static str) -> u8 {
    // Built, a subcommand knows its page's name (plumber-apply) and its usage (plumber apply ...).
    cmd.build();
    let page = match &m.subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone().version(version),
            None => {
                let names: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
                eprintln!(
                    "plumber: man: no subcommand {name:?}: write one of {}",
                    names.join(", ")
                );
                return 2;
            }
        },
    };
    let mut out = Vec::new();
    // The footer names the program and its version, for a subcommand's page too.
    let written = clap_mangen::Man::new(page)
        .source(format!("plumber {version}"))
        .render(&mut out)
        .and_then(|()| std::io::Write::write_all(&mut std::io::stdout(), &out));
    match written {
        Ok(()) => 0,
        Err(e) => {
            super::report(&e);
            1
        }
    }
}
