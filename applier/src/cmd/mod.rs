//! One file per subcommand: its arguments and how it runs.

pub mod agent;
pub mod apply;
pub mod rollup;
pub mod show;

/// Prints `e` with its causes on one line, as `plumber: ...`.
pub fn report(e: &dyn std::fmt::Display) {
    eprintln!("plumber: {e:#}");
}

/// How to reach OVSDB: the system database, or a socket given on the command line (made absolute:
/// ovs-vsctl resolves a relative `unix:` path against OVS's run directory, not ours).
pub fn ovsdb(socket: Option<&std::path::Path>) -> plumber::ovs::Ovsdb {
    match socket {
        Some(s) => plumber::ovs::Ovsdb::at_socket(
            "ovs-vsctl",
            std::path::absolute(s).unwrap_or_else(|_| s.to_path_buf()),
        ),
        None => plumber::ovs::Ovsdb::default(),
    }
}
