//! Build script: the commit `plumber-render --version` names (build/version.rs), and the distro profiles
//! compiled in (build/profiles.rs).

include!("build/version.rs");
include!("build/profiles.rs");

fn main() {
    emit_version(&["renderer", "templates", "Cargo.toml", "Cargo.lock"]);
    emit_profiles();
}
