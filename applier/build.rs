//! Build script: the commit `plumber --version` names (the renderer's build/version.rs, shared).

include!("../renderer/build/version.rs");

fn main() {
    emit_version(&[
        "applier",
        "renderer",
        "templates",
        "Cargo.toml",
        "Cargo.lock",
    ]);
}
