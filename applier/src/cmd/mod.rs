//! One file per subcommand: its arguments and how it runs.

pub mod apply;
pub mod show;

/// Prints `e` with its causes on one line, as `plumber: ...`.
pub fn report(e: &dyn std::fmt::Display) {
    eprintln!("plumber: {e:#}");
}
