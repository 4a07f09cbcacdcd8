//! Build script: the commit `plumber-render --version` names (build/version.rs).

include!("build/version.rs");

fn main() {
    emit_version(&["renderer", "templates", "Cargo.toml", "Cargo.lock"]);
}
