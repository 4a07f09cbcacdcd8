//! `plumber`, the node applier and Kubernetes agent. Its discovery, apply and agent commands are the next
//! pieces of work; until they land this binary says so instead of pretending.

fn main() -> std::process::ExitCode {
    eprintln!(
        "plumber: the node applier (show, apply, agent) is not built yet; \
         use plumber-render {} to render files",
        env!("CARGO_PKG_VERSION")
    );
    std::process::ExitCode::from(1)
}
